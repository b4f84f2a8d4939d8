"""The chat page as a person uses it (issue 18): SmolLM2 in the page, driven by typing, clicking,
pressing keys and reloading; every assertion is about what the page shows. Greedy decoding
(temperature 0) keeps the answers short and the runs quick on SwiftShader."""

import json
import time

from conftest import BOOT_TIMEOUT_MS, install_inpage
from pyapp.headless import boot

DONE = "document.body.dataset.busy === '0' && document.getElementById('stats').dataset.reason"
HISTORY = "from pyapp.runtime.page import app\nRESULT = app.page.chat.messages"


def settle(page):
    """Settings for short greedy turns, and an empty chat."""
    page.click("#tab-chat")
    page.select_option("#mode", "chat")
    for field, value in (("#temperature", "0"), ("#max-tokens", "3"), ("#repeat-penalty", "1"), ("#seed", "")):
        page.fill(field, value)
    page.click("#clear")
    page.wait_for_function("document.querySelectorAll('#output .msg').length === 0")


def send(page, text: str, max_tokens: int = 3):
    page.fill("#max-tokens", str(max_tokens))
    page.evaluate("document.getElementById('stats').removeAttribute('data-reason')")
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")
    page.wait_for_function(DONE, timeout=300_000)


def messages(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        "#output .msg", "ms => ms.map(m => [m.className.split(' ')[1], m.querySelector('.text').innerText])")


def test_enter_sends_shift_enter_is_a_newline_and_the_box_empties(model_app):
    page = model_app.page
    settle(page)
    assert page.is_visible("#prompt") and page.is_visible("#output")  # the chat leads; the model form is a tab away
    assert not page.is_visible("#gguf-url") and not page.is_visible("#env-table")
    page.fill("#prompt", "")
    page.type("#prompt", "Say hi")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("in French.")
    assert page.input_value("#prompt") == "Say hi\nin French." and page.evaluate("document.body.dataset.busy") != "1"
    page.evaluate("document.getElementById('stats').removeAttribute('data-reason')")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('prompt').value === ''")  # emptied as it is sent
    page.wait_for_function(DONE, timeout=300_000)
    shown = messages(page)
    assert shown[0] == ["user", "Say hi\nin French."] and shown[1][0] == "assistant" and shown[1][1]
    stats = page.inner_text("#stats")
    assert stats.startswith("Prompt ") and stats.endswith("reached the token limit") and "seed" not in stats
    assert "smollm2" in page.inner_text("#output .msg.assistant .who").lower()
    line = page.inner_text("#model-name")
    assert "MB on the GPU" in line and "context 2,048 tokens" in line and "tokens/s" in line
    assert all(part in line for part in ("weights ", "KV cache ", "activations "))
    assert "dispatches" not in line


def test_a_failed_open_keeps_the_chat_and_says_why_beside_the_form(model_app):
    page = model_app.page
    settle(page)
    send(page, "What is the capital of France?")
    before = messages(page)
    page.click("#tab-models")
    page.fill("#gguf-url", "/files/goldens/no-such-model.gguf")
    page.click("#open-url button")
    page.wait_for_function("!document.getElementById('open-error').hidden", timeout=60_000)
    said = page.inner_text("#open-error")
    assert said == "Could not open the GGUF /files/goldens/no-such-model.gguf: the server answered 404 (Not Found)"
    page.click("#tab-chat")
    assert messages(page) == before and page.is_visible("#prompt")  # the chat and its model are still there
    send(page, "And of Italy?")
    assert [m[0] for m in messages(page)] == ["user", "assistant", "user", "assistant"]
    assert len(model_app.py(HISTORY)) == 4


