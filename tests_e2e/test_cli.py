"""`python -m pyapp.bench` as a user runs it, for every GGUF the suite has (SmolLM2, the tiny
models, the real-vocabulary Llama 3 and Qwen models, a SentencePiece one), on both paths: the
prompt's ids equal an independent tokenizer's under the file's BOS rule, and the greedy tokens
equal pyapp.reference's (numpy fp64).

The references: Hugging Face's byte-level BPE over the file's own vocabulary and merges (read
here with the gguf package), Meta's Llama 3 tokenizer.json, tiktoken over Qwen's ranks, and
sentencepiece for the model it trained. The BOS rule is read here from the file as llama.cpp
reads it: tokenizer.ggml.add_bos_token, else its default (SentencePiece and Llama 3's
pre-tokenizer get one, other byte-level vocabularies none).
"""

import functools
import json
import os
import subprocess
import sys

import jinja2.sandbox
import numpy as np
import pytest
from gguf import GGUFReader

from conftest import HERE, LARGE_GOLDENS, TINY

sys.path.insert(0, str(HERE.parent / "tests"))
import real_tokenizers  # noqa: E402
import tiny_llama  # noqa: E402

ROOT = HERE.parent
TEXT = "The capital of France is"
TOY_TEXT = "theirs"  # the tiny models' toy vocabulary has letters, no byte for a space
NEW_TOKENS = 6
SAFE_MARGIN = 2e-3  # top-1/top-2 logit gap the fp32 kernels cannot close (their logits are within 1e-4)


def field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def bos_rule(reader: GGUFReader) -> bool:
    flag = field(reader, "tokenizer.ggml.add_bos_token")
    if flag is not None:
        return bool(flag)
    return field(reader, "tokenizer.ggml.model") == "llama" or field(reader, "tokenizer.ggml.pre") == "llama-bpe"


def gguf_bpe(reader: GGUFReader):
    """Hugging Face's BPE over the file's own byte-level vocabulary."""
    spec = {"tokens": field(reader, "tokenizer.ggml.tokens"), "merges": field(reader, "tokenizer.ggml.merges"),
            "token_type": field(reader, "tokenizer.ggml.token_type"), "pre": field(reader, "tokenizer.ggml.pre", "default")}
    hf = real_tokenizers.hf_bpe(spec)
    return lambda text: hf.encode(text, add_special_tokens=False).ids


@functools.cache
def sentencepiece_model():
    from test_tokenizer_spm import spec_of, train

    sp = train(byte_fallback=True)
    return sp, {k: v for k, v in spec_of(sp, True).items() if k != "add_bos"}  # the file leaves BOS to the default


@pytest.fixture(scope="module")
def spm_gguf(tmp_path_factory):
    sp, spec = sentencepiece_model()
    return tiny_llama.write(tmp_path_factory.mktemp("spm") / "tiny_spm.gguf", tokenizer=spec, seed=3)


def reference_encoder(name: str, path):
    """text -> ids, no BOS, by a tokenizer that is not ours."""
    if name == "vocab_llama3":
        from tokenizers import Tokenizer

        hf = Tokenizer.from_file(str(real_tokenizers.llama3_json()))
        return lambda text: hf.encode(text, add_special_tokens=False).ids
    if name in ("vocab_qwen2", "vocab_qwen3"):
        return real_tokenizers.qwen_tiktoken(26 if name == "vocab_qwen3" else 22).encode
    if name == "spm":
        return sentencepiece_model()[0].encode
    return gguf_bpe(GGUFReader(str(path)))


MODELS = ["smollm2", *(f"tiny_{n}" for n in TINY), "vocab_llama3", "vocab_qwen2", "vocab_qwen3", "spm"]


