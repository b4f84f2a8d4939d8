"""Byte-level BPE with each pre-tokenizer against Hugging Face tokenizers, on the texts of
tests/data/tokenizer_texts.json: the pieces against Split(Regex(pattern)), the ids against a BPE
over SmolLM2's vocabulary and merges with the same pre-tokenizer; and the real tokenizers
(tests/real_tokenizers.py): Llama 3's ("llama-bpe") against Hugging Face's, Qwen's ("qwen2")
against tiktoken."""

import json
import random
import string
from pathlib import Path

import pytest
from gguf import GGUFWriter
from tokenizers import pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

import real_tokenizers
from pyapp.export import ExportError, default_model, tokenizer_config
from pyapp.runtime.tokenizer import bpe
from pyapp.runtime.tokenizer.pretokenize import PRETOKENIZERS
from pyapp.runtime.tokenizer.tokenizer import Tokenizer, UnsupportedTokenizer

TEXTS = json.loads((Path(__file__).parent / "data" / "tokenizer_texts.json").read_text())["texts"]

REFERENCE, ALIASES, hf_bpe = real_tokenizers.REFERENCE, real_tokenizers.ALIASES, real_tokenizers.hf_bpe
LLAMA3, QWEN2 = real_tokenizers.LLAMA3_PATTERN, real_tokenizers.QWEN2_PATTERN


@pytest.fixture(scope="module")
def smol_spec():
    return tokenizer_config(default_model())  # the real GGUF (fetched once with pip)


def mismatches(ours: Tokenizer, hf: HFTokenizer, texts) -> list:
    """(text, our ids, reference ids) wherever the ids differ, or the decoded texts differ from the text."""
    bad = []
    for text in texts:
        ids, want = ours.encode(text, add_bos=False), hf.encode(text, add_special_tokens=False).ids
        if ids != want or ours.decode(ids) != text or hf.decode(want, skip_special_tokens=False) != text:
            bad.append((text, ids, want))
    return bad


@pytest.mark.parametrize("pre", [*REFERENCE, *ALIASES])
def test_pieces_match_the_regex(pre):
    splits, _ = REFERENCE[ALIASES.get(pre, pre)]
    reference = pre_tokenizers.Sequence(splits)
    for text in TEXTS:
        assert PRETOKENIZERS[pre](text) == [piece for piece, _ in reference.pre_tokenize_str(text)], text


# characters each alternative of the patterns turns on: cases of the contractions' letters (and ſ,
# which folds to s), numerals, every kind of space and newline, marks, separators, emoji
TRICKY = [*"aZé中'sStTrReEvVmMlLdDſ0123456789½²٣ \t\n\r\x0b\x1c\xa0\u3000!?.,(-_\"", "\u0301", "🤗", "\u200b"]


@pytest.mark.parametrize("pre", [*REFERENCE, *ALIASES])
def test_pieces_match_the_regex_on_random_text(pre):
    reference = pre_tokenizers.Sequence(REFERENCE[ALIASES.get(pre, pre)][0])
    rng = random.Random(pre)
    for _ in range(2000):
        text = "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 25)))
        assert PRETOKENIZERS[pre](text) == [piece for piece, _ in reference.pre_tokenize_str(text)], text


def test_the_smollm_reference_gives_the_recorded_ids(smol_spec):
    """The "smollm" reference built here gives the ids recorded from transformers for SmolLM2's GGUF."""
    cases = json.loads((Path(__file__).parent / "data" / "tokenizer_smollm2.json").read_text())["cases"]
    hf = hf_bpe(smol_spec, *REFERENCE["smollm"])
    assert [hf.encode(c["text"], add_special_tokens=False).ids for c in cases] == [c["ids"] for c in cases]


@pytest.mark.parametrize("pre", REFERENCE)
def test_ids_match_hugging_face(smol_spec, pre):
    spec = dict(smol_spec, pre=pre)
    chat = ["<|im_start|>user\nIt's 1234567<|im_end|>\n<|im_start|>assistant\n", "<|im_end|><|im_end|>x"]
    assert mismatches(Tokenizer(spec), hf_bpe(spec, *REFERENCE[pre]), TEXTS + chat) == []


def test_unknown_pre_tokenizer_is_named(smol_spec):
    with pytest.raises(UnsupportedTokenizer, match=r"tokenizer.ggml.pre='deepseek-llm' is not supported \(supported: "):
        Tokenizer(dict(smol_spec, pre="deepseek-llm"))
    with pytest.raises(ValueError, match=r"tokenizer.ggml.model='bert' is not supported"):
        Tokenizer(dict(smol_spec, model="bert"))


