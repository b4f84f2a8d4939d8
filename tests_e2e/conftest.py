"""Playwright harness: one server, one headless Chromium with WebGPU, one booted page.

The browser is Debian's chromium (or $PYAPP_CHROMIUM) on SwiftShader's Vulkan, flags as
measured in shared/DESIGN.md. Every test fails if the page raised an uncaught error.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from pyapp.serve import Site, serve_in_thread

HERE = Path(__file__).resolve().parent
BOOT_TIMEOUT_MS = 180_000
CHROMIUM_ARGS = [
    "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
    "--use-webgpu-adapter=swiftshader", "--disable-vulkan-surface",
    # this machine has no network: keep Chromium from trying
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]


def chromium_executable() -> str | None:
    """$PYAPP_CHROMIUM, else a chromium on PATH; None lets Playwright use its own browser."""
    path = os.environ.get("PYAPP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and Path(path).exists() else None


LARGE_GOLDENS = HERE.parent / ".cache" / "goldens"  # written by `make test` (make_goldens.py --only large)


def golden_mounts() -> dict[str, Path]:
    """Served as /files/<mount>/: goldens/, the generated large cases, and $PYAPP_EXTRA_GOLDENS."""
    mounts = {"goldens": HERE / "goldens"}
    if LARGE_GOLDENS.is_dir():
        mounts["large"] = LARGE_GOLDENS
    extra = os.environ.get("PYAPP_EXTRA_GOLDENS")
    if extra:
        mounts["extra"] = Path(extra)
    return mounts


def golden_cases(prefix: str) -> list[str]:
    """'mount/name' of every golden file starting with prefix, across all mounts (test ids)."""
    return [f"{mount}/{p.stem}" for mount, folder in golden_mounts().items()
            for p in sorted(folder.glob(f"{prefix}*.safetensors"))]


def golden_path(case: str) -> Path:
    mount, name = case.split("/")
    return golden_mounts()[mount] / f"{name}.safetensors"


class BootedPage:
    """A page that reached data-state=ready; `py` runs Python inside it."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def py(self, code: str, **args):
        """Run `code` in a fresh namespace in Pyodide; it sets RESULT (JSON-able), which is returned."""
        src = (f"import json\nARGS = json.loads({json.dumps(json.dumps(args))})\nRESULT = None\n"
               + textwrap.dedent(code) + "\njson.dumps(RESULT)")
        out = self.page.evaluate(
            """async (src) => {
                 const ns = pyodide.globals.get("dict")();
                 try { return await pyodide.runPythonAsync(src, { globals: ns }); }
                 finally { ns.destroy(); }
               }""", src)
        return json.loads(out)


def boot(page, url: str) -> BootedPage:
    booted = BootedPage(page)
    page.goto(url)
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=BOOT_TIMEOUT_MS)
    state = page.evaluate("document.body.dataset.state")
    assert state == "ready", f"page did not boot: {page.inner_text('#status-box')}"
    helpers = (HERE / "inpage" / "e2e.py").read_text()
    page.evaluate("""(src) => { pyodide.FS.mkdirTree('/e2e'); pyodide.FS.writeFile('/e2e/e2e.py', src);
                                pyodide.runPython("import sys; sys.path.insert(0, '/e2e')"); }""", helpers)
    return booted


@pytest.fixture(scope="session")
def server():
    server, url = serve_in_thread(Site(mounts=golden_mounts()))
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def booted_page(browser, server) -> BootedPage:
    page = browser.new_page()
    booted = boot(page, server + "/")
    yield booted
    page.close()


@pytest.fixture
def app(booted_page) -> BootedPage:
    """The shared booted page; fails the test on any uncaught page error it caused."""
    before = len(booted_page.errors)
    yield booted_page
    new = booted_page.errors[before:]
    assert not new, f"uncaught page errors: {new}"


def decode(b64: str, dtype="float32") -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=dtype)


def assert_close(actual, expected, atol=1e-4, rtol=1e-3, what="output"):
    """Per element: passes if abs err <= atol OR rel err <= rtol (rel denominator floored at 1e-6)."""
    actual = np.asarray(actual, dtype=np.float64).reshape(-1)
    expected = np.asarray(expected, dtype=np.float64).reshape(-1)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual - expected)
    rel = err / np.maximum(np.abs(expected), 1e-6)
    bad = ~((err <= atol) | (rel <= rtol))
    if bad.any():
        i = int(np.argmax(np.where(bad, err, -1)))
        raise AssertionError(f"{what}: {int(bad.sum())}/{bad.size} elements off; worst at {i}: "
                             f"got {actual[i]!r}, want {expected[i]!r} (abs {err[i]:.3g}, rel {rel[i]:.3g})")
