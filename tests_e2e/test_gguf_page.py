"""A GGUF opened in the page, with no Python on the host: a static site (`python -m pyapp.build`,
no model) served by `python -m http.server`, the GGUF opened by URL and by file, repacked on the
GPU, answering as the reference; a reload starts it from the browser's store with no model bytes
fetched (a HEAD request only); opening another frees the first's GPU memory; a file that is no
GGUF, or a URL on a site that does not allow CORS, is named and the page stays usable."""

import shutil
from urllib.parse import urlsplit

from safetensors.numpy import load_file

from conftest import HERE
from pyapp.headless import boot
from test_static_site import build_site, static_server

GENERATE = """
from pyapp.runtime.page import app
from pyapp.runtime.model.sampling import Sampling
g = await app.page.model.generate(ARGS["ids"], Sampling(), ARGS["n"], stop_at_eos=False)
RESULT = g.generated_ids
"""


def golden(name: str) -> dict:
    gold = load_file(HERE / "goldens" / f"model_tiny_{name}.safetensors")
    return {"ids": gold["prompt_ids"].tolist(), "n": 6, "want": gold["generated_ids"].tolist()[:6]}


def wait_started(page, name: str):
    page.wait_for_function("""(name) => document.getElementById('model-name').textContent.includes(name)
                              && document.body.dataset.busy === '0'""", arg=name, timeout=120_000)


def gguf_gets(requests: list, name: str) -> list[str]:
    return [method for method, url in requests if urlsplit(url).path.endswith("/" + name)]


def answers(booted, case: dict) -> bool:
    return booted.py(GENERATE, ids=case["ids"], n=case["n"]) == case["want"]


def test_a_gguf_by_url_then_from_the_store(browser, tmp_path):
    build_site(tmp_path / "site")
    (tmp_path / "site" / "models").mkdir()
    shutil.copy(HERE / "goldens" / "tiny_kquant.gguf", tmp_path / "site" / "models")
    with static_server(tmp_path / "site") as base:
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append((r.method, r.url)))
        booted = boot(page, base + "/")
        page.fill("#gguf-url", "models/tiny_kquant.gguf")
        page.click("#open-url button")
        wait_started(page, "tiny_kquant.gguf")
        assert "downloaded" in page.inner_text("#model-name") and answers(booted, golden("kquant"))
        assert gguf_gets(requests, "tiny_kquant.gguf") == ["HEAD", "GET"]
        assert "gguf=models%2Ftiny_kquant.gguf" in page.url

        requests.clear()
        booted = boot(page, page.url)  # a reload opens it again, from the browser's store
        wait_started(page, "tiny_kquant.gguf")
        assert gguf_gets(requests, "tiny_kquant.gguf") == ["HEAD"]  # no model bytes
        assert "kept by this browser" in page.inner_text("#model-name") and answers(booted, golden("kquant"))
        assert len(page.query_selector_all("#kept-list li")) == 1

        for damage in ("bytes(3)", "flip"):  # a kept copy cut short, or of its full size with a byte changed
            page.evaluate(DAMAGE, damage)
            requests.clear()
            booted = boot(page, page.url)
            wait_started(page, "tiny_kquant.gguf")
            assert gguf_gets(requests, "tiny_kquant.gguf") == ["HEAD", "GET"], damage  # downloaded again
            assert "downloaded" in page.inner_text("#model-name") and answers(booted, golden("kquant"))

        # another model: the first one's GPU memory is freed before it loads
        booted.py("import builtins\nfrom pyapp.runtime.page import app\nbuiltins.OLD_MODEL = app.page.model")
        page.set_input_files("#gguf-file", str(HERE / "goldens" / "tiny_qwen3.gguf"))
        wait_started(page, "tiny_qwen3.gguf")
        assert answers(booted, golden("qwen3")) and len(page.query_selector_all("#kept-list li")) == 2
        assert "destroyed" in booted.py(WRITE_TO_THE_OLD_MODEL).lower()
        assert not booted.errors, booted.errors
        page.close()


DAMAGE = """async (how) => {
    const cache = await caches.open("pyapp-models");
    const key = (await cache.keys()).map((r) => r.url).find((u) => !u.includes("/index/"));
    const data = new Uint8Array(await (await cache.match(key)).arrayBuffer());
    if (how === "flip") data[data.length - 100] ^= 0xff; else data.set([1, 2, 3]);
    await cache.put(key, new Response(how === "flip" ? data : data.slice(0, 3)));
}"""