def test_clear_during_an_answer_stops_it_and_the_next_prompt_is_only_the_new_question(model_app):
    page = model_app.page
    settle(page)
    page.fill("#max-tokens", "40")
    page.fill("#prompt", "Tell me a long story about a dragon.")
    page.press("#prompt", "Enter")
    page.wait_for_function("/^[0-9]+ tokens/.test(document.getElementById('stats').textContent)", timeout=300_000)
    page.click("#clear")
    page.wait_for_function("document.body.dataset.busy === '0' && document.querySelectorAll('#output .msg').length === 0",
                           timeout=120_000)
    assert model_app.py(HISTORY) == []
    send(page, "What is 2+2?")
    shown = messages(page)
    assert [m[0] for m in shown] == ["user", "assistant"] and shown[0][1] == "What is 2+2?"
    r = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.tokenizer import chat_template as chat
        tok, m = app.page.model.tok, app.page.model
        text, _ = chat.prompt(tok, [{"role": "user", "content": "What is 2+2?"}])
        ids = tok.encode(text, add_bos=False)
        RESULT = {"ids": ids, "cached": m.cached_ids[:len(ids)], "history": app.page.chat.messages}
    """)
    assert r["cached"] == r["ids"]  # the model was given this question alone, not the cleared story
    assert [x["role"] for x in r["history"]] == ["user", "assistant"]


def test_a_mode_change_starts_a_new_chat_so_what_is_shown_is_what_the_model_gets(model_app):
    page = model_app.page
    settle(page)
    send(page, "Hello!")
    page.select_option("#mode", "completion")
    page.wait_for_function("document.querySelectorAll('#output .msg').length === 0")
    assert model_app.py(HISTORY) == []
    send(page, "The capital of France is")
    assert page.inner_text("#output").startswith("The capital of France is") and model_app.py(HISTORY) == []
    page.select_option("#mode", "chat")
    page.wait_for_function("document.querySelectorAll('#output .msg').length === 0")
    send(page, "Hi")
    assert [m[0] for m in messages(page)] == ["user", "assistant"] and len(model_app.py(HISTORY)) == 2


def test_regenerate_edit_and_the_system_prompt(model_app):
    page = model_app.page
    settle(page)
    assert "You are a helpful AI assistant named SmolLM" in page.get_attribute("#system", "placeholder")
    page.fill("#system", "You are a pirate.")
    page.dispatch_event("#system", "change")
    send(page, "Who are you?")
    first = messages(page)
    page.fill("#temperature", "0.8")
    page.evaluate("document.getElementById('stats').removeAttribute('data-reason')")
    page.click("#regenerate")
    page.wait_for_function(DONE, timeout=300_000)
    again = messages(page)
    assert [m[0] for m in again] == ["user", "assistant"] and again[0] == first[0]  # the same question, once
    assert "seed " in page.inner_text("#stats")  # a drawn seed, said
    history = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.tokenizer import chat_template as chat
        c = app.page.chat
        RESULT = chat.prompt(c.model.tok, c._rendered())[0]
    """)
    assert "You are a pirate." in history and "named SmolLM" not in history
    page.fill("#temperature", "0")
    page.click("#output .msg.user button[data-action=edit]")
    page.wait_for_function("document.getElementById('prompt').value === 'Who are you?'")
    assert messages(page) == [] and model_app.py(HISTORY) == []
    page.fill("#prompt", "Who are you, really?")
    page.evaluate("document.getElementById('stats').removeAttribute('data-reason')")
    page.press("#prompt", "Enter")
    page.wait_for_function(DONE, timeout=300_000)
    assert messages(page)[0] == ["user", "Who are you, really?"]
    reused = int(page.inner_text("#stats").split("(")[1].split(" from the cache")[0])
    assert reused > 5  # the system prompt and the template's head came from the cache
    page.fill("#system", "")
    page.dispatch_event("#system", "change")


HOSTILE = ("Here is **bold** and `code`.\n\n<img src=x onerror=\"window.pwned=1\"> <script>window.pwned=2</script>"
           " [click](javascript:window.pwned=3) [docs](https://example.org)\n\n```python\nprint('<b>hi</b>')\n```")


def test_chats_and_settings_survive_a_reload_answers_are_safe_markdown_and_forget_forgets(model_app):
    page = model_app.page
    settle(page)
    send(page, "Name a color.")
    page.fill("#temperature", "0.3")
    page.dispatch_event("#temperature", "change")
    kept = [{"id": "hostile", "title": "A hostile answer", "system": "", "updated": 1,
             "messages": [{"role": "user", "content": "Show me."}, {"role": "assistant", "content": HOSTILE}]}]
    page.evaluate("""(extra) => { const chats = JSON.parse(localStorage.getItem('pyapp.chats'));
                                  localStorage.setItem('pyapp.chats', JSON.stringify(chats.concat(extra))); }""", kept)
    install_inpage(boot(page, page.url, BOOT_TIMEOUT_MS))  # a reload (the in-page helpers go with it)
    page.wait_for_function("document.querySelectorAll('#output .msg').length === 2")
    assert messages(page)[0] == ["user", "Name a color."] and page.input_value("#temperature") == "0.3"
    page.click("#history summary")
    titles = page.eval_on_selector_all("#chat-list button", "bs => bs.map(b => b.textContent)")
    assert titles[0] == "Name a color." and titles[-1] == "A hostile answer"  # the latest first

    page.click("#chat-list button[data-id=hostile]")
    page.wait_for_function("document.querySelector('#output pre') !== null")
    answer = "#output .msg.assistant .text"
    assert page.inner_text(f"{answer} strong") == "bold" and page.inner_text(f"{answer} p code") == "code"
    assert page.evaluate("window.pwned") is None
    assert page.query_selector_all("#output img, #output script") == []
    assert page.eval_on_selector_all(f"{answer} a", "as => as.map(a => a.getAttribute('href'))") == ["https://example.org"]
    assert '<img src=x onerror="window.pwned=1">' in page.inner_text(answer)  # shown as the text it is
    assert page.inner_text(f"{answer} pre code") == "print('<b>hi</b>')"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click(f"{answer} pre button.copy")
    page.wait_for_function("document.querySelector('#output pre button.copy').textContent !== 'Copy'")
    assert page.inner_text(f"{answer} pre button.copy") == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == "print('<b>hi</b>')"
    page.click("#output .msg.assistant .tools button[data-action=copy]")
    page.wait_for_function("navigator.clipboard.readText().then(t => t.startsWith('Here is **bold**'))")

    page.click("#new-chat")
    page.wait_for_function("document.querySelectorAll('#output .msg').length === 0")
    page.click("#forget")
    page.wait_for_function("document.getElementById('status').textContent.includes('no longer keeps')")
    assert page.input_value("#temperature") == "0.7"
    install_inpage(boot(page, page.url, BOOT_TIMEOUT_MS))
    assert messages(page) == [] and page.input_value("#temperature") == "0.7"
    assert json.loads(page.evaluate("localStorage.getItem('pyapp.chats') || '[]'")) == []


