"""The README's pictures of the page: `python tests_e2e/screenshots.py` boots the page with
SmolLM2 in headless Chromium (the e2e harness), asks for a little code, and writes
web/screenshot.png (desktop) and web/screenshot-narrow.png (400 px wide)."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp.export import default_model, export  # noqa: E402
from pyapp.headless import boot, launch  # noqa: E402
from pyapp.serve import Site, serve_in_thread  # noqa: E402

QUESTION = "Write a Python function that adds two numbers."


def main():
    server, url = serve_in_thread(Site(mounts={"model": export(default_model())}, config={"model": "/files/model/"}))
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            boot(page, url + "/")
            for field, value in (("#temperature", "0"), ("#max-tokens", "64")):
                page.fill(field, value)
            page.fill("#prompt", QUESTION)
            page.press("#prompt", "Enter")
            page.wait_for_function("document.getElementById('stats').dataset.reason", timeout=600_000)
            page.fill("#prompt", "And one that multiplies them?")
            page.screenshot(path=str(ROOT / "web" / "screenshot.png"), full_page=True)
            page.set_viewport_size({"width": 400, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= 400, "the page scrolls sideways at 400 px"
            page.screenshot(path=str(ROOT / "web" / "screenshot-narrow.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
