"""SmolLM2-135M-Instruct generating in headless Chromium, against goldens computed ahead of time.

The goldens come from pyapp.reference (numpy fp64 on weights dequantized by the gguf package),
which tests_e2e/check_reference.py checked against Hugging Face transformers' LlamaForCausalLM
on the same GGUF: identical greedy tokens, logits within 5e-5. The page's logits meet the
house tolerance (abs 1e-4 OR rel 1e-3 per element; measured worst 5.3e-5 on logits up to 38)
at every step, and the greedy tokens must match exactly.
"""

import json
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from conftest import HERE, TINY, assert_close, decode, golden_path, page_with_model

def golden(name):
    path = golden_path(f"goldens/{name}")
    with safe_open(path, "np") as f:
        meta = f.metadata()
    return load_file(path), meta


def run_greedy(page, prompt_ids, n):
    return page.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.model.sampling import Sampling
        from e2e import b64, created
        before = created()
        g = await app.page.model.generate(ARGS["ids"], Sampling(), ARGS["n"], record_logits=True)
        RESULT = {"ids": g.generated_ids, "logits": [b64(x) for x in g.logits], "reason": g.stop_reason,
                  "new_objects": {k: v - before.get(k, 0) for k, v in created().items()}}
    """, ids=prompt_ids, n=n)


@pytest.mark.parametrize("name", ["model_smollm2_0", "model_smollm2_1", "model_smollm2_chat"])
def test_greedy_tokens_and_logits_match_the_reference(model_app, name):
    gold, meta = golden(name)
    want = gold["generated_ids"].tolist()
    r = run_greedy(model_app, gold["prompt_ids"].tolist(), len(want))
    assert r["ids"] == want, f"{meta['prompt']!r}: got {r['ids']}, want {want} ({meta['text']!r})"
    for i, (got, ref) in enumerate(zip(r["logits"], gold["logits"])):
        assert_close(decode(got), ref, what=f"{name} step {i} logits")
    assert all(v == 0 for v in r["new_objects"].values()), f"generation created GPU objects: {r['new_objects']}"


def test_prompt_past_one_prefill_chunk(model_app):
    """A prompt longer than one prefill chunk: the chat golden's 37 tokens through a model whose
    prefill graph takes 16 rows (16 + 16 + 5) on the same weights, against the reference."""
    gold, _ = golden("model_smollm2_chat")
    want = gold["generated_ids"].tolist()[:4]
    r = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.model.model import Model
        from pyapp.runtime.model.sampling import Sampling
        from e2e import b64
        m = app.page.model
        small = Model(m.device, m.cfg, m.weights, m.tok, max_context=256, prefill_rows=16)
        await small.prepare()
        small.chunks.target_s = None  # chunks of prefill_rows, not sized by their time
        g = await small.generate(ARGS["ids"], Sampling(), ARGS["n"], record_logits=True)
        RESULT = {"chunks": small.prefill_graph.executions, "ids": g.generated_ids,
                  "logits": [b64(x) for x in g.logits]}
    """, ids=gold["prompt_ids"].tolist(), n=len(want))
    assert len(gold["prompt_ids"]) == 37 and r["chunks"] == 3
    assert r["ids"] == want
    for i, (got, ref) in enumerate(zip(r["logits"], gold["logits"])):
        assert_close(decode(got), ref, what=f"16-row chunks, step {i} logits")


def test_tokenizer_in_the_page_matches_the_reference(model_app):
    cases = json.loads((Path(__file__).parents[1] / "tests" / "data" / "tokenizer_smollm2.json").read_text())["cases"]
    got = model_app.py("""
        from pyapp.runtime.page import app
        RESULT = [app.page.model.tok.encode(t) for t in ARGS["texts"]]
    """, texts=[c["text"] for c in cases])
    assert got == [c["ids"] for c in cases]


