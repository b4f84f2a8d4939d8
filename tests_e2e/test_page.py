"""The page itself: boots offline to "ready", shows its environment, and explains a missing WebGPU."""

from urllib.parse import urlsplit

from conftest import BOOT_TIMEOUT_MS


def test_page_reaches_ready_and_shows_environment(app):
    page = app.page
    assert page.evaluate("document.body.dataset.state") == "ready"
    env = page.inner_text("#env-table")
    assert "swiftshader" in env.lower()
    assert "timestamp-query" in env
    assert "Python\t3.14" in env and "Pyodide\t314.0.7" in env
    assert "maxStorageBufferBindingSize" in env


def test_page_loads_nothing_from_other_hosts(browser, server):
    page = browser.new_page()
    hosts = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname))
    page.goto(server + "/")
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=BOOT_TIMEOUT_MS)
    page.close()
    assert hosts == {"127.0.0.1"}


def test_browser_without_webgpu_gets_a_clear_message(browser, server):
    context = browser.new_context()
    # A browser without WebGPU: navigator.gpu is simply absent.
    context.add_init_script("delete Navigator.prototype.gpu;")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.state") == "error"
    assert page.evaluate("document.body.dataset.error") == "no-webgpu"
    message = page.inner_text("#error")
    assert "does not offer WebGPU" in message and "Chrome" in message
    assert page.is_visible("#error")
    assert not errors
    context.close()
