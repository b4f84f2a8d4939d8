"""The page, driven from Python once boot.js hands over: it opens the device, wires the page's
events and starts the model the address or the config names.

The rooms: `state` holds what the page has booted (`app.page`: tests and benchmarks reach the
device and the model through it) and runs one task at a time; `turn` sends a prompt, `history`
shows and keeps the conversation, `models` opens and keeps models; `view` draws the page,
`transcript` the conversation, `session.ChatSession` holds it and `chat_store` keeps it.
"""

from __future__ import annotations

import sys

import js
from pyodide.ffi.wrappers import add_event_listener

from ..gpu.browser import BrowserDevice, WebGPUUnavailable
from . import loader, view
from .chat_store import ChatStore
from .history import (new_chat, on_chat_list_click, on_clear, on_forget, on_mode, on_new_chat, on_output_click,
                      on_system, restore_settings, save_settings)
from .known_models import KNOWN
from .models import model_started, notes, on_dragleave, on_dragover, on_drop, on_known, on_open_file, \
    on_open_url, show_kept_models
from .state import on_stop, page
from .store import ModelStore
from .turn import on_key, on_regenerate, on_submit


def environment_rows(device: BrowserDevice) -> list[tuple[str, str]]:
    import pyodide

    info = device.info
    rows = [
        ("GPU adapter", " / ".join(v for v in (info["vendor"], info["architecture"], info["device"]) if v) or "unknown"),
        ("Adapter description", info["description"] or "—"),
        ("Device features", ", ".join(sorted(device.features)) or "none"),
        ("Kernel style", device.kernel_style),
        ("Python", sys.version.split()[0]),
        ("Pyodide", pyodide.__version__),
        ("Profiling", "on (?profile=1)" if page.profile else "off (add ?profile=1 to the URL)"),
    ]
    rows += [(name, f"{value:,}") for name, value in device.limits.items()]
    return rows


def wire():
    for id_, kind, handler in (("prompt-form", "submit", on_submit), ("prompt", "keydown", on_key),
                               ("stop", "click", on_stop), ("clear", "click", on_clear),
                               ("new-chat", "click", on_new_chat), ("regenerate", "click", on_regenerate),
                               ("mode", "change", on_mode), ("system", "change", on_system),
                               ("settings", "change", save_settings), ("forget", "click", on_forget),
                               ("output", "click", on_output_click), ("chat-list", "click", on_chat_list_click),
                               ("open-url", "submit", on_open_url), ("gguf-file", "change", on_open_file),
                               ("known-models", "click", on_known),
                               ("tab-chat", "click", lambda e: view.show_tab("chat")),
                               ("tab-models", "click", lambda e: view.show_tab("models"))):
        add_event_listener(view.element(id_), kind, handler)
    add_event_listener(js.document.body, "dragover", on_dragover)
    add_event_listener(js.document.body, "drop", on_drop)
    add_event_listener(js.document.body, "dragleave", on_dragleave)


async def main(config):
    page.config = dict(config) if config is not None else {}
    page.profile = js.URLSearchParams.new(js.location.search).get("profile") == "1"
    view.set_status("Requesting a WebGPU device…")
    try:
        page.device = await BrowserDevice.open()
    except WebGPUUnavailable as e:
        view.show_error(str(e), "no-webgpu")
        return
    except Exception as e:  # a page must say what broke, never go blank
        view.show_error(f"Could not open the GPU: {e}", "device")
        return
    view.fill_table(view.element("env-table"), environment_rows(page.device))
    view.element("about").hidden = False
    page.store = await ModelStore.open()
    page.chats = ChatStore(js.localStorage)
    restore_settings()
    wire()
    view.element("open").hidden = False
    view.show_known_models(KNOWN, bool(page.config.get("model")))
    params = js.URLSearchParams.new(js.location.search)
    url = page.config.get("model")
    if params.get("gguf") or params.get("kept"):
        loaded = await loader.open_gguf(page, url=str(params.get("gguf") or ""), kept=str(params.get("kept") or ""))
    elif url:
        loaded = await loader.load_bundle(page, url)
    else:
        loaded = None
    fallback = ""
    if loaded is False and url:  # the address named a model that did not open: the default runs, the error stays
        fallback = str(view.element("open-error").textContent)
        loaded = await loader.load_bundle(page, url, {})
        if loaded:
            view.element("open-error").textContent = fallback
            view.element("open-error").hidden = False
            fallback = f" {fallback}; the default model runs instead."
    await show_kept_models()
    if loaded is False:  # the page says why; it stays open for another model
        return
    view.set_busy(False)
    view.set_state("ready")
    where = page.device.info['architecture'] or page.device.info['vendor']
    if loaded:
        kept = page.chats.chats()
        last = kept[0] if kept else None
        new_chat(last["messages"] if last else (), None, last["id"] if last else "")
        model_started()
        view.set_status(f"Ready: WebGPU on {where}.{fallback}{notes()}")
    else:
        view.show_tab("models")
        view.set_status(f"Ready: WebGPU on {where}. Open a GGUF model: a URL, a file, or drop one here.{notes()}")

