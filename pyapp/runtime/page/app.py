"""The page, driven from Python once boot.js hands over: device, model, the chat, the profile.

`view` draws the page, `transcript` the conversation, `session.ChatSession` holds it and
`chat_store` keeps it across reloads; this module wires them to the page's events and keeps
what the page has booted in `app.session` (tests and benchmarks reach the device and the
model through it).

One task runs at a time (a turn or a model opening). Whatever changes the history or the model
(Clear, New chat, a past chat, Edit, Regenerate, a mode change, Open, Start) first stops the
turn running and waits for it to end, so an answer never lands in a history it was not asked in.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

import js
from pyodide.ffi.wrappers import add_event_listener

from ..gpu.browser import BrowserDevice, WebGPUUnavailable
from ..tokenizer import chat_template as chat_prompt
from . import loader, transcript, view
from .chat_store import ChatStore, new_id
from .known_models import KNOWN
from .store import ModelStore
from .session import ChatSession

# the fields a reload restores (chat_store); ids as the page has them
SETTINGS = ("mode", "system", "max-tokens", "temperature", "top-k", "top-p", "min-p", "repeat-penalty",
            "repeat-last-n", "seed")
STOP_WORDS = {"eos": "end of answer", "max_tokens": "reached the token limit", "stopped": "stopped by you",
              "context_full": "the context is full"}
PAINT_MS = 80  # the streaming answer's Markdown is redrawn at most this often


@dataclass
class Page:
    """What the page has booted."""

    device: BrowserDevice | None = None
    chat: ChatSession | None = None
    config: dict = field(default_factory=dict)
    profile: bool = False
    store: ModelStore | None = None  # models kept in the browser; None where it keeps none
    chats: ChatStore | None = None   # chats and settings kept in the browser
    chat_id: str = ""                # the chat shown, as chat_store keeps it
    task: object = None              # the turn or model opening running now
    task_kind: str = ""              # "turn" or "open"
    load_s: float = 0.0              # model download + upload + pipelines
    from_store: bool = False         # the model's bytes came from the browser's store
    decode_rate: float = 0.0         # the last turn's tokens/s, for the model line

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


# --- a turn ---

def final_stats(ids, result) -> str:
    wanted = len(ids) - result.reused_tokens
    read = (f"{result.prefilled_tokens} read" if result.prefilled_tokens == wanted else
            f"{result.prefilled_tokens} of {wanted} read")
    parts = [f"Prompt {len(ids)} tokens ({result.reused_tokens} from the cache, {read} at "
             f"{result.prefill_tokens_per_s:,.0f} tokens/s)",
             f"answer {len(result.generated_ids)} tokens at {result.decode_tokens_per_s:.1f} tokens/s"]
    if result.seed is not None:  # the sampler's (the field's, or drawn at random)
        parts.append(f"seed {result.seed}")
    parts.append(STOP_WORDS.get(result.stop_reason, result.stop_reason))
    return " · ".join(parts)


async def generate(text: str, mode: str, max_new: int, sampling):
    """One turn: the question shown, the prompt's progress and the answer streaming in, then
    the history redrawn as the model now holds it."""
    chat = session.chat
    stats = view.element("stats")
    stats.textContent = "Reading the prompt…"
    stats.removeAttribute("data-reason")
    pending = transcript.Pending(text, mode, chat.assistant)
    answer, painted, first = "", 0.0, None

    async def on_text(piece: str, count: int):
        nonlocal answer, painted, first
        answer += piece
        now = js.performance.now()
        first = now if first is None else first
        if now - painted >= PAINT_MS:
            pending.update(answer)
            painted = now
        rate = (count - 1) / ((now - first) / 1000) if count > 1 and now > first else 0.0
        stats.textContent = f"{count} tokens · {rate:.1f} tokens/s" if rate else f"{count} tokens"
        await asyncio.sleep(0)  # let the page paint

    def on_prefill(done: int, total: int):
        stats.textContent = f"Reading the prompt: {done} / {total} tokens"

    view.set_status("Generating…")
    try:
        ids, result = await chat.turn(text, mode, max_new, sampling, on_text, on_prefill)
    except BaseException:
        show_chat(mode)
        stats.textContent = ""
        view.element("prompt").value = text  # nothing typed is lost
        raise
    pending.update(answer)
    if mode != "completion":
        show_chat(mode)
        if not result.generated_ids:  # stopped while reading the prompt: the question goes back in the box
            view.element("prompt").value = text
    save_chat()
    if chat.notice:
        view.set_status(f"Note: {chat.notice}.")
    stats.textContent = final_stats(ids, result)
    stats.dataset.reason = result.stop_reason
    if result.decode_tokens_per_s:
        session.decode_rate = result.decode_tokens_per_s
        view.show_model(chat.model, session.decode_rate, session.from_store)
    if session.profile:
        view.show_profile(result.profile)
    return result


async def on_generate(text: str | None = None):
    """Send the prompt box's text (or `text`: Regenerate), the settings checked first."""
    box = view.element("prompt")
    typed = text is None
    text = str(box.value) if typed else text
    if not text.strip():
        view.set_status("Type a message first.")
        return
    try:
        sampling, max_new = view.read_settings(session.model.tok.vocab_size, session.model.cmax)
    except view.SettingsError:
        view.set_status("Check the settings: the field marked in red says what it needs.")
        return
    view.clear_error()
    if typed:
        box.value = ""
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


