"""The conversation's history on the page: shown, kept across reloads (chat_store), cut back
(Edit), replaced (Clear, New chat, a past chat, a mode change), and the settings kept with it.
Each change waits for the running turn to end first (state.after_turn).
"""

from __future__ import annotations

import asyncio

import js

from . import transcript, view
from .chat_store import new_id
from .state import after_turn, page, refresh_buttons

# the fields a reload restores (chat_store); ids as the page has them
SETTINGS = ("mode", "system", "max-tokens", "temperature", "top-k", "top-p", "min-p", "repeat-penalty",
            "repeat-last-n", "seed")


def show_chat(mode: str | None = None):
    if (mode or view.element("mode").value) != "completion":
        transcript.show(page.chat.messages, page.chat.assistant)
    refresh_buttons()


def save_chat():
    if page.chats is not None and page.chat is not None:
        page.chats.save_chat(page.chat_id, page.chat.messages, page.chat.system)
        show_chat_list()


def show_chat_list():
    view.show_chat_list(page.chats.chats() if page.chats else [], page.chat_id)


def new_chat(messages=(), system: str | None = None, chat_id: str = ""):
    page.chat_id = chat_id or new_id()
    if page.chat is not None:
        page.chat.messages = [dict(m) for m in messages]
        if system is not None:
            page.chat.system = system
            view.element("system").value = system
    view.element("stats").textContent = ""
    view.element("output").replaceChildren()
    show_chat()
    show_chat_list()


def on_clear(event=None):
    def clear():
        if page.chat is not None:
            page.chat.clear()
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


def on_output_click(event):
    """The transcript's buttons: Copy (an answer, a question, a code block), Edit (a question)."""
    button = event.target.closest("button[data-action]")
    if button is None:
        return
    action = str(button.dataset.action)
    if action == "copy-code":
        copy_text(button, str(button.parentElement.querySelector("code").textContent))
    elif action == "copy":
        copy_text(button, page.chat.messages[int(button.dataset.index)]["content"])
    elif action == "edit":
        index = int(button.dataset.index)

        def edit():
            box = view.element("prompt")
            box.value = page.chat.cut(index)
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
    if button is None or page.chats is None:
        return
    wanted = str(button.dataset.id)
    kept = next((c for c in page.chats.chats() if c["id"] == wanted), None)
    if kept is not None:
        view.element("history").open = False
        after_turn(lambda: new_chat(kept["messages"], kept.get("system", ""), wanted))


def on_system(event=None):
    if page.chat is not None:
        page.chat.system = str(view.element("system").value).strip()
    save_settings()


def save_settings(event=None):
    if page.chats is not None:
        page.chats.save_settings({id_: str(view.element(id_).value) for id_ in SETTINGS})


def restore_settings():
    for id_, value in (page.chats.settings() if page.chats else {}).items():
        if id_ in SETTINGS:
            view.element(id_).value = value


def on_forget(event=None):
    """Every kept chat and setting goes; the fields take their defaults; a new chat starts."""
    page.chats.forget()
    for id_ in SETTINGS:
        node = view.element(id_)
        node.value = "chat" if id_ == "mode" else node.defaultValue
    if page.chat is not None:
        page.chat.system = ""
    after_turn(new_chat)
    view.set_status("This browser no longer keeps any chat or setting of this page.")