def test_chat_in_the_page_answers_as_the_reference(model_app):
    gold, meta = golden("model_smollm2_chat")
    page = model_app.page
    page.click("#clear")
    page.fill("#prompt", meta["question"])
    page.select_option("#mode", "chat")
    page.fill("#temperature", "0")
    page.fill("#repeat-penalty", "1")  # the reference's greedy tokens have no penalty
    page.fill("#max-tokens", "32")
    page.click("#generate")
    page.wait_for_function("document.body.dataset.busy === '0' && document.getElementById('stats').dataset.reason",
                           timeout=300_000)
    assert meta["text"].strip() in page.inner_text("#output .msg.assistant .text")
    stats = page.inner_text("#stats")
    assert stats.endswith("end of answer") and "tokens/s" in stats and "from the cache" in stats


def test_sampling_is_seeded_and_top_k_one_is_greedy(model_app):
    gold, _ = golden("model_smollm2_0")
    r = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.model.sampling import Sampling
        m = app.page.model
        ids = ARGS["ids"]
        a = await m.generate(ids, Sampling(temperature=0.9, top_k=20, top_p=0.9, seed=1), 6)
        b = await m.generate(ids, Sampling(temperature=0.9, top_k=20, top_p=0.9, seed=1), 6)
        k1 = await m.generate(ids, Sampling(temperature=1.3, top_k=1, seed=9), 6)
        RESULT = [a.generated_ids, b.generated_ids, k1.generated_ids]
    """, ids=gold["prompt_ids"].tolist())
    assert r[0] == r[1]
    assert r[2] == gold["generated_ids"].tolist()[:6]


def test_stop_and_bad_input_are_handled(model_app):
    r = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.model.sampling import Sampling
        m = app.page.model
        seen = []
        async def on_token(t):
            seen.append(t)
        g = await m.generate([504, 3575, 282], Sampling(), 50, on_token, should_stop=lambda: len(seen) >= 3)
        errors = []
        for ids in ([], [10**6], list(range(m.cmax + 1))):
            try:
                await m.generate(ids, Sampling(), 4)
            except ValueError as e:
                errors.append(str(e))
        RESULT = {"reason": g.stop_reason, "n": len(g.generated_ids), "errors": errors}
    """)
    assert r["reason"] == "stopped" and r["n"] == 3
    assert "empty" in r["errors"][0] and "outside the vocabulary" in r["errors"][1]
    assert "does not fit the context" in r["errors"][2]


@pytest.mark.parametrize("tiny", TINY)
@pytest.mark.parametrize("style, fused", [("lanes", True), ("subgroups", True), ("workgroups", True),
                                          ("workgroups", False), ("lanes", False)])
