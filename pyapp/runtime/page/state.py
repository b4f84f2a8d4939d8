"""What the page has booted (`page`: the device, the chat and its model, the stores) and the
one task it runs at a time (a turn or a model opening), with the Stop that ends a turn.

Whatever changes the history or the model (Clear, New chat, a past chat, Edit, Regenerate, a
mode change, Open, Start) goes through `after_turn`: it first stops the turn running and waits
for it to end, so an answer never lands in a history it was not asked in.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..gpu.browser import BrowserDevice
from . import view
from .chat_store import ChatStore
from .session import ChatSession
from .store import ModelStore


@dataclass
class PageState:
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


page = PageState()


def run_task(start, kind: str):
    """One task at a time: start() makes its coroutine when nothing else runs; its errors reach the page."""
    if page.task is not None and not page.task.done():
        view.set_status("Busy: wait for the current task, or press Stop.")
        return
    page.task, page.task_kind = asyncio.ensure_future(start()), kind
    page.task.add_done_callback(report)
    refresh_buttons()


def report(task):
    """No exception may vanish inside a task: show it on the page. The buttons follow what the
    page can do now."""
    if not task.cancelled() and task.exception() is not None:
        view.show_error(f"Failed: {task.exception()}", "generate")
        view.set_state("ready")
        view.set_busy(False)
    if page.device is not None:
        refresh_buttons()


def after_turn(change):
    """Run change() (sync or async) once the turn running now has stopped and ended."""
    async def run():
        task = page.task
        if task is not None and not task.done():
            on_stop()
            await asyncio.wait([task])
        done = change()
        if asyncio.iscoroutine(done):
            await done
    future = asyncio.ensure_future(run())
    future.add_done_callback(report)


def on_stop(event=None):
    if page.chat is not None and page.task_kind == "turn" and not page.task.done():
        page.chat.stop_requested = True
        view.set_status("Stopping…")


def refresh_buttons():
    busy = page.task is not None and not page.task.done()
    view.element("regenerate").disabled = busy or page.chat is None or page.chat.last_question() is None

