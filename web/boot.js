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

async function boot() {
  $("status").textContent = "Loading Python (Pyodide)…";
  const { loadPyodide } = await import(config.pyodide + "pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: config.pyodide });
  window.pyodide = pyodide; // the e2e tests drive the booted interpreter
  $("status").textContent = "Installing pyapp…";
  await pyodide.loadPackage(config.micropip);
  const micropip = pyodide.pyimport("micropip");
  // deps=False: the page needs the standard library, Jinja2 and MarkupSafe (chat templates);
  // pyapp's listed deps are host-side.
  const urls = [...config.libraries, config.wheel].map((u) => new URL(u, location.href).href);
  await micropip.install.callKwargs(urls, { deps: false });
  const app = pyodide.pyimport("pyapp.runtime.app");
  await app.main(pyodide.toPy(config));
}

boot().catch((err) => {
  console.error(err);
  fail(String(err && err.message ? err.message : err));
});
