"""The chats and settings kept in localStorage (pyapp/runtime/chat_store.py), on a stand-in storage."""

from pyapp.runtime.page.chat_store import MAX_CHATS, ChatStore


class Storage(dict):
    full = False

    def getItem(self, key):
        return self.get(key)

    def setItem(self, key, value):
        if self.full:
            raise RuntimeError("QuotaExceededError")
        self[key] = value

    def removeItem(self, key):
        self.pop(key, None)


def test_chats_and_settings_round_trip_and_forget():
    storage = Storage()
    store = ChatStore(storage)
    store.save_chat("a", [{"role": "user", "content": "What is\n2+2?"}, {"role": "assistant", "content": "4"}], "")
    store.save_chat("b", [{"role": "user", "content": "Hi"}], "Be brief.")
    store.save_chat("empty", [], "")
    again = ChatStore(storage)  # a reload
    assert [c["id"] for c in again.chats()] == ["b", "a"]
    assert again.chats()[1]["title"] == "What is 2+2?" and again.chats()[0]["system"] == "Be brief."
    store.save_settings({"temperature": "0.5"})
    assert again.settings() == {"temperature": "0.5"}
    again.delete_chat("b")
    assert [c["id"] for c in again.chats()] == ["a"]
    again.forget()
    assert again.chats() == [] and again.settings() == {} and not storage


def test_junk_and_a_full_quota_keep_the_page_working():
    storage = Storage({"pyapp.chats": "not json", "pyapp.settings": "[1]"})
    store = ChatStore(storage)
    assert store.chats() == [] and store.settings() == {}
    for i in range(MAX_CHATS + 5):
        store.save_chat(str(i), [{"role": "user", "content": str(i)}], "")
    assert len(store.chats()) == MAX_CHATS
    storage.full = True
    store.save_chat("x", [{"role": "user", "content": "x"}], "")  # refused, silently
    assert "x" not in [c["id"] for c in store.chats()]
