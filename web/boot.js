// Boots Pyodide, installs micropip, Jinja2 and our wheel (all served locally), then hands over to
// Python: everything after `app.main` is pyapp.runtime, written in Python.
const config = JSON.parse(document.getElementById("pyapp-config").textContent);
const $ = (id) => document.getElementById(id);

function fail(message) {
  document.body.dataset.state = "error";
  $("status").textContent = "Could not start.";
  $("error").textContent = message;
  $("error").hidden = false;
}

// The config's URLs are paths from the server's root (pyapp.serve) or relative to the page (a
// static site from pyapp.build, hosted under any prefix): both resolve against the page here.
const resolve = (url) => new URL(url, document.baseURI).href;

async function boot() {
  $("status").textContent = "Loading Python (Pyodide)…";
  const pyodideURL = resolve(config.pyodide);
  const { loadPyodide } = await import(pyodideURL + "pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: pyodideURL });
  window.pyodide = pyodide; // the e2e tests drive the booted interpreter
  $("status").textContent = "Installing pyapp…";
  await pyodide.loadPackage(resolve(config.micropip));
  const micropip = pyodide.pyimport("micropip");
  // deps=False: the page needs the standard library, Jinja2 and MarkupSafe (chat templates);
  // pyapp's listed deps are host-side.
  const urls = [...config.libraries, config.wheel].map(resolve);
  await micropip.install.callKwargs(urls, { deps: false });
  const app = pyodide.pyimport("pyapp.runtime.page.app");
  await app.main(pyodide.toPy(config));
}

boot().catch((err) => {
  console.error(err);
  fail(String(err && err.message ? err.message : err));
});