def write_gguf(path: Path, pre: str, add_bos: bool | None = None) -> Path:
    """A GGUF holding only a tiny byte-level tokenizer that names the pre-tokenizer `pre`."""
    writer = GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    if add_bos is not None:
        writer.add_add_bos_token(add_bos)
    writer.add_token_list(["a", "b", "ab", "Ġ"])
    writer.add_token_types([1, 1, 1, 1])
    writer.add_token_merges(["a b"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_export_keeps_the_pre_tokenizer_and_refuses_one_we_lack(tmp_path):
    spec = tokenizer_config(write_gguf(tmp_path / "llama3.gguf", "llama-bpe"))
    assert spec["pre"] == "llama-bpe" and Tokenizer(spec).encode("ab ab") == [2, 3, 2]
    with pytest.raises(ExportError, match=r"deepseek.gguf: tokenizer.ggml.pre='deepseek-llm' is not supported \(supported: smollm, "
                                          r"default, gpt-2, llama-bpe, qwen2, deepseek-r1-qwen\)$"):
        tokenizer_config(write_gguf(tmp_path / "deepseek.gguf", "deepseek-llm"))


@pytest.mark.parametrize("pre, flag, want", [
    ("llama-bpe", None, True),   # llama.cpp's default for Llama 3's pre-tokenizer (llama-vocab.cpp)
    ("qwen2", None, False), ("default", None, False), ("smollm", None, False),
    ("llama-bpe", False, False), ("qwen2", True, True),  # the file's own flag wins
])
def test_add_bos_is_the_files_flag_else_llama_cpps_default(tmp_path, pre, flag, want):
    assert tokenizer_config(write_gguf(tmp_path / "t.gguf", pre, flag))["add_bos"] is want


def test_special_tokens_match_longest_first():
    tokens = ["<a>", "<a><b>", "x", "<", "a", ">", "b"]
    spec = {"model": "gpt2", "tokens": tokens, "merges": [], "token_type": [3, 3, 1, 1, 1, 1, 1]}
    assert Tokenizer(spec).encode("x<a><b><a>x<a") == [2, 1, 0, 2, 3, 4]


# --- real tokenizers: Llama 3's against Hugging Face's, Qwen's against tiktoken ---

def real(load):
    try:
        return load()
    except real_tokenizers.Unavailable as e:
        pytest.skip(str(e))


def test_the_real_llama3_tokenizer():
    path = real(real_tokenizers.llama3_json)
    data = json.loads(path.read_text())
    assert data["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == LLAMA3  # what "llama-bpe" stands for
    assert data["model"]["ignore_merges"]
    ours, hf = Tokenizer(real_tokenizers.llama3()), HFTokenizer.from_file(str(path))
    chat = ["<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nIt's 1234567?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"]
    assert mismatches(ours, hf, TEXTS + chat) == []
    assert ours.encode("Hello world", add_bos=False) == [9906, 1917]


@pytest.mark.parametrize("specials", [22, 26])  # Qwen2.5's added tokens, Qwen3's
def test_the_real_qwen_tokenizer(specials):
    """Qwen's 151,643 BPE ranks as a GGUF holds them (merges derived from the ranks, "qwen2"
    pre-tokenizer) against tiktoken on the ranks themselves, on the texts and on random text."""
    ours, ref = Tokenizer(real(lambda: real_tokenizers.qwen(specials))), real_tokenizers.qwen_tiktoken(specials)
    chat = ["<|im_start|>user\nIt's 1234567?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"]
    rng = random.Random(specials)
    fuzz = ["".join(rng.choice(TRICKY + [" the", "ing", "é", "中文"]) for _ in range(rng.randint(1, 40))) for _ in range(300)]
    for text in TEXTS + chat + fuzz:
        ids = ours.encode(text)
        assert ids == ref.encode(text, allowed_special="all"), text
        assert ours.decode(ids) == text
    assert ours.encode("Hello world") == [9707, 1879]


# --- no quadratic blow-up ---

def long_text() -> str:
    """About 200 KB: the texts over and over, then a long run of each kind of character, and a
    40,000-letter word of random letters (merging it pair by pair, rescanning all pairs each
    time, took minutes)."""
    mixed = "".join(TEXTS)
    runs = "".join(ch * 15_000 for ch in (" ", "7", "x", "!", "\n", "\t"))
    rng = random.Random(0)
    return mixed * (70_000 // len(mixed)) + runs + "".join(rng.choice(string.ascii_letters) for _ in range(40_000))


@pytest.mark.parametrize("pre", REFERENCE)
def test_long_text_costs_linear_work(smol_spec, pre, monkeypatch):
    """Work, not seconds, is asserted (machines are noisy): a merge pushes at most two new pairs,
    so the heap sees fewer pushes than three per byte of text."""
    pushes = []
    push = bpe.heapq.heappush
    monkeypatch.setattr(bpe.heapq, "heappush", lambda heap, item: (pushes.append(1), push(heap, item)))
    tok, text = Tokenizer(dict(smol_spec, pre=pre)), long_text()
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(pushes) < 3 * len(text.encode()), f"{pre}: {len(pushes)} heap pushes for {len(text)} characters"