def test_every_kernel_style_and_path_runs_the_model(tiny_mounted, tiny, style, fused):
    """Each path (fused, ExecuTorch ops) in each kernel style a device may get, forced here on the
    tiny models so that SwiftShader checks them all: exact tokens and logits at every step."""
    gold, _ = golden(f"model_tiny_{tiny}")
    r = tiny_mounted.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.page import bundle
        from pyapp.runtime.model.sampling import Sampling
        from e2e import b64
        m = (await bundle.open_model(app.page.device, f"/files/tiny_{ARGS['tiny']}/", kernel_style=ARGS["style"],
                             fused=ARGS["fused"])).model
        g = await m.generate(ARGS["ids"], Sampling(), ARGS["n"], record_logits=True)
        RESULT = {"ids": g.generated_ids, "logits": [b64(x) for x in g.logits], "fused": m.fused,
                  "kernels": sorted({d.kernel for d in m.decode_graph.dispatches})}
    """, ids=gold["prompt_ids"].tolist(), n=len(gold["generated_ids"]), style=style, fused=fused, tiny=tiny)
    assert r["fused"] == fused and ("qkv_rope" in r["kernels"]) == fused
    assert r["ids"] == gold["generated_ids"].tolist()
    for i, (got, ref) in enumerate(zip(r["logits"], gold["logits"])):
        assert_close(decode(got), ref, what=f"tiny {tiny} model ({style}, fused={fused}) step {i} logits")


@pytest.mark.parametrize("style", ["lanes", "subgroups", "workgroups"])
def test_the_fused_path_reads_the_ggufs_own_q4_k_blocks(tiny_mounted, style):
    """tiny_kquant exported with --blocks: its Q4_K matrices (the head among them) are the file's
    bytes, dequantized in the fused kernels, in every style and in prefill; the same tokens and
    logits as the reference. The ExecuTorch ops cannot read them, which the page says."""
    gold, _ = golden("model_tiny_kquant")
    r = tiny_mounted.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.page import bundle
        from pyapp.runtime.model.sampling import Sampling
        from e2e import b64
        m = (await bundle.open_model(app.page.device, "/files/tiny_kquant_blocks/", kernel_style=ARGS["style"])).model
        g = await m.generate(ARGS["ids"], Sampling(), ARGS["n"], record_logits=True)
        try:
            await bundle.open_model(app.page.device, "/files/tiny_kquant_blocks/", kernel_style=ARGS["style"], fused=False)
            refused = None
        except ValueError as e:
            refused = str(e)
        RESULT = {"ids": g.generated_ids, "logits": [b64(x) for x in g.logits], "fused": m.fused, "refused": refused,
                  "blocks": m.cfg.gguf_blocks()}
    """, ids=gold["prompt_ids"].tolist(), n=len(gold["generated_ids"]), style=style)
    assert r["fused"] and "output.weight" in r["blocks"] and len(r["blocks"]) >= 3
    assert r["ids"] == gold["generated_ids"].tolist()
    for i, (got, ref) in enumerate(zip(r["logits"], gold["logits"])):
        assert_close(decode(got), ref, what=f"tiny kquant blocks ({style}) step {i} logits")
    assert "only the fused path reads" in r["refused"]


