"""The page, driven from Python once boot.js hands over: device, model, prompt UI, profile.

`view` draws, `session.ChatSession` holds the conversation; this module wires them to the
page's events and keeps what the page has booted in `app.session` (tests and benchmarks
reach the device and the model through it).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

import js
from pyodide.ffi.wrappers import add_event_listener

from . import loader, view
from ..gpu.browser import BrowserDevice, WebGPUUnavailable
from .store import ModelStore
from .session import ChatSession


@dataclass
class Page:
    """What the page has booted."""

    device: BrowserDevice | None = None
    chat: ChatSession | None = None
    config: dict = field(default_factory=dict)
    profile: bool = False
    store: ModelStore | None = None  # models kept in the browser; None where it keeps none
    task: object = None  # the generation running now
    load_s: float = 0.0  # model download + upload + pipelines

    @property
    def model(self):
        return self.chat.model if self.chat else None


session = Page()


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
        ("Profiling", "on (?profile=1)" if session.profile else "off (add ?profile=1 to the URL)"),
    ]
    rows += [(name, f"{value:,}") for name, value in device.limits.items()]
    return rows


async def generate(text: str, mode: str, max_new: int, sampling):
    """One turn, streaming text into #output."""
    chat = session.chat
    transcript = view.Transcript(text, mode, chat.assistant, fresh=mode == "completion" or not chat.messages)

    async def on_text(piece: str, count: int):
        transcript.append(piece)
        view.element("stats").textContent = f"{count} tokens…"
        await asyncio.sleep(0)  # let the page paint

    view.set_status("Generating…")
    ids, result = await chat.turn(text, mode, max_new, sampling, on_text)
    if chat.notice:
        view.set_status(f"Note: {chat.notice}.")
    view.element("stats").textContent = (
        f"prompt {len(ids)} tokens ({result.reused_tokens} from the cache), "
        f"prefill {result.prefilled_tokens} at {result.prefill_tokens_per_s:.1f} tok/s · "
        f"generated {len(result.generated_ids)} tokens, decode {result.decode_tokens_per_s:.2f} tok/s · "
        f"stopped: {result.stop_reason}")
    if session.profile:
        view.show_profile(result.profile)
    return result


def on_submit(event):
    """Sync on purpose: the form's default (a page reload) must be prevented inside the event."""
    event.preventDefault()
    run_task(on_generate)


def report(task):
    """No exception may vanish inside a task: show it on the page."""
    if not task.cancelled() and task.exception() is not None:
        view.show_error(f"Failed: {task.exception()}", "generate")
        view.set_state("ready")
        view.set_busy(False)


async def on_generate():
    text = view.element("prompt").value
    if not text.strip():
        view.set_status("Type a prompt first.")
        return
    try:
        sampling, max_new = view.read_settings(session.model.tok.vocab_size, session.model.cmax)
    except view.SettingsError as e:
        view.set_status(f"Check the settings: {e}.")
        return
    view.clear_error()
    view.set_busy(True)
    try:
        await generate(text, view.element("mode").value, max_new, sampling)
        if not session.chat.notice:
            view.set_status("Ready.")
    except Exception as e:  # show it on the page; the page stays usable (the failed turn is not kept)
        lost = session.device.lost_reason
        view.show_error(f"The GPU device was lost ({lost}). Reload the page." if lost else f"Generation failed: {e}",
                        "device-lost" if lost else "generate")
        view.set_state("ready")
    finally:
        view.set_busy(False)


def on_stop(event=None):
    session.chat.stop_requested = True


def on_clear(event=None):
    session.chat.clear()
    view.element("output").replaceChildren()
    view.element("stats").textContent = ""


async def show_kept_models():
    """The models this browser keeps, each with Start and Delete buttons."""
    store = session.store
    models = await store.models() if store else []

    def on_delete(model_id):
        async def delete():
            await store.delete(model_id)
            await show_kept_models()
        return lambda event: asyncio.ensure_future(delete())

    def on_start(model_id):
        return lambda event: run_task(lambda: opened(loader.open_gguf(session, kept=model_id)))

    view.show_kept_models(models, store is not None, on_delete, on_start)