def test_stop_during_a_long_prompt_lands_soon_and_counts_what_ran(model_app):
    page = model_app.page
    settle(page)
    page.fill("#max-tokens", "4")
    long = "Summarize this text. " + "The quick brown fox jumps over the lazy dog near the river bank. " * 40
    page.fill("#prompt", long)
    page.evaluate("document.getElementById('stats').removeAttribute('data-reason')")
    page.press("#prompt", "Enter")
    page.wait_for_function("document.getElementById('stats').textContent.startsWith('Reading the prompt: ')",
                           timeout=300_000)
    progress = page.inner_text("#stats")
    done, total = (int(x) for x in progress.split(": ")[1].split(" tokens")[0].split(" / "))
    assert 0 < done < total
    t0 = time.monotonic()
    page.click("#stop")
    assert page.inner_text("#status") == "Stopping…"
    page.wait_for_function(DONE, timeout=300_000)
    waited = time.monotonic() - t0
    stats = page.inner_text("#stats")
    assert stats.endswith("stopped by you") and f" of {total} read" in stats
    ran = int(stats.split(" of ")[0].rsplit(", ", 1)[1])
    assert done <= ran < total
    assert page.input_value("#prompt") == long and messages(page) == []  # the question is not lost
    chunk = model_app.py("from pyapp.runtime.page import app\nRESULT = app.page.model.prefill_chunk")
    # SwiftShader here: chunks sized to ~0.2 s each; the stop waits for at most the two in flight
    assert chunk < 128 and waited < 15, (chunk, waited, stats)
    print(f"stop took {waited:.1f} s; prefill chunk {chunk} rows; {ran} of {total} prompt tokens ran")


def test_deleting_the_running_model_asks_first_and_a_reload_starts_the_default(model_app):
    page = model_app.page
    page.click("#tab-models")
    page.fill("#gguf-url", "/files/goldens/tiny_kquant.gguf")
    page.click("#open-url button")
    page.wait_for_function("""document.getElementById('model-name').textContent.includes('tiny_kquant')
                              && document.body.dataset.busy === '0'""", timeout=120_000)
    assert "gguf=" in page.url and page.is_visible("#prompt")  # the chat shows again with the new model
    page.click("#tab-models")
    tiny = "#kept-list li:has-text('tiny_kquant') button.delete"
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click(tiny)
    page.wait_for_timeout(500)
    assert asked and "tiny_kquant" in asked[0] and "running now" in asked[0]
    assert page.query_selector(tiny) is not None  # dismissed: still kept
    page.once("dialog", lambda d: d.accept())
    page.click(tiny)
    page.wait_for_function("!document.querySelector(\"#kept-list\").textContent.includes('tiny_kquant')")
    assert "gguf=" not in page.url
    install_inpage(boot(page, page.url, BOOT_TIMEOUT_MS))  # the reload starts the default model, with no error
    assert "tiny" not in page.inner_text("#model-name") and page.is_hidden("#open-error")
    assert model_app.py("from pyapp.runtime.page import app\nRESULT = app.page.model.cfg.basename") == "smollm2"

    base = page.url.split("?")[0]
    page.goto(base + "?kept=gone")  # an address naming a model no longer kept: said, and the default runs
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=BOOT_TIMEOUT_MS)
    assert "no longer keeps that model" in page.inner_text("#open-error")
    assert model_app.py("from pyapp.runtime.page import app\nRESULT = app.page.model.cfg.basename") == "smollm2"
    install_inpage(boot(page, base, BOOT_TIMEOUT_MS))  # later tests find the page as it was booted


def test_the_page_fits_400_px_without_scrolling_sideways(model_app):
    page = model_app.page
    size = page.viewport_size
    try:
        page.set_viewport_size({"width": 400, "height": 800})
        for tab in ("#tab-chat", "#tab-models"):
            page.click(tab)
            assert page.evaluate("document.documentElement.scrollWidth") <= 400, tab
        assert page.is_visible("#known-models") and "SmolLM2 135M Instruct" in page.inner_text("#known-models")
        assert "pyapp.serve --cors" in page.inner_text("#known-next")
    finally:
        page.click("#tab-chat")
        page.set_viewport_size(size)
