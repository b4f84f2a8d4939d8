"""pyapp.headless.boot_new_page, the boot of the CLI's, the benchmarks' and these tests' shared
pages: a renderer that crashes while the page boots gets one more page (a new renderer process),
and a second crash is reported, not hidden."""

import pytest
from playwright.sync_api import Error as PlaywrightError

from pyapp import headless


def crashing_boot(monkeypatch, crashes: int) -> list[str]:
    """Make the first `crashes` boots fail as a crashed renderer does; later boots are real."""
    real_boot, calls = headless.boot, []

    def boot(page, url, timeout_ms):
        calls.append(url)
        if len(calls) <= crashes:
            page.close()  # a crashed page is of no further use
            raise PlaywrightError("Page.wait_for_function: Target crashed")
        return real_boot(page, url, timeout_ms)

    monkeypatch.setattr(headless, "boot", boot)
    return calls


def test_one_renderer_crash_while_booting_is_retried_in_a_new_page(browser, server, monkeypatch, capfd):
    calls = crashing_boot(monkeypatch, crashes=1)
    booted = headless.boot_new_page(browser, server + "/")
    try:
        assert booted.py("RESULT = 1 + 1") == 2
    finally:
        booted.page.close()
    assert len(calls) == 2
    assert "renderer crashed while booting the page; retrying once" in capfd.readouterr().err


def test_a_second_crash_is_raised(browser, server, monkeypatch):
    calls = crashing_boot(monkeypatch, crashes=2)
    with pytest.raises(PlaywrightError, match="Target crashed"):
        headless.boot_new_page(browser, server + "/")
    assert len(calls) == 2
