"""pyapp.headless, the harness of the CLI and the benchmarks: a renderer that crashes while the page
boots gets one more try in a fresh browser, and a second crash is reported, not hidden."""

import pytest
from playwright.sync_api import Error as PlaywrightError

from pyapp import headless
from pyapp.serve import Site


def crashing_boot(monkeypatch, crashes: int) -> list[str]:
    """Make the first `crashes` boots fail as a crashed renderer does; later boots are real."""
    real_boot, calls = headless.boot, []

    def boot(page, url, timeout_ms):
        calls.append(url)
        if len(calls) <= crashes:
            raise PlaywrightError("Page.wait_for_function: Target crashed")
        return real_boot(page, url, timeout_ms)

    monkeypatch.setattr(headless, "boot", boot)
    return calls


def test_one_renderer_crash_while_booting_is_retried_in_a_fresh_browser(monkeypatch, capfd):
    calls = crashing_boot(monkeypatch, crashes=1)
    with headless.headless_page(Site()) as booted:
        assert booted.py("RESULT = 1 + 1") == 2
    assert len(calls) == 2
    assert "renderer crashed while booting the page; retrying once" in capfd.readouterr().err


def test_a_second_crash_is_raised(monkeypatch):
    calls = crashing_boot(monkeypatch, crashes=2)
    with pytest.raises(PlaywrightError, match="Target crashed"):
        with headless.headless_page(Site()):
            pass
    assert len(calls) == 2