def test_decoding_on_the_gpu_feeds_itself_in_batches(tiny_mounted):
    """Greedy decoding on the fused path: each step's token feeds the next on the GPU, several
    steps a submit; the tokens equal the reference's, a stop lands exactly, and nothing is created."""
    gold, _ = golden("model_tiny_mixed")
    want = gold["generated_ids"].tolist()
    r = tiny_mounted.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.page import bundle
        from pyapp.runtime.model.sampling import Sampling
        from e2e import created
        m = (await bundle.open_model(app.page.device, "/files/tiny_mixed/", kernel_style="subgroups", fused=True)).model
        await m.generate(ARGS["ids"], Sampling(), 3)
        before = created()
        full = await m.generate(ARGS["ids"], Sampling(), ARGS["n"], stop_at_eos=False)
        seen = []
        async def on_token(t):
            seen.append(t)
        stopped = await m.generate(ARGS["ids"], Sampling(), ARGS["n"], on_token, should_stop=lambda: len(seen) >= 5)
        again = await m.generate(ARGS["ids"], Sampling(), ARGS["n"], stop_at_eos=False)
        RESULT = {"full": full.generated_ids, "submits": full.submits, "stopped": stopped.generated_ids,
                  "reason": stopped.stop_reason, "seen": seen, "again": again.generated_ids,
                  "new_objects": {k: v - before.get(k, 0) for k, v in created().items()}}
    """, ids=gold["prompt_ids"].tolist(), n=len(want))
    assert r["full"] == want and r["again"] == want
    assert r["submits"] < len(want) - 1, "decode steps were not batched"
    assert r["stopped"] == want[:5] == r["seen"] and r["reason"] == "stopped"
    assert all(v == 0 for v in r["new_objects"].values()), f"generation created GPU objects: {r['new_objects']}"


def test_the_model_reports_its_gpu_memory(model_app):
    """What the page's model line and `pyapp.bench --report` show: the GGUF's bytes of the tensors
    (gguf's reader counts them here), the weights as the GPU holds them, the KV caches."""
    from gguf import GGUFReader

    from pyapp.export import default_model

    r = model_app.py("from pyapp.runtime.page import app\nm = app.page.model\n"
                     "RESULT = {**m.gpu_memory(), 'cmax': m.cmax}")
    reader = GGUFReader(default_model())
    field = lambda key: int(reader.fields[key].contents())
    assert r["weights_file"] == sum(int(t.n_bytes) for t in reader.tensors) > 0
    assert r["weights"] >= r["weights_file"]  # the ops' layout re-expands some types (Q4_1 tables as f32)
    layers, kv_heads = field("llama.block_count"), field("llama.attention.head_count_kv")
    head_dim = field("llama.embedding_length") // field("llama.attention.head_count")
    assert r["kv_cache"] == 2 * layers * r["cmax"] * kv_heads * head_dim * 4
    assert r["activations"] > 0


def test_smollm2_on_the_fused_path(model_app):
    """SmolLM2 on the fused kernels (lanes style here: SwiftShader) over the page's weights."""
    gold, _ = golden("model_smollm2_1")
    want = gold["generated_ids"].tolist()
    r = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.model.model import Model
        from pyapp.runtime.model.sampling import Sampling
        from e2e import b64
        m = app.page.model
        fused = Model(m.device, m.cfg, m.weights, m.tok, max_context=256, fused=True)
        await fused.prepare()
        g = await fused.generate(ARGS["ids"], Sampling(), ARGS["n"], record_logits=True)
        RESULT = {"ids": g.generated_ids, "logits": [b64(x) for x in g.logits],
                  "dispatches": len(fused.decode_graph.dispatches)}
    """, ids=gold["prompt_ids"].tolist(), n=len(want))
    assert r["dispatches"] == 6 * 30 + 4
    assert r["ids"] == want
    for i, (got, ref) in enumerate(zip(r["logits"], gold["logits"])):
        assert_close(decode(got), ref, what=f"fused SmolLM2 step {i} logits")


def test_a_model_with_every_tensor_type(browser, tmp_path):
    """Your own GGUF: Q4_0, Q4_1, Q8_0, F16 and F32 tensors and an untied F16 LM head
    (goldens/tiny_mixed.gguf from tests/tiny_llama.py) against the reference on the same file."""
    from pyapp.export import export

    bundle = export(HERE / "goldens" / "tiny_mixed.gguf", cache=tmp_path)
    gold, _ = golden("model_tiny_mixed")
    with page_with_model(browser, bundle) as page:
        r = run_greedy(page, gold["prompt_ids"].tolist(), len(gold["generated_ids"]))
        assert not page.errors
    assert r["ids"] == gold["generated_ids"].tolist()
    for i, (got, ref) in enumerate(zip(r["logits"], gold["logits"])):
        assert_close(decode(got), ref, what=f"tiny model step {i} logits")


def submit_and_wait(page, until: str):
    """Click Generate and wait until the page is idle and the JS condition `until` holds."""
    page.evaluate("document.getElementById('stats').removeAttribute('data-reason')")
    page.click("#generate")
    page.wait_for_function(f"document.body.dataset.busy === '0' && ({until})", timeout=300_000)


@pytest.mark.parametrize("field, value, message", [
    ("#temperature", "abc", "Temperature must be a number, got 'abc'"),
    ("#temperature", "1e400", "Temperature must be a finite number, got '1e400'"),
    ("#temperature", "-1", "Temperature must be within 0..5, got '-1'"),
    ("#top-k", "2.5", "Top-k must be a whole number, got '2.5'"),
    ("#top-k", "49153", "Top-k must be within 0..49152, got '49153'"),
    ("#top-p", "0", "Top-p must be above 0 and at most 1, got '0'"),
    ("#seed", "x1", "Seed must be a whole number, got 'x1'"),
    ("#max-tokens", "0", "Max new tokens must be within 1..2048, got '0'"),
    ("#min-p", "2", "Min-p must be within 0..1, got '2'"),
    ("#repeat-penalty", "0", "Repeat penalty must be above 0 and at most 10, got '0'"),
])
def test_settings_name_the_field_and_refuse_what_is_not_a_number(model_app, field, value, message):
    page = model_app.page
    page.click("#clear")
    page.fill("#prompt", "Hello")
    page.fill(field, value)
    page.evaluate("document.getElementById('status').textContent = ''")
    try:
        page.click("#generate")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Check the settings')",
                               timeout=30_000)
        assert page.inner_text(f"{field}-error") == message  # said next to its field, which has the focus
        assert page.get_attribute(field, "aria-invalid") == "true"
        assert page.evaluate("document.activeElement.id") == field[1:]
        assert page.inner_text("#output") == "" and page.evaluate("document.body.dataset.busy") == "0"
        assert page.input_value("#prompt") == "Hello"  # nothing typed is lost
    finally:
        page.fill(field, page.evaluate(f"document.querySelector('{field}').defaultValue"))


def test_a_failed_turn_leaves_no_trace_and_its_error_clears(model_app):
    """A prompt the tokenizer cannot encode (a lone surrogate, as JS strings may hold) fails in
    words; the chat history keeps no half turn, and the next good turn clears the error."""
    page = model_app.page
    page.click("#clear")
    page.select_option("#mode", "chat")
    page.fill("#max-tokens", "2")
    page.fill("#temperature", "0")
    page.evaluate("document.getElementById('prompt').value = 'broken \\ud800 text'")
    submit_and_wait(page, "!document.getElementById('error').hidden")
    assert page.is_visible("#error")
    assert "not valid Unicode (U+D800, a lone surrogate" in page.inner_text("#error")
    assert "Error(" not in page.inner_text("#error")  # words, not an exception's repr
    history = model_app.py("from pyapp.runtime.page import app\nRESULT = app.page.chat.messages")
    assert history == []
    page.fill("#prompt", "Hi")
    submit_and_wait(page, "document.getElementById('stats').dataset.reason")
    assert not page.is_visible("#error") and "tokens/s" in page.inner_text("#stats")
    roles = model_app.py("from pyapp.runtime.page import app\nRESULT = [m['role'] for m in app.page.chat.messages]")
    assert roles == ["user", "assistant"]
    page.fill("#max-tokens", "64")


def test_the_page_renders_chat_templates_with_jinja_and_says_when_one_fails(model_app):
    """Jinja2 is installed in the page: Meta's Llama 3 template renders its documented format
    there, and a template that fails says so while the turn still runs on the plain prompt."""
    text = model_app.py("""
        from pyapp.runtime.tokenizer import chat_template
        RESULT = chat_template.render(ARGS["template"], [{"role": "user", "content": " Hi \\n"}], bos_token="<|begin_of_text|>")
    """, template=(
        "{{- bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
        "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"))
    assert text == ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n")
    page = model_app.page
    original = model_app.py("from pyapp.runtime.page import app\nRESULT = app.page.model.tok.chat_template")
    model_app.py("from pyapp.runtime.page import app\napp.page.model.tok.chat_template = '{% for %}'")
    try:
        page.click("#clear")
        page.select_option("#mode", "chat")
        page.fill("#max-tokens", "2")
        page.fill("#temperature", "0")
        page.fill("#prompt", "Hi")
        submit_and_wait(page, "document.getElementById('stats').dataset.reason")
        status = page.inner_text("#status")
        assert "Note: the model's chat template does not render (TemplateSyntaxError" in status
        assert "a plain Role: text prompt is used instead" in status and not page.is_visible("#error")
    finally:
        model_app.py("from pyapp.runtime.page import app\napp.page.model.tok.chat_template = ARGS['t']", t=original)
        page.fill("#max-tokens", "64")