def run_task(start):
    """One task at a time (a generation or a model opening): start() makes its coroutine when
    nothing else runs; its errors reach the page."""
    if session.task is not None and not session.task.done():
        view.set_status("Busy: wait for the current task, or press Stop.")
        return
    session.task = asyncio.ensure_future(start())
    session.task.add_done_callback(report)


async def opened(opening) -> bool:
    """Open a model the person asked for; a failure is shown and the page stays usable."""
    view.set_busy(True)
    try:
        ok = await opening
        await show_kept_models()
        if ok:
            view.set_status(f"Ready.{notes()}")
        return ok
    finally:
        view.set_state("ready")
        view.set_busy(False)


def notes() -> str:
    """What the store has to say (a model it did not keep), said once."""
    if session.store is None:
        return ""
    said = "".join(f" Note: {note}." for note in session.store.notes)
    session.store.notes.clear()
    return said


def on_open_url(event):
    event.preventDefault()
    url = str(view.element("gguf-url").value).strip()
    if not url:
        view.set_status("Type the URL of a GGUF file first.")
        return
    run_task(lambda: opened(loader.open_gguf(session, url=url)))


def on_open_file(event):
    files = event.target.files
    if files.length:
        run_task(lambda: opened(loader.open_gguf(session, file=files.item(0))))


def on_drop(event):
    event.preventDefault()
    js.document.body.classList.remove("dragging")
    files = event.dataTransfer.files if event.dataTransfer else None
    if files is not None and files.length:
        run_task(lambda: opened(loader.open_gguf(session, file=files.item(0))))


def on_dragover(event):
    event.preventDefault()  # without this the browser opens the dropped file itself
    js.document.body.classList.add("dragging")


def on_dragleave(event):
    if event.target is js.document.body or event.relatedTarget is None:  # left the page, not a child
        js.document.body.classList.remove("dragging")


async def main(config):
    session.config = dict(config) if config is not None else {}
    session.profile = js.URLSearchParams.new(js.location.search).get("profile") == "1"
    view.set_status("Requesting a WebGPU device…")
    try:
        session.device = await BrowserDevice.open()
    except WebGPUUnavailable as e:
        view.show_error(str(e), "no-webgpu")
        return
    except Exception as e:  # a page must say what broke, never go blank
        view.show_error(f"Could not open the GPU: {e}", "device")
        return
    view.fill_table(view.element("env-table"), environment_rows(session.device))
    view.element("about").hidden = False
    session.store = await ModelStore.open()
    for id_, kind, handler in (("prompt-form", "submit", on_submit), ("stop", "click", on_stop),
                               ("clear", "click", on_clear), ("open-url", "submit", on_open_url),
                               ("gguf-file", "change", on_open_file)):
        add_event_listener(view.element(id_), kind, handler)
    add_event_listener(js.document.body, "dragover", on_dragover)
    add_event_listener(js.document.body, "drop", on_drop)
    add_event_listener(js.document.body, "dragleave", on_dragleave)
    view.element("open").hidden = False
    params = js.URLSearchParams.new(js.location.search)
    url = session.config.get("model")
    if params.get("gguf") or params.get("kept"):
        loaded = await loader.open_gguf(session, url=str(params.get("gguf") or ""), kept=str(params.get("kept") or ""))
    elif url:
        loaded = await loader.load_bundle(session, url)
    else:
        loaded = None
    await show_kept_models()
    if loaded is False:  # the page says why; it stays open for another model
        return
    view.set_busy(False)
    view.set_state("ready")
    where = session.device.info['architecture'] or session.device.info['vendor']
    view.set_status(f"Ready: WebGPU on {where}.{notes()}" if loaded else
                    f"Ready: WebGPU on {where}. Open a GGUF model: a URL, a file, or drop one here.{notes()}")