def on_submit(event):
    """Sync on purpose: the form's default (a page reload) must be prevented inside the event."""
    event.preventDefault()
    run_task(on_generate, "turn")


def on_key(event):
    """Enter sends; Shift+Enter is a new line (and Enter while an IME composes is the IME's)."""
    if event.key == "Enter" and not event.shiftKey and not event.isComposing:
        event.preventDefault()
        run_task(on_generate, "turn")


def on_stop(event=None):
    if session.chat is not None and session.task_kind == "turn" and not session.task.done():
        session.chat.stop_requested = True
        view.set_status("Stopping…")


# --- the history: shown, kept, cut back ---

def show_chat(mode: str | None = None):
    if (mode or view.element("mode").value) != "completion":
        transcript.show(session.chat.messages, session.chat.assistant)
    refresh_buttons()


def refresh_buttons():
    busy = session.task is not None and not session.task.done()
    view.element("regenerate").disabled = busy or session.chat is None or session.chat.last_question() is None


def save_chat():
    if session.chats is not None and session.chat is not None:
        session.chats.save_chat(session.chat_id, session.chat.messages, session.chat.system)
        show_chat_list()


def show_chat_list():
    view.show_chat_list(session.chats.chats() if session.chats else [], session.chat_id)


def after_turn(change):
    """Run change() (sync or async) once the turn running now has stopped and ended."""
    async def run():
        task = session.task
        if task is not None and not task.done():
            on_stop()
            await asyncio.wait([task])
        done = change()
        if asyncio.iscoroutine(done):
            await done
    future = asyncio.ensure_future(run())
    future.add_done_callback(report)


def new_chat(messages=(), system: str | None = None, chat_id: str = ""):
    session.chat_id = chat_id or new_id()
    if session.chat is not None:
        session.chat.messages = [dict(m) for m in messages]
        if system is not None:
            session.chat.system = system
            view.element("system").value = system
    view.element("stats").textContent = ""
    view.element("output").replaceChildren()
    show_chat()
    show_chat_list()


def on_clear(event=None):
    def clear():
        if session.chat is not None:
            session.chat.clear()
        save_chat()  # an empty chat is not kept
        new_chat()
    after_turn(clear)


def on_new_chat(event=None):
    after_turn(new_chat)


def on_mode(event=None):
    """Chat and completion share no history: a mode change starts a new chat, so what the page
    shows is what the model is given."""
    after_turn(new_chat)
    save_settings()


def on_regenerate(event=None):
    def again():
        chat = session.chat
        index = chat.last_question() if chat else None
        if index is None:
            return
        text = chat.cut(index)
        show_chat()
        run_task(lambda: on_generate(text), "turn")
    after_turn(again)


def on_output_click(event):
    """The transcript's buttons: Copy (an answer, a question, a code block), Edit (a question)."""
    button = event.target.closest("button[data-action]")
    if button is None:
        return
    action = str(button.dataset.action)
    if action == "copy-code":
        copy_text(button, str(button.parentElement.querySelector("code").textContent))
    elif action == "copy":
        copy_text(button, session.chat.messages[int(button.dataset.index)]["content"])
    elif action == "edit":
        index = int(button.dataset.index)

        def edit():
            box = view.element("prompt")
            box.value = session.chat.cut(index)
            show_chat()
            save_chat()
            box.focus()
        after_turn(edit)


def copy_text(button, text: str):
    async def copy():
        try:
            await js.navigator.clipboard.writeText(text)
            button.textContent = "Copied"
        except Exception:  # the browser refused the clipboard (no permission, not focused)
            button.textContent = "Copy failed"
    asyncio.ensure_future(copy())


def on_chat_list_click(event):
    button = event.target.closest("button[data-id]")
    if button is None or session.chats is None:
        return
    wanted = str(button.dataset.id)
    kept = next((c for c in session.chats.chats() if c["id"] == wanted), None)
    if kept is not None:
        view.element("history").open = False
        after_turn(lambda: new_chat(kept["messages"], kept.get("system", ""), wanted))


