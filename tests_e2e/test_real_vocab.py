"""Q4_K_M-style Llama 3, Qwen2 and Qwen3 models with their real tokenizers (128,256 and 151,665
tokens) and chat templates, in the page: the chat prompt's ids equal the reference tokenizer's
(Hugging Face's for Llama 3, tiktoken for Qwen), and on both paths the greedy tokens equal the
reference's, with the logits close at every step. The models and goldens are written by
`make_goldens.py --only large` (`make test` does it) into .cache/goldens."""

import sys

import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from conftest import HERE, LARGE_GOLDENS, assert_close, decode

sys.path.insert(0, str(HERE.parent / "tests"))
import real_tokenizers  # noqa: E402

NAMES = ("llama3", "qwen2", "qwen3")


@pytest.fixture(scope="module")
def vocab_bundles(model_page, tmp_path_factory):
    """The models' bundles served beside SmolLM2, at /files/vocab_<name>/."""
    from pyapp.export import export

    if not (LARGE_GOLDENS / "vocab_llama3.gguf").is_file():
        pytest.fail("the real-vocabulary models are missing: run `make large-goldens`")
    cache = tmp_path_factory.mktemp("vocab")
    for name in NAMES:
        model_page.site.mounts[f"vocab_{name}"] = export(LARGE_GOLDENS / f"vocab_{name}.gguf", cache=cache)


def reference_text(name: str, ids: list[int]) -> str:
    """What the reference tokenizer decodes the generated ids to, control tokens left out."""
    if name == "llama3":
        from tokenizers import Tokenizer

        hf = Tokenizer.from_file(str(real_tokenizers.llama3_json()))
        return hf.decode(ids, skip_special_tokens=True)
    ref = real_tokenizers.qwen_tiktoken(26 if name == "qwen3" else 22)
    return ref.decode([i for i in ids if i < 151643 or i > 151645])  # <|endoftext|>, <|im_start|>, <|im_end|>


@pytest.mark.parametrize("name", NAMES)
def test_a_real_vocabulary_model_answers_as_the_reference(vocab_bundles, model_app, name):
    path = LARGE_GOLDENS / f"model_vocab_{name}.safetensors"
    gold = load_file(path)
    with safe_open(str(path), "np") as f:
        question = f.metadata()["question"]
    want = gold["generated_ids"].tolist()
    r = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.page import bundle
        from pyapp.runtime.model.model import Model
        from pyapp.runtime.model.sampling import Sampling
        from pyapp.runtime.page.session import ChatSession
        from pyapp.runtime.tokenizer.tokenizer import StreamDecoder
        from e2e import b64
        m0 = (await bundle.open_model(app.page.device, f"/files/vocab_{ARGS['name']}/", max_context=128)).model
        chat = ChatSession(m0)
        ids = chat.prompt_ids(ARGS["question"], "chat", ARGS["n"])
        RESULT = {"ids": ids, "notice": chat.notice, "vocab": m0.tok.vocab_size, "runs": []}
        for fused in (False, True):
            m = Model(m0.device, m0.cfg, m0.weights, m0.tok, max_context=128, fused=fused)
            await m.prepare()
            g = await m.generate(ids, Sampling(), ARGS["n"], record_logits=True, stop_at_eos=False)
            stream = StreamDecoder(m.tok)
            text = "".join(stream.push(t) for t in g.generated_ids) + stream.flush()
            RESULT["runs"].append({"fused": m.fused, "ids": g.generated_ids, "text": text,
                                   "logits": [b64(x) for x in g.logits]})
    """, name=name, question=question, n=len(want))
    assert r["vocab"] == gold["logits"].shape[1] and r["notice"] == ""
    assert r["ids"] == gold["prompt_ids"].tolist(), "the chat template and tokenizer in the page differ"
    for run in r["runs"]:
        assert run["ids"] == want, f"fused={run['fused']}"
        assert run["text"] == reference_text(name, want)
        for i, (got, ref) in enumerate(zip(run["logits"], gold["logits"])):
            assert_close(decode(got), ref, what=f"{name} (fused={run['fused']}) step {i} logits")
    assert [run["fused"] for run in r["runs"]] == [False, True]
