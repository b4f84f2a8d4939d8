"""Models on the page: one opened by URL, file, drop, a known model's button or a kept copy's
Start (the old model and its chat stay until the new one is ready), and the kept ones listed
with Delete.
"""

from __future__ import annotations

import asyncio

import js

from ..tokenizer import chat_template as chat_prompt
from . import loader, view
from .history import show_chat
from .state import after_turn, page, report, run_task


async def show_kept_models():
    """The models this browser keeps, each with Start and Delete buttons."""
    store = page.store
    models = await store.models() if store else []

    def on_delete(model_id):
        entry = next(m for m in models if m["id"] == model_id)
        return lambda event: delete_kept(entry)

    def on_start(model_id):
        return lambda event: open_model(lambda: loader.open_gguf(page, kept=model_id))

    view.show_kept_models(models, store is not None, on_delete, on_start)


def delete_kept(entry: dict):
    """Ask first; a deleted model the address names leaves the address, so a reload starts the
    default model instead of failing on one that is gone."""
    query = js.URLSearchParams.new(js.location.search)
    running = str(query.get("kept") or "") == entry["id"] or (
        bool(entry.get("url")) and str(query.get("gguf") or "") in (entry["url"], entry.get("source")))
    note = " It is the model running now: it runs until the page reloads, which starts the default model." \
        if running else ""
    if not js.window.confirm(f"Delete {entry['name']} ({entry['bytes'] / 1e6:.1f} MB) from this browser?{note}"):
        return
    if running:
        for key in ("gguf", "kept"):
            query.delete(key)
        js.history.replaceState(None, "", "?" + str(query.toString()))

    async def delete():
        await page.store.delete(entry["id"])
        await show_kept_models()
    asyncio.ensure_future(delete()).add_done_callback(report)


def open_model(opening):
    """Open a model the person asked for, once a running turn has stopped; a failure is shown
    beside the form and the chat and its model stay."""
    async def run():
        view.set_busy(True)
        try:
            ok = await opening()
            await show_kept_models()
            if ok:
                model_started()
                view.set_status(f"Ready.{notes()}")
            return ok
        finally:
            view.set_state("ready")
            view.set_busy(False)
    after_turn(lambda: run_task(run, "open"))


def model_started():
    """A model runs now: the chat shows (the conversation carries over), with its system prompt's default."""
    default = chat_prompt.default_system(page.model.tok)
    view.element("system").placeholder = default and f"The model's default: {default}" or "None (the model has no default)"
    page.chat.system = str(view.element("system").value).strip()
    view.show_model(page.model, page.decode_rate, page.from_store)
    view.show_tab("chat")
    show_chat()


def notes() -> str:
    """What the store has to say (a model it did not keep), said once."""
    if page.store is None:
        return ""
    said = "".join(f" Note: {note}." for note in page.store.notes)
    page.store.notes.clear()
    return said


def on_open_url(event):
    event.preventDefault()
    url = str(view.element("gguf-url").value).strip()
    if not url:
        view.show_open_error("Type the URL of a GGUF file first.", "no-url")
        return
    open_model(lambda: loader.open_gguf(page, url=url))


def on_open_file(event):
    files = event.target.files
    if files.length:
        picked = files.item(0)
        open_model(lambda: loader.open_gguf(page, file=picked))


def on_drop(event):
    event.preventDefault()
    js.document.body.classList.remove("dragging")
    files = event.dataTransfer.files if event.dataTransfer else None
    if files is not None and files.length:
        dropped = files.item(0)
        open_model(lambda: loader.open_gguf(page, file=dropped))


def on_dragover(event):
    event.preventDefault()  # without this the browser opens the dropped file itself
    js.document.body.classList.add("dragging")


def on_dragleave(event):
    if event.target is js.document.body or event.relatedTarget is None:  # left the page, not a child
        js.document.body.classList.remove("dragging")


def on_known(event):
    """A known model's Open: its file under this site's models/."""
    button = event.target.closest("button[data-file]")
    if button is not None:
        view.element("gguf-url").value = f"models/{button.dataset.file}"
        url = str(view.element("gguf-url").value)
        open_model(lambda: loader.open_gguf(page, url=url))

