"""Run the page in headless Chromium with WebGPU: used by the e2e tests and the benchmarks.

The browser is $PYAPP_CHROMIUM, else a `chromium` on PATH (Debian's gives WebGPU on
SwiftShader, a CPU Vulkan), else Playwright's own. Flags as measured in docs/design.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

BOOT_TIMEOUT_MS = 180_000
CHROMIUM_ARGS = [
    "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
    "--use-webgpu-adapter=swiftshader", "--disable-vulkan-surface",
    # SwiftShader runs the GPU's work on these 2 shared cores: a long kernel under load must not
    # look like a hung GPU process to Chromium's watchdog
    "--disable-gpu-watchdog",
    # this machine has no network: keep Chromium from trying
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]


def chromium_executable() -> str | None:
    """$PYAPP_CHROMIUM, else a chromium on PATH; None lets Playwright use its own browser."""
    path = os.environ.get("PYAPP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and Path(path).exists() else None


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True)


class BootedPage:
    """A page that reached data-state=ready; `py` runs Python inside it."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def py(self, code: str, timeout_ms: int | None = None, **args):
        """Run `code` in a fresh namespace in Pyodide; it sets RESULT (JSON-able), which is returned."""
        src = (f"import json\nARGS = json.loads({json.dumps(json.dumps(args))})\nRESULT = None\n"
               + textwrap.dedent(code) + "\njson.dumps(RESULT)")
        if timeout_ms is not None:
            self.page.set_default_timeout(timeout_ms)
        out = self.page.evaluate(
            """async (src) => {
                 const ns = pyodide.globals.get("dict")();
                 try { return await pyodide.runPythonAsync(src, { globals: ns }); }
                 finally { ns.destroy(); }
               }""", src)
        return json.loads(out)


def boot(page, url: str, timeout_ms: int = BOOT_TIMEOUT_MS) -> BootedPage:
    """Open url and wait for the page to leave "loading"; it must reach "ready"."""
    booted = BootedPage(page)
    page.goto(url)
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=timeout_ms)
    state = page.evaluate("document.body.dataset.state")
    if state != "ready":
        raise RuntimeError(f"page did not boot: {page.inner_text('#status-box')}")
    return booted


def boot_new_page(browser, url: str, timeout_ms: int = BOOT_TIMEOUT_MS, **page_args) -> BootedPage:
    """boot() in a new page of browser; a renderer that crashes while booting gets one more page.

    Seen once in ~900 boots on SwiftShader (CI of stop 31): the renderer died mid-boot. A new page
    is a new renderer process; a second crash is ours to see, so it is raised.
    """
    from playwright.sync_api import Error as PlaywrightError

    page = browser.new_page(**page_args)
    try:
        return boot(page, url, timeout_ms)
    except PlaywrightError as e:
        if "crashed" not in str(e):
            raise
        print("pyapp: Chromium's renderer crashed while booting the page; retrying once", file=sys.stderr)
        page.close()
    return boot(browser.new_page(**page_args), url, timeout_ms)


def install_module(booted: BootedPage, path: Path):
    """Copy a helper module into Pyodide's file system and make it importable."""
    booted.page.evaluate(
        """([name, src]) => { pyodide.FS.mkdirTree('/helpers'); pyodide.FS.writeFile('/helpers/' + name, src);
                              pyodide.runPython("import sys; '/helpers' in sys.path or sys.path.insert(0, '/helpers')"); }""",
        [path.name, path.read_text()])


@contextmanager
def headless_page(site, path: str = "/", timeout_ms: int = BOOT_TIMEOUT_MS):
    """Serve `site` on a free port, boot the page in headless Chromium, yield a BootedPage."""
    from playwright.sync_api import sync_playwright

    from .serve import serve_in_thread

    server, url = serve_in_thread(site)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            try:
                yield boot_new_page(browser, url + path, timeout_ms)
            finally:
                browser.close()
    finally:
        server.shutdown()
