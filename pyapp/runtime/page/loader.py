"""Which model the page runs: the bundle its server names, a GGUF opened by URL or from a file
(picked or dropped), or one this browser keeps. Each ends in the model running (`_start`), or in
an error on the page that names the model and the fault; the page stays usable either way.

The page's address says what runs (?gguf=URL or ?kept=ID), so a reload starts the same model,
from the browser's store when it keeps it: a kept GGUF opened by URL is used when a HEAD request
finds the file unchanged (or the server unreachable), with no model bytes fetched.
"""

from __future__ import annotations

import re

import js

from . import bundle, view
from ..gguf.reader import GGUFError
from ..gguf.describe import UnsupportedModel
from .session import ChatSession
from ..model.make import phase
from ..model.weights import ModelTooLarge


class NotKept(LookupError):
    """A model the browser no longer keeps."""


async def load_bundle(page, url: str, address: dict | None = None) -> bool:
    """The exported bundle at url (pyapp.serve's model, or a static site's); `page` is state.PageState."""
    return await _start(page, f"the model from {url}", lambda: bundle.open_model(
        page.device, url, on_progress=view.show_progress, store=page.store, profile=page.profile), address)


async def open_gguf(page, *, url: str = "", file=None, kept: str = "") -> bool:
    """A GGUF from url, from a File, or kept under an id; `page` is state.PageState."""
    what = f"the GGUF {url or (file.name if file else 'kept by this browser')}"
    address = {"gguf": url} if url else {"kept": kept} if kept else {}
    store = page.store
    entry = None
    if kept and store:
        entry = next((m for m in await store.models() if m["id"] == kept), None)
    elif url and store:
        entry = await store.find(url)
        entry = entry if entry and entry["kind"] == "gguf" else None
    if kept and entry and entry["kind"] == "bundle":  # a kept bundle starts as the server's does, from the store
        return await load_bundle(page, entry["url"], {"kept": kept})

    async def make():
        from . import blob as gguf
        from .fetch import fetch_blob, remote_version

        def load(blob, name, expect_key=""):
            return gguf.open_model(page.device, blob, name, on_progress=view.show_progress, expect_key=expect_key,
                                   profile=page.profile)

        if file is not None:
            opened = await load(file, str(file.name))
            if store and await store.keep_gguf(file, opened.key, str(file.name)):
                address["kept"] = opened.key  # a file cannot be opened again by a reload: its kept copy can
            return opened
        version = None
        if url:
            try:
                version = await remote_version(url)
            except Exception:  # offline, or the server is gone: a kept copy still runs
                pass
        if entry and entry["kind"] == "gguf" and (kept or version in (None, entry["version"])):
            blob = await store.blob(entry["id"])
            try:
                if blob is not None and int(blob.size) == entry["bytes"]:
                    opened = await load(blob, entry["name"], entry["id"])
                    opened.from_store = True
                    return opened
            except (gguf.DamagedCopy, GGUFError):  # it ran when it was kept: now it is damaged
                pass
            await store.delete(entry["id"])  # damaged, or gone: the browser keeps it no more
        elif entry:
            await store.delete(entry["id"])  # the file changed on its server: the old copy goes
        source = url or (entry or {}).get("url")
        if not source:
            raise NotKept("this browser no longer keeps that model: open it again by URL or file")
        blob = await fetch_blob(source, phase(view.show_progress, "Downloading the model"))
        name = js.URL.new(source, js.location.href).pathname.rsplit("/", 1)[-1] or source
        opened = await load(blob, name)
        if store:
            await store.keep_gguf(blob, opened.key, name, source, version or "")
        return opened

    return await _start(page, what, make, address)


async def _start(page, what: str, make, address: dict | None) -> bool:
    """Open the new model first; only when it runs does it replace the old one, whose chat carries
    over. On a failure the old model and its conversation stay, and the error is said beside the
    open form."""
    view.clear_open_error()
    view.set_status("Loading the model…")
    t0 = js.performance.now()
    try:
        opened = await make()
    except ModelTooLarge as e:
        view.show_open_error(f"{what[0].upper()}{what[1:]} does not fit this GPU: {in_words(e, what)}", "model-too-large")
        return False
    except (GGUFError, UnsupportedModel) as e:
        view.show_open_error(f"{what[0].upper()}{what[1:]} cannot run here: {in_words(e, what)}", "model")
        return False
    except Exception as e:
        view.show_open_error(f"Could not open {what}: {in_words(e, what)}", "model")
        return False
    finally:
        view.hide_progress()
    page.load_s = (js.performance.now() - t0) / 1000
    model = opened.model
    old = page.chat
    page.chat = ChatSession(model)
    if old is not None:  # its GPU memory goes now; the conversation goes on with the new model
        page.chat.messages, page.chat.system = old.messages, old.system
        old.model.close()
    page.from_store = opened.from_store
    view.show_model(model, from_store=page.from_store)
    if address is not None:  # a reload opens the same model (other parameters, e.g. profile=1, stay)
        query = js.URLSearchParams.new(js.location.search)
        for key in ("gguf", "kept"):
            query.delete(key)
        for key, value in address.items():
            query.set(key, value)
        js.history.replaceState(None, "", "?" + str(query.toString()))
    return True


def in_words(error: Exception, what: str) -> str:
    """An error's message for a person: the file or URL said once (the message often starts
    with it, and `what` names it already), byte strings shown as text."""
    text = str(error)
    for name in sorted({what.split(" ", 2)[-1], what.rsplit("/", 1)[-1]}, key=len, reverse=True):
        if name and text.startswith(name + ": "):
            text = text[len(name) + 2:]
            break
    magic = re.search(r"not a GGUF file \(magic b'(.*?)'\)", text)
    if magic:
        text = text.replace(magic.group(0), f"not a GGUF file: it starts with \u201c{magic.group(1)}\u201d, "
                                             "where a GGUF starts with \u201cGGUF\u201d")
    return text
