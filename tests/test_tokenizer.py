"""The pure-Python BPE tokenizer against SmolLM2's reference tokenizer (Hugging Face tokenizers,
cases in tests/data/tokenizer_smollm2.json, written by make_goldens.py --only tokenizer)."""

import json
from pathlib import Path

import pytest

from pyapp.runtime.tokenizer.tokenizer import StreamDecoder, Tokenizer, TokenizerError, pretokenize

DATA = Path(__file__).parent / "data" / "tokenizer_smollm2.json"
CASES = json.loads(DATA.read_text())["cases"]


@pytest.fixture(scope="module")
def tok():
    from pyapp.export import default_model, tokenizer_config  # the real GGUF (fetched once with pip)
    return Tokenizer(tokenizer_config(default_model()))


@pytest.mark.parametrize("case", CASES, ids=lambda c: repr(c["text"])[:30])
def test_matches_reference_ids(tok, case):
    assert tok.encode(case["text"]) == case["ids"]
    assert tok.decode(case["ids"]) == case["text"]


def test_pretokenizer_rules():
    assert pretokenize("I'll  go 2day") == ["I", "'ll", " ", " go", " ", "2", "day"]
    assert pretokenize("a\n\n b") == ["a", "\n\n", " b"]
    assert pretokenize("x   ") == ["x", "   "]


def test_stream_decoder_holds_back_partial_utf8(tok):
    ids = tok.encode("é🤗!")
    stream = StreamDecoder(tok)
    pieces = [stream.push(i) for i in ids] + [stream.flush()]
    assert "".join(pieces) == "é🤗!" and all("\ufffd" not in p for p in pieces)


def test_control_tokens_are_single_ids_and_skippable(tok):
    ids = tok.encode("<|im_start|>user\nHi<|im_end|>")
    assert ids[0] == tok.special["<|im_start|>"] and ids[-1] == tok.eos_id
    assert tok.decode(ids, skip_control=True) == "user\nHi"



def test_a_lone_surrogate_gets_a_clear_error(tok):
    with pytest.raises(TokenizerError, match=r"not valid Unicode \(U\+D800, a lone surrogate, at position 3\)"):
        tok.encode("hi \ud800 there")


def test_a_vocabulary_without_a_byte_symbol_gets_a_clear_error(tok):
    spec = {"tokens": [t if t != "\u010a" else "<no newline>" for t in tok.tokens],  # drop byte 0x0A's symbol
            "merges": [" ".join(pair) for pair, _ in sorted(tok.model.ranks.items(), key=lambda kv: kv[1])]}
    broken = Tokenizer(spec)
    assert broken.encode("plain words") == tok.encode("plain words")
    with pytest.raises(TokenizerError, match=r"no token for byte 0x0A, so it cannot encode '\\n'"):
        broken.encode("two\nlines")
    assert "<no newline>" in broken.decode([tok.ids["\u010a"]])  # decoding such a vocabulary does not fail
