"""The chats and the settings this browser keeps across reloads: JSON in localStorage.

localStorage, not IndexedDB: a chat is a few KB of text and the page reads it once at start;
its synchronous calls need no await in the event handlers that save. `storage` is anything with
getItem/setItem/removeItem (js.localStorage in the page, a dict-backed stand-in in tests). A
browser that refuses storage (private mode, a full quota) keeps nothing, and the page works on.
"""

from __future__ import annotations

import json
import time

CHATS, SETTINGS = "pyapp.chats", "pyapp.settings"
MAX_CHATS = 50  # the oldest chats beyond this are forgotten


class ChatStore:
    def __init__(self, storage):
        self.storage = storage

    def _read(self, key: str, default):
        try:
            raw = self.storage.getItem(key)
            value = json.loads(raw) if raw else default
            return value if isinstance(value, type(default)) else default
        except Exception:  # storage refused, or a value that is not ours: start empty
            return default

    def _write(self, key: str, value) -> bool:
        try:
            self.storage.setItem(key, json.dumps(value))
            return True
        except Exception:  # a full quota or private mode: the page works on, keeping nothing
            return False

    def chats(self) -> list[dict]:
        """[{id, title, messages, system, updated}], the latest first."""
        chats = [c for c in self._read(CHATS, []) if isinstance(c, dict) and isinstance(c.get("messages"), list)]
        return sorted(chats, key=lambda c: -c.get("updated", 0))

    def save_chat(self, chat_id: str, messages: list[dict], system: str):
        """Keep a chat under its id (a new one goes first); a chat with no message is not kept."""
        chats = [c for c in self.chats() if c.get("id") != chat_id]
        if messages:
            title = next((m["content"] for m in messages if m["role"] == "user"), "")
            chats.insert(0, {"id": chat_id, "title": " ".join(title.split())[:60], "messages": messages,
                             "system": system, "updated": time.time()})
        self._write(CHATS, chats[:MAX_CHATS])

    def delete_chat(self, chat_id: str):
        self._write(CHATS, [c for c in self.chats() if c.get("id") != chat_id])

    def settings(self) -> dict:
        return {k: v for k, v in self._read(SETTINGS, {}).items() if isinstance(v, str)}

    def save_settings(self, values: dict):
        self._write(SETTINGS, values)

    def forget(self):
        """Every chat and setting kept here goes."""
        for key in (CHATS, SETTINGS):
            try:
                self.storage.removeItem(key)
            except Exception:
                pass


def new_id() -> str:
    return f"c{time.time_ns():x}"