def on_system(event=None):
    if session.chat is not None:
        session.chat.system = str(view.element("system").value).strip()
    save_settings()


def save_settings(event=None):
    if session.chats is not None:
        session.chats.save_settings({id_: str(view.element(id_).value) for id_ in SETTINGS})


def restore_settings():
    for id_, value in (session.chats.settings() if session.chats else {}).items():
        if id_ in SETTINGS:
            view.element(id_).value = value


def on_forget(event=None):
    """Every kept chat and setting goes; the fields take their defaults; a new chat starts."""
    session.chats.forget()
    for id_ in SETTINGS:
        node = view.element(id_)
        node.value = "chat" if id_ == "mode" else node.defaultValue
    if session.chat is not None:
        session.chat.system = ""
    after_turn(new_chat)
    view.set_status("This browser no longer keeps any chat or setting of this page.")


# --- models ---

async def show_kept_models():
    """The models this browser keeps, each with Start and Delete buttons."""
    store = session.store
    models = await store.models() if store else []

    def on_delete(model_id):
        entry = next(m for m in models if m["id"] == model_id)
        return lambda event: delete_kept(entry)

    def on_start(model_id):
        return lambda event: open_model(lambda: loader.open_gguf(session, kept=model_id))

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
        await session.store.delete(entry["id"])
        await show_kept_models()
    asyncio.ensure_future(delete()).add_done_callback(report)


def run_task(start, kind: str):
    """One task at a time: start() makes its coroutine when nothing else runs; its errors reach the page."""
    if session.task is not None and not session.task.done():
        view.set_status("Busy: wait for the current task, or press Stop.")
        return
    session.task, session.task_kind = asyncio.ensure_future(start()), kind
    session.task.add_done_callback(report)
    refresh_buttons()


def report(task):
    """No exception may vanish inside a task: show it on the page. The buttons follow what the
    page can do now."""
    if not task.cancelled() and task.exception() is not None:
        view.show_error(f"Failed: {task.exception()}", "generate")
        view.set_state("ready")
        view.set_busy(False)
    if session.device is not None:
        refresh_buttons()


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
    default = chat_prompt.default_system(session.model.tok)
    view.element("system").placeholder = default and f"The model's default: {default}" or "None (the model has no default)"
    session.chat.system = str(view.element("system").value).strip()
    view.show_model(session.model, session.decode_rate, session.from_store)
    view.show_tab("chat")
    show_chat()


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
        view.show_open_error("Type the URL of a GGUF file first.", "no-url")
        return
    open_model(lambda: loader.open_gguf(session, url=url))


def on_open_file(event):
    files = event.target.files
    if files.length:
        picked = files.item(0)
        open_model(lambda: loader.open_gguf(session, file=picked))


def on_drop(event):
    event.preventDefault()
    js.document.body.classList.remove("dragging")
    files = event.dataTransfer.files if event.dataTransfer else None
    if files is not None and files.length:
        dropped = files.item(0)
        open_model(lambda: loader.open_gguf(session, file=dropped))


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
        open_model(lambda: loader.open_gguf(session, url=url))


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
    session.chats = ChatStore(js.localStorage)
    restore_settings()
    wire()
    view.element("open").hidden = False
    view.show_known_models(KNOWN, bool(session.config.get("model")))
    params = js.URLSearchParams.new(js.location.search)
    url = session.config.get("model")
    if params.get("gguf") or params.get("kept"):
        loaded = await loader.open_gguf(session, url=str(params.get("gguf") or ""), kept=str(params.get("kept") or ""))
    elif url:
        loaded = await loader.load_bundle(session, url)
    else:
        loaded = None
    fallback = ""
    if loaded is False and url:  # the address named a model that did not open: the default runs, the error stays
        fallback = str(view.element("open-error").textContent)
        loaded = await loader.load_bundle(session, url, {})
        if loaded:
            view.element("open-error").textContent = fallback
            view.element("open-error").hidden = False
            fallback = f" {fallback}; the default model runs instead."
    await show_kept_models()
    if loaded is False:  # the page says why; it stays open for another model
        return
    view.set_busy(False)
    view.set_state("ready")
    where = session.device.info['architecture'] or session.device.info['vendor']
    if loaded:
        kept = session.chats.chats()
        last = kept[0] if kept else None
        new_chat(last["messages"] if last else (), None, last["id"] if last else "")
        model_started()
        view.set_status(f"Ready: WebGPU on {where}.{fallback}{notes()}")
    else:
        view.show_tab("models")
        view.set_status(f"Ready: WebGPU on {where}. Open a GGUF model: a URL, a file, or drop one here.{notes()}")