WRITE_TO_THE_OLD_MODEL = """
import builtins
from pyapp.runtime.page import app
from pyapp.runtime.gpu.device import GPUError
device, arena = app.page.device, next(iter(builtins.OLD_MODEL.weights.buffers.values()))
try:
    async with device.error_scope("a write to the closed model"):
        device.write(arena, bytes(16))
    RESULT = "written"
except GPUError as e:
    RESULT = str(e)
"""


def test_a_gguf_from_a_file_and_ones_that_fail(browser, tmp_path):
    build_site(tmp_path / "site")
    (tmp_path / "notes.gguf").write_text("these are notes, not a model\n")
    with static_server(tmp_path / "site") as base:
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append((r.method, r.url)))
        booted = boot(page, base + "/")
        page.set_input_files("#gguf-file", str(tmp_path / "notes.gguf"))
        page.wait_for_function("!document.getElementById('open-error').hidden")
        assert page.inner_text("#open-error") == (  # in words, beside the form: no Python repr
            "The GGUF notes.gguf cannot run here: not a GGUF file: it starts with \u201cthes\u201d, "
            "where a GGUF starts with \u201cGGUF\u201d")

        with static_server(tmp_path) as elsewhere:  # another origin, which sends no CORS headers
            page.fill("#gguf-url", f"{elsewhere}/notes.gguf")
            page.click("#open-url button")
            page.wait_for_function("document.getElementById('open-error').textContent.includes('CORS')")
        assert page.inner_text("#open-error").count(f"{elsewhere}/notes.gguf") == 1

        page.set_input_files("#gguf-file", str(HERE / "goldens" / "tiny_qwen3.gguf"))
        wait_started(page, "tiny_qwen3.gguf")
        assert page.is_hidden("#open-error") and answers(booted, golden("qwen3"))
        assert "kept=" in page.url

        requests.clear()
        booted = boot(page, page.url)  # the file is not there to read again: its kept copy is
        wait_started(page, "tiny_qwen3.gguf")
        assert "kept by this browser" in page.inner_text("#model-name") and answers(booted, golden("qwen3"))
        assert [url for _, url in requests if "/files/" in url or url.endswith(".gguf")] == []
        assert not booted.errors, booted.errors
        page.close()


def test_a_gguf_dropped_on_the_page(browser, tmp_path):
    """A file dropped on the page opens as a picked one does; the page shows where it can land."""
    build_site(tmp_path / "site")
    data = (HERE / "goldens" / "tiny_mixed.gguf").read_bytes()
    with static_server(tmp_path / "site") as base:
        page = browser.new_page()
        booted = boot(page, base + "/")
        drop = page.evaluate_handle("""(bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], "tiny_mixed.gguf"));
            return dt;
        }""", list(data))
        page.dispatch_event("body", "dragover", {"dataTransfer": drop})
        assert page.evaluate("document.body.classList.contains('dragging')")
        page.dispatch_event("body", "drop", {"dataTransfer": drop})
        wait_started(page, "tiny_mixed.gguf")
        assert not page.evaluate("document.body.classList.contains('dragging')")
        assert answers(booted, golden("mixed")) and not booted.errors
        page.close()


def test_a_known_models_open_button_opens_the_sites_copy(browser, tmp_path):
    """A known model's Open tries the file of that name in the site's models/ folder: one that is
    there opens and answers; one that is not is named beside the form and the running model stays."""
    from pyapp.runtime.page.known_models import KNOWN

    there, missing = KNOWN[0].file, KNOWN[1].file
    build_site(tmp_path / "site")
    (tmp_path / "site" / "models").mkdir()
    shutil.copy(HERE / "goldens" / "tiny_kquant.gguf", tmp_path / "site" / "models" / there)  # its bytes, that name
    with static_server(tmp_path / "site") as base:
        page = browser.new_page()
        booted = boot(page, base + "/")
        page.click("#tab-models")
        page.click(f"#known-models button[data-file='{there}']")
        wait_started(page, there)
        assert answers(booted, golden("kquant")) and page.is_hidden("#open-error")

        page.click("#tab-models")
        page.click(f"#known-models button[data-file='{missing}']")
        page.wait_for_function("!document.getElementById('open-error').hidden")
        assert missing in page.inner_text("#open-error") and "answered 404" in page.inner_text("#open-error")
        assert there in page.inner_text("#model-name") and answers(booted, golden("kquant"))
        assert not booted.errors, booted.errors
        page.close()
