"""A turn on the page: the prompt box sent (Enter, the form, Regenerate), the settings checked,
the question shown, the prompt's progress and the answer streaming in, the stats in words.
"""

from __future__ import annotations

import asyncio

import js

from . import transcript, view
from .history import save_chat, show_chat
from .state import after_turn, page, run_task

STOP_WORDS = {"eos": "end of answer", "max_tokens": "reached the token limit", "stopped": "stopped by you",
              "context_full": "the context is full"}
PAINT_MS = 80  # the streaming answer's Markdown is redrawn at most this often


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
    chat = page.chat
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
        page.decode_rate = result.decode_tokens_per_s
        view.show_model(chat.model, page.decode_rate, page.from_store)
    if page.profile:
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
        sampling, max_new = view.read_settings(page.model.tok.vocab_size, page.model.cmax)
    except view.SettingsError:
        view.set_status("Check the settings: the field marked in red says what it needs.")
        return
    view.clear_error()
    if typed:
        box.value = ""
    view.set_busy(True)
    try:
        await generate(text, view.element("mode").value, max_new, sampling)
        if not page.chat.notice:
            view.set_status("Ready.")
    except Exception as e:  # show it on the page; the page stays usable (the failed turn is not kept)
        lost = page.device.lost_reason
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


def on_regenerate(event=None):
    def again():
        chat = page.chat
        index = chat.last_question() if chat else None
        if index is None:
            return
        text = chat.cut(index)
        show_chat()
        run_task(lambda: on_generate(text), "turn")
    after_turn(again)

