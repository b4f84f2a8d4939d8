"""The page as a static site (`python -m pyapp.build`) hosted by `python -m http.server`: it
boots under a path prefix, loads nothing from other hosts, and with a model its Generate button
gives the reference's greedy tokens."""

import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from safetensors.numpy import load_file

from conftest import HERE
from pyapp.headless import boot

ROOT = HERE.parent


def build_site(out: Path, *args: str):
    result = subprocess.run([sys.executable, "-m", "pyapp.build", str(out), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@contextmanager
def static_server(folder: Path):
    """`python -m http.server` on a free port of 127.0.0.1 serving folder; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                             "--directory", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = re.search(r" port (\d+) ", proc.stdout.readline())[1]  # "Serving HTTP on 127.0.0.1 port N ..."
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def booted_site(browser, url: str):
    """The page at url, booted; it lists every request's URL and every (status, URL, Content-Type) answer."""
    page = browser.new_page()
    requests, responses = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: responses.append((r.status, r.url, r.headers.get("content-type", ""))))
    try:
        booted = boot(page, url)
        booted.requests, booted.responses = requests, responses
        yield booted
    finally:
        page.close()


def assert_only_served_from(booted, base: str):
    hosts = {urlsplit(url).netloc for url in booted.requests}
    assert hosts == {urlsplit(base).netloc}, hosts
    assert len(booted.responses) == len(booted.requests) and [r for r in booted.responses if r[0] != 200] == []
    assert not booted.errors, booted.errors


def test_the_site_boots_under_a_path_prefix(browser, tmp_path):
    build_site(tmp_path / "demo" / "site")
    with static_server(tmp_path) as base, booted_site(browser, base + "/demo/site/") as booted:
        assert booted.page.evaluate("document.body.dataset.state") == "ready"
        assert_only_served_from(booted, base)
        mime = {urlsplit(url).path.rsplit("/", 1)[1]: kind for _, url, kind in booted.responses}
        # as Python's mimetypes names them: module scripts and streamed wasm need these
        assert mime["pyodide.mjs"] in ("text/javascript", "application/javascript")
        assert mime["pyodide.asm.wasm"] == "application/wasm"


def test_the_site_with_a_model_answers_as_the_reference(browser, tmp_path):
    gold = load_file(HERE / "goldens" / "model_tiny_mixed.safetensors")
    prompt, want = gold["prompt_ids"].tolist(), gold["generated_ids"].tolist()[:6]
    build_site(tmp_path / "site", "--model", str(HERE / "goldens" / "tiny_mixed.gguf"))
    with static_server(tmp_path / "site") as base, booted_site(browser, base + "/") as booted:
        page = booted.page
        assert "context" in page.inner_text("#model-name")
        # The tiny vocabulary cannot spell the golden's prompt from text (its token "t2" has no
        # path from bytes), so the prompt box's text encodes to the golden's ids here.
        text = booted.py("""
            from pyapp.runtime.page import app
            tok, ids = app.page.model.tok, list(ARGS["ids"])
            RESULT = text = tok.decode(ids)
            encode = tok.encode
            tok.encode = lambda t, add_bos=None: list(ids) if t == text else encode(t, add_bos)
        """, ids=prompt)
        page.select_option("#mode", "completion")
        page.fill("#prompt", text)
        page.fill("#temperature", "0")
        page.fill("#repeat-penalty", "1")  # the reference's greedy tokens have no penalty
        page.fill("#max-tokens", str(len(want)))
        page.click("#generate")
        page.wait_for_function("document.body.dataset.busy === '0' && "
                               "document.getElementById('stats').dataset.reason", timeout=120_000)
        answer = booted.py("from pyapp.runtime.page import app\nRESULT = app.page.model.tok.decode(ARGS['ids'])", ids=want)
        assert page.inner_text("#output") == text + answer
        assert f"answer {len(want)} tokens" in page.inner_text("#stats")
        assert_only_served_from(booted, base)
