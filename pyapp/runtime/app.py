"""The page, driven from Python once boot.js hands over: device, environment, state for tests.

`<body data-state>` goes loading -> ready | error (with data-error naming the cause), so
people read the status line and tests wait on the attribute.
"""

from __future__ import annotations

import sys

import js

from .device import Device, WebGPUUnavailable


class Session:
    """What the page has booted: the tests reach it as `pyapp.runtime.app.session`."""

    device: Device | None = None
    config: dict = {}
    profile: bool = False


session = Session()


def element(id_: str):
    return js.document.getElementById(id_)


def set_status(text: str):
    element("status").textContent = text


def set_state(state: str, error: str = ""):
    body = js.document.body
    body.dataset.state = state
    if error:
        body.dataset.error = error


def fail(message: str, code: str):
    """Show an error a person can act on, and mark the page for tests."""
    set_status("pyapp cannot run here." if code == "no-webgpu" else "Something went wrong.")
    box = element("error")
    box.textContent = message
    box.hidden = False
    set_state("error", code)


def fill_table(table, rows):
    table.replaceChildren()
    for key, value in rows:
        tr = js.document.createElement("tr")
        th = js.document.createElement("th")
        th.textContent = key
        td = js.document.createElement("td")
        td.textContent = value
        tr.append(th, td)
        table.append(tr)


def environment_rows(device: Device) -> list[tuple[str, str]]:
    import pyodide

    info = device.info
    rows = [
        ("GPU adapter", " / ".join(v for v in (info["vendor"], info["architecture"], info["device"]) if v) or "unknown"),
        ("Adapter description", info["description"] or "—"),
        ("Device features", ", ".join(sorted(device.features)) or "none"),
        ("Python", sys.version.split()[0]),
        ("Pyodide", pyodide.__version__),
        ("Profiling", "on (?profile=1)" if session.profile else "off (add ?profile=1 to the URL)"),
    ]
    rows += [(name, f"{value:,}") for name, value in device.limits.items()]
    return rows


async def main(config):
    session.config = dict(config) if config is not None else {}
    session.profile = js.URLSearchParams.new(js.location.search).get("profile") == "1"
    set_status("Requesting a WebGPU device…")
    try:
        session.device = await Device.open()
    except WebGPUUnavailable as e:
        fail(str(e), "no-webgpu")
        return
    except Exception as e:  # a page must say what broke, never go blank
        fail(f"Could not open the GPU: {e}", "device")
        return
    fill_table(element("env-table"), environment_rows(session.device))
    element("about").hidden = False
    set_state("ready")
    set_status(f"Ready: WebGPU on {session.device.info['architecture'] or session.device.info['vendor']}.")
