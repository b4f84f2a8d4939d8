"""Models kept in the browser (pyapp/runtime/page/store.py): a reload starts the model with no
model bytes fetched and answers as the reference; the page lists the kept model and deletes it;
a damaged entry is downloaded again, never used; a browser that refuses to keep the model (its
quota) says so and works uncached. The tiny mixed model, served as `pyapp.serve --model` serves."""

import json
from contextlib import contextmanager

from safetensors.numpy import load_file

from conftest import HERE, golden_mounts
from pyapp.headless import boot
from pyapp.serve import Site, serve_in_thread

BUNDLE_FILES = ("config.json", "tokenizer.json", "model.safetensors")
GENERATE = """
from pyapp.runtime.page import app
from pyapp.runtime.model.sampling import Sampling
g = await app.page.model.generate(ARGS["ids"], Sampling(), ARGS["n"], stop_at_eos=False)
RESULT = g.generated_ids
"""


@contextmanager
def served_page(browser, bundle):
    """A server for the bundle, and one browser page (its own storage) that counts the bundle files it fetches."""
    server, url = serve_in_thread(Site(mounts={**golden_mounts(), "model": bundle}, config={"model": "/files/model/"}))
    page = browser.new_page()
    page.fetched = []
    page.on("request", lambda r: page.fetched.append(r.url.rsplit("/", 1)[1]))
    try:
        yield page, url + "/"
    finally:
        page.close()
        server.shutdown()


def model_fetches(page) -> int:
    return sum(page.fetched.count(name) for name in BUNDLE_FILES)


def kept(page) -> list[str]:
    return page.eval_on_selector_all("#kept-list li", "items => items.map(i => i.firstChild.textContent)")


def test_a_reload_starts_the_model_from_the_browser(browser, tiny_bundles):
    bundle = tiny_bundles["mixed"]
    gold = load_file(HERE / "goldens" / "model_tiny_mixed.safetensors")
    args = {"ids": gold["prompt_ids"].tolist(), "n": 6}
    size = sum(f["size"] for f in json.loads((bundle / "manifest.json").read_text())["files"].values())
    with served_page(browser, bundle) as (page, url):
        booted = boot(page, url)
        assert model_fetches(page) == 3 and "downloaded" in page.inner_text("#model-name")
        assert len(kept(page)) == 1 and f"{size / 1e6:.1f} MB" in kept(page)[0]

        page.fetched.clear()
        booted = boot(page, url)  # a reload: the same origin and storage
        assert model_fetches(page) == 0, page.fetched
        assert "manifest.json" in page.fetched and "kept by this browser" in page.inner_text("#model-name")
        assert booted.py(GENERATE, **args) == gold["generated_ids"].tolist()[:6]

        page.once("dialog", lambda dialog: dialog.accept())  # "Delete ... from this browser?"
        page.click("#tab-models")
        page.click("#kept-list button.delete")
        page.wait_for_function("document.querySelectorAll('#kept-list li').length === 0")
        assert page.inner_text("#kept-summary") == "none yet"
        page.fetched.clear()
        boot(page, url)
        assert model_fetches(page) == 3 and "downloaded" in page.inner_text("#model-name")
        assert not booted.errors, booted.errors


def test_a_damaged_entry_is_downloaded_again(browser, tiny_bundles):
    bundle = tiny_bundles["mixed"]
    weights = json.loads((bundle / "manifest.json").read_text())["files"]["model.safetensors"]["sha256"]
    gold = load_file(HERE / "goldens" / "model_tiny_mixed.safetensors")
    with served_page(browser, bundle) as (page, url):
        boot(page, url)
        page.evaluate("""async (key) => {
            const cache = await caches.open("pyapp-models");
            await cache.put(key, new Response(new Uint8Array([1, 2, 3])));
        }""", f"/pyapp-models/{weights}")
        page.fetched.clear()
        booted = boot(page, url)
        assert page.fetched.count("model.safetensors") == 1 and page.fetched.count("config.json") == 0
        assert booted.py(GENERATE, ids=gold["prompt_ids"].tolist(), n=6) == gold["generated_ids"].tolist()[:6]
        page.fetched.clear()
        boot(page, url)  # kept again, whole this time
        assert model_fetches(page) == 0


def test_a_full_quota_is_said_and_the_page_still_works(browser, tiny_bundles):
    with served_page(browser, tiny_bundles["mixed"]) as (page, url):
        page.add_init_script("""Cache.prototype.put = async function () {
            throw new DOMException("the quota is exceeded", "QuotaExceededError");
        };""")
        booted = boot(page, url)
        assert "the browser did not keep the model (its storage quota is full)" in page.inner_text("#status")
        assert kept(page) == [] and page.inner_text("#kept-summary") == "none yet"
        page.fetched.clear()
        boot(page, url)
        assert model_fetches(page) == 3 and not booted.errors