@pytest.fixture
def gguf_path(request, spm_gguf):
    from pyapp.export import default_model

    name = request.param
    if name == "smollm2":
        return default_model()
    if name == "spm":
        return spm_gguf
    if name.startswith("vocab_"):
        path = LARGE_GOLDENS / f"{name}.gguf"
        if not path.is_file():
            pytest.fail("the real-vocabulary models are missing: run `make large-goldens`")
        return path
    return HERE / "goldens" / f"{name}.gguf"


@functools.cache
def reference_greedy(path, prompt: tuple) -> tuple[list[int], list[float]]:
    """The reference's greedy tokens for the prompt, and each step's top-1/top-2 logit gap."""
    from pyapp.reference import Reference

    out, logits = Reference(path, max_context=len(prompt) + NEW_TOKENS + 1).greedy(list(prompt), NEW_TOKENS)
    return out, [float(np.diff(np.sort(step)[-2:])[0]) for step in logits]


def bench(*args) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pyapp.bench", *map(str, args), "--greedy",
                           "--max-new-tokens", str(NEW_TOKENS), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=os.environ)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_greedy_matches(path, got: dict):
    want, gaps = reference_greedy(path, tuple(got["prompt_ids"]))
    # a step whose two best logits are closer than the kernels' error could go either way: compare
    # up to it (the tiny random models have such steps; SmolLM2's first six do not)
    safe = next((i for i, gap in enumerate(gaps) if gap < SAFE_MARGIN), len(gaps))
    assert safe >= 2, f"the reference's greedy steps are too close to call: gaps {gaps}"
    assert got["generated_ids"][:safe] == want[:safe], f"greedy ids {got['generated_ids']} != reference {want}"


@pytest.mark.parametrize("path", ["fused", "ops"])
@pytest.mark.parametrize("gguf_path", MODELS, indirect=True)
def test_completion_prompt_ids_and_greedy_tokens_match_the_references(gguf_path, path, request):
    name = request.node.callspec.params["gguf_path"]
    reader = GGUFReader(str(gguf_path))
    text = TOY_TEXT if name.startswith("tiny_") else TEXT
    got = bench("--model", gguf_path, "--prompt", text, "--completion", "--path", path)
    bos = [field(reader, "tokenizer.ggml.bos_token_id")] if bos_rule(reader) else []
    assert got["prompt_ids"] == bos + reference_encoder(name, gguf_path)(text)
    assert got["path"] == path
    assert_greedy_matches(gguf_path, got)


def test_a_chat_turn_by_default():
    """Without --completion the prompt is a chat turn in the GGUF's own template (rendered here by
    Jinja2 as Hugging Face's apply_chat_template does), which writes its own BOS."""
    from pyapp.export import default_model

    path = default_model()
    reader = GGUFReader(str(path))
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    prompt = env.from_string(field(reader, "tokenizer.chat_template")).render(
        messages=[{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True)
    got = bench("--model", path, "--prompt", "What is the capital of France?")
    assert got["prompt_ids"] == gguf_bpe(reader)(prompt)
    assert_greedy_matches(path, got)


@pytest.mark.parametrize("style", ["workgroups", "subgroups"])
def test_the_fused_path_in_the_gpu_kernel_styles(style):
    """The kernels real GPUs run, from the command line on this machine (a tiny model: SwiftShader
    runs workgroup barriers slowly)."""
    path = HERE / "goldens" / "tiny_kquant.gguf"
    got = bench("--model", path, "--prompt", TOY_TEXT, "--completion", "--path", "fused", "--kernel-style", style)
    assert (got["path"], got["kernel_style"]) == ("fused", style)
    assert got["prompt_ids"] == reference_encoder("tiny_kquant", path)(TOY_TEXT)
    assert_greedy_matches(path, got)


def test_text_the_vocabulary_cannot_encode_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "pyapp.bench", "--model", str(HERE / "goldens" / "tiny_mixed.gguf"),
                           "--prompt", "no spaces here", "--completion"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=os.environ)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == ("pyapp.bench: the model's vocabulary has no token for byte "
                                                    "0x20, so it cannot encode ' spaces'")
    assert "Traceback" not in proc.stderr
