"""Which model the page runs: the bundle its server names, a GGUF opened by URL or from a file
(picked or dropped), or one this browser keeps. Each ends in the model running (`_start`), or in
an error on the page that names the model and the fault; the page stays usable either way.

The page's address says what runs (?gguf=URL or ?kept=ID), so a reload starts the same model,
from the browser's store when it keeps it: a kept GGUF opened by URL is used when a HEAD request
finds the file unchanged (or the server unreachable), with no model bytes fetched.
"""

from __future__ import annotations

import js

from . import view
from .gguf_file import GGUFError
from .gguf_model import UnsupportedModel
from .session import ChatSession
from .weights import ModelTooLarge


class NotKept(LookupError):
    """A model the browser no longer keeps."""


async def load_bundle(page, url: str, address: dict | None = None) -> bool:
    """The exported bundle at url (pyapp.serve's model, or a static site's); `page` is app.Page."""
    from .model import load

    return await _start(page, f"the model from {url}", lambda: load(
        page.device, url, on_progress=view.show_progress, store=page.store, profile=page.profile), address)


async def open_gguf(page, *, url: str = "", file=None, kept: str = "") -> bool:
    """A GGUF from url, from a File, or kept under an id; `page` is app.Page."""
    what = f"the GGUF {url or (file.name if file else 'kept by this browser')}"
    address = {"gguf": url} if url else {"kept": kept} if kept else {}

    async def make():
        buffer, name, from_store, model_id = await _gguf_bytes(page.store, url, file, kept)
        if model_id and not url:
            address["kept"] = model_id  # a file cannot be opened again by a reload: its kept copy can
        from .gguf_load import load_gguf

        model = await load_gguf(page.device, buffer, name, on_progress=view.show_progress, profile=page.profile)
        model.from_store = from_store
        return model

    if kept and page.store:  # a kept bundle starts as the server's bundle does, from the store
        entry = next((m for m in await page.store.models() if m["id"] == kept), None)
        if entry and entry["kind"] == "bundle":
            return await load_bundle(page, entry["url"], {"kept": kept})
    return await _start(page, what, make, address)


async def _gguf_bytes(store, url: str, file, kept: str):
    """(ArrayBuffer, name, whether it came from the store, its id in the store or None)."""
    from .fetch import fetch_buffer
    from .gguf_load import read_file, remote_version

    def progress(label):
        return lambda done, total: view.show_progress(label, done, total)

    if kept:
        buffer = await store.read(kept) if store else None
        entry = next((m for m in await store.models() if m["id"] == kept), None) if store else None
        if buffer is None or entry is None:
            raise NotKept("this browser no longer keeps that model: open it again by URL or file")
        return buffer, entry["name"], True, kept
    if file is not None:
        buffer = await read_file(file, progress("Reading the file"))
        return buffer, str(file.name), False, store and await store.keep_gguf(buffer, str(file.name))
    name = js.URL.new(url, js.location.href).pathname.rsplit("/", 1)[-1] or url
    entry = store and await store.find(url)
    try:
        version = await remote_version(url)
    except Exception:  # offline, or the server is gone: a kept copy still runs
        version = None
    if entry and entry["kind"] == "gguf" and version in (None, entry["version"]):
        buffer = await store.read(entry["id"])
        if buffer is not None:
            return buffer, entry["name"], True, entry["id"]
    if entry:
        await store.delete(entry["id"])  # the file changed on its server: the old copy goes
    buffer = await fetch_buffer(url, progress("Downloading the model"))
    return buffer, name, False, store and await store.keep_gguf(buffer, name, url, version or "")


async def _start(page, what: str, make, address: dict | None) -> bool:
    view.clear_error()
    if page.chat is not None:  # its GPU memory goes first: two models may not fit at once
        page.chat.model.close()
        page.chat = None
        view.element("app").hidden = True
    view.set_status("Loading the model…")
    t0 = js.performance.now()
    try:
        model = await make()
    except ModelTooLarge as e:
        view.show_error(f"This model does not fit this GPU: {e}", "model-too-large")
        return False
    except (GGUFError, UnsupportedModel) as e:
        view.show_error(f"This model cannot run here: {e}", "model")
        return False
    except Exception as e:
        view.show_error(f"Could not load {what}: {e}", "model")
        return False
    finally:
        view.hide_progress()
    page.load_s = (js.performance.now() - t0) / 1000
    page.chat = ChatSession(model)
    origin = "kept by this browser" if model.from_store else "downloaded"
    view.element("model-name").textContent = (
        f"Model: {model.cfg.title} · {model.cfg.n_layers} layers · context {model.cmax} tokens · "
        f"{len(model.decode_graph.dispatches)} dispatches per token · {origin}")
    view.element("output").replaceChildren()
    view.element("stats").textContent = ""
    view.element("app").hidden = False
    if address is not None:  # a reload opens the same model (other parameters, e.g. profile=1, stay)
        query = js.URLSearchParams.new(js.location.search)
        for key in ("gguf", "kept"):
            query.delete(key)
        for key, value in address.items():
            query.set(key, value)
        js.history.replaceState(None, "", "?" + str(query.toString()))
    return True
