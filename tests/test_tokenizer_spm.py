"""SentencePiece BPE (GGUF model "llama") against the sentencepiece library: BPE models trained here
with Llama 2's normalizer settings (identity, a dummy prefix, extra whitespace kept), with and
without byte fallback, without the dummy prefix, and as Gemma's (no dummy prefix, its turn
markers user-defined pieces matched whole in text); ids and decoded text on the texts of
tests/data/tokenizer_texts.json, most of whose scripts and emoji the training text never saw. Then
the GGUF route: a GGUF holding such a tokenizer, through export's tokenizer_config, into Tokenizer."""

import io
import json
import math
import random
import string
from pathlib import Path

import pytest
import sentencepiece
from gguf import GGUFWriter

from pyapp.export import ExportError, tokenizer_config
from pyapp.runtime.tokenizer import bpe
from pyapp.runtime.tokenizer.tokenizer import StreamDecoder, Tokenizer, TokenizerError

TEXTS = json.loads((Path(__file__).parent / "data" / "tokenizer_texts.json").read_text())["texts"]

TRAINING_TEXT = """\
The quick brown fox jumps over the lazy dog, and the dog does not mind at all.
A tokenizer cuts text into pieces; the model only ever sees the numbers of those pieces.
It's the merges that matter: they're learned from text like this, and we'll see what they're worth.
Byte pair encoding starts from single characters and joins the pair that scores best, again and again.
SentencePiece writes a space as a lower block, so words keep the space in front of them.
In 1984 there were 12 shops, 345 houses and 6789 people; by 2024 the numbers had doubled.
def tokenize(text):  # split, merge, look up
    pieces = [c for c in text]
    return [vocab[p] for p in pieces]
Caf\u00e9, na\u00efve, r\u00e9sum\u00e9, \u00fcber and se\u00f1or are borrowed words with accents.
She said: "Don't stop now!" He replied: 'I won't, I can't, I shouldn't.'
Numbers, dates (2024-05-01), times (12:30) and money ($4.99) all turn up in real text.
Lines can be short.
Or they can run on and on, with commas, semicolons; colons: dashes - and more words than anyone needs.
THE HEADLINE SHOUTS IN CAPITALS, WHILE the body text whispers in lower case.
    Indented lines, like code, start with runs of spaces.
Tabs\tand\tspaces\tmix in tables of values: 1\t2\t3.
Every model has a vocabulary; the vocabulary has pieces; each piece has a score.
"""

# name -> the trainer's options beyond the shared ones, and the spec's add_space_prefix
MODELS = {
    "byte fallback": ({"byte_fallback": True}, True),
    "no byte fallback": ({"byte_fallback": False}, True),
    "no dummy prefix": ({"byte_fallback": True, "add_dummy_prefix": False}, False),
    "gemma-like": ({"byte_fallback": True, "add_dummy_prefix": False,
                    "user_defined_symbols": ["<start_of_turn>", "<end_of_turn>"]}, False),
}
TURNS = ["<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
         "a<end_of_turn>b <start_of_turn> c<start_of_turn><end_of_turn>"]
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def piece_type(sp, i: int, user_defined=()) -> int:
    """The GGUF token type of piece i, as llama.cpp's converter writes it (the python binding does
    not say which pieces are user-defined: the trainer was told)."""
    return (UNKNOWN if sp.is_unknown(i) else CONTROL if sp.is_control(i) else BYTE if sp.is_byte(i)
            else UNUSED if sp.is_unused(i) else USER_DEFINED if sp.id_to_piece(i) in user_defined else NORMAL)


def train(**options) -> sentencepiece.SentencePieceProcessor:
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXT.splitlines()), model_writer=model, model_type="bpe", vocab_size=600,
        character_coverage=1.0, normalization_rule_name="identity", remove_extra_whitespaces=False,
        split_digits=True, allow_whitespace_only_pieces=True, minloglevel=2, **options)  # Llama 2's choices
    return sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())


def spec_of(sp, add_space_prefix: bool, user_defined=()) -> dict:
    """Our spec for a sentencepiece model, as tokenizer_config gives it from a GGUF."""
    n = sp.get_piece_size()
    return {"model": "llama", "tokens": [sp.id_to_piece(i) for i in range(n)], "scores": [sp.get_score(i) for i in range(n)],
            "token_type": [piece_type(sp, i, user_defined) for i in range(n)],
            "add_space_prefix": add_space_prefix, "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "add_bos": True}


@pytest.fixture(scope="module", params=MODELS)
def trained(request):
    options, add_space_prefix = MODELS[request.param]
    sp = train(**options)
    return sp, Tokenizer(spec_of(sp, add_space_prefix, options.get("user_defined_symbols", ())))


@pytest.fixture(scope="module")
def llama2_like():
    sp = train(byte_fallback=True)
    return sp, Tokenizer(spec_of(sp, True))


def test_ids_and_text_match_sentencepiece(trained):
    sp, tok = trained
    bad = []
    for text in TEXTS + TURNS:
        ids, want = tok.encode(text, add_bos=False), sp.encode(text)
        if ids != want or tok.decode(want) != sp.decode(want):
            bad.append((text, ids, want))
    assert bad == []
    assert [tok.encode(t) for t in TEXTS] == [sp.encode(t, add_bos=True) for t in TEXTS]


def test_random_text_matches_sentencepiece(trained):
    sp, tok = trained
    pool = [*"the quick brown fox THE 'sé中 0123456789  \t\n\r!?.,(-_\"", "🤗", "\u0301", "ing", " the"]
    rng = random.Random(0)
    for _ in range(1000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 30)))
        ids = sp.encode(text)
        assert (tok.encode(text, add_bos=False), tok.decode(ids)) == (ids, sp.decode(ids)), text


def test_byte_fallback_spells_unseen_characters_in_bytes(llama2_like):
    sp, tok = llama2_like
    ids = tok.encode("中🤗", add_bos=False)
    assert [sp.id_to_piece(i) for i in ids] == ["▁"] + [f"<0x{b:02X}>" for b in "中🤗".encode()]
    assert tok.decode(ids) == "中🤗" and all(tok.decode(sp.encode(t)) == t for t in TEXTS)  # lossless


def test_without_byte_tokens_a_run_of_unseen_characters_is_one_unknown():
    sp = train(byte_fallback=False)
    tok = Tokenizer(spec_of(sp, True))
    ids = tok.encode("中文 x 中", add_bos=False)
    assert ids == sp.encode("中文 x 中") and ids.count(sp.unk_id()) == 2
    assert tok.decode(ids) == sp.decode(ids) and "\u2047" in tok.decode(ids)  # sentencepiece's " ⁇ "


def test_control_tokens_in_the_text_split_it_and_each_part_gets_the_prefix(llama2_like):
    """sentencepiece never parses control tokens in text; llama.cpp encodes the text between them
    one part at a time, each with its own dummy prefix: that is what we compare with."""
    sp, tok = llama2_like
    parts = ["[INST] Hi there, it's me [/INST]", " Hello!", "[INST] 2 + 2? [/INST]"]
    text = "<s>" + parts[0] + parts[1] + "</s><s>" + parts[2]
    want = [sp.bos_id(), *sp.encode(parts[0] + parts[1]), sp.eos_id(), sp.bos_id(), *sp.encode(parts[2])]
    assert tok.encode(text, add_bos=False) == want
    assert tok.decode(want, skip_control=True) == sp.decode(want)
    assert tok.decode(want) == text.replace("[INST] 2", " [INST] 2")  # the second part's prefix shows


def test_stream_decoder_continues_the_prompt(llama2_like):
    sp, tok = llama2_like
    ids = tok.encode("café 🤗 done", add_bos=True) + [sp.eos_id()]
    stream = StreamDecoder(tok)
    pieces = [stream.push(i) for i in ids] + [stream.flush()]
    assert "".join(pieces) == " café 🤗 done" and all("\ufffd" not in p for p in pieces)
    assert tok.decode(ids, skip_control=True) == "café 🤗 done"


def test_unused_pieces_merge_and_split_back_as_sentencepiece_does():
    """sentencepiece forms an unused piece like any other, then splits it back into the two symbols
    that formed it (its resegmentation); a piece formed on top of it stays. (Trained models have no
    unused pieces: the same run was checked against sentencepiece with pieces marked unused.)"""
    tokens = ["<unk>", "a", "b", "c", "ab", "abc", "▁"]
    types = [UNKNOWN, NORMAL, NORMAL, NORMAL, UNUSED, NORMAL, NORMAL]
    tok = Tokenizer({"model": "llama", "tokens": tokens, "token_type": types, "add_space_prefix": False,
                     "scores": [0, -1, -1, -1, -2, -3, -1]})
    assert tok.encode("abc") == [5]
    assert tok.encode("ab") == [1, 2]
    assert tok.encode("abab") == [1, 2, 1, 2]


def test_a_vocabulary_without_bytes_or_unknown_gets_a_clear_error():
    tok = Tokenizer({"model": "llama", "tokens": ["▁", "a"], "scores": [0, 0], "token_type": [NORMAL, NORMAL]})
    assert tok.encode("a a") == [0, 1, 0, 1]
    with pytest.raises(TokenizerError, match=r"neither a token nor byte tokens for 'b'"):
        tok.encode("a b")


def test_long_text_costs_linear_work(llama2_like, monkeypatch):
    """Work, not seconds, is asserted: fewer heap pushes than three per character."""
    _, tok = llama2_like
    pushes = []
    push = bpe.heapq.heappush
    monkeypatch.setattr(bpe.heapq, "heappush", lambda heap, item: (pushes.append(1), push(heap, item)))
    rng = random.Random(0)
    mixed = "".join(TEXTS)
    text = mixed * (150_000 // len(mixed)) + "".join(rng.choice(string.ascii_letters + " ") for _ in range(50_000))
    ids = tok.encode(text)
    assert tok.decode(ids, skip_control=True) == text
    assert len(pushes) < 3 * len(text), f"{len(pushes)} heap pushes for {len(text)} characters"


# --- the GGUF route: tokenizer.ggml.* -> export's tokenizer_config -> Tokenizer ---

def write_gguf(path: Path, sp, **changes) -> Path:
    """A GGUF holding sp's vocabulary as llama.cpp's converter writes a SentencePiece one; changes
    replace keys, or drop them (None)."""
    n = sp.get_piece_size()
    fields = {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": [sp.id_to_piece(i) for i in range(n)],
              "tokenizer.ggml.scores": [sp.get_score(i) for i in range(n)],
              "tokenizer.ggml.token_type": [piece_type(sp, i) for i in range(n)],
              "tokenizer.ggml.bos_token_id": sp.bos_id(), "tokenizer.ggml.eos_token_id": sp.eos_id(),
              "tokenizer.ggml.unknown_token_id": sp.unk_id(), "tokenizer.ggml.add_bos_token": True,
              "tokenizer.ggml.add_space_prefix": True, **changes}
    writer = GGUFWriter(str(path), "llama")
    add = {"tokenizer.ggml.model": writer.add_tokenizer_model, "tokenizer.ggml.tokens": writer.add_token_list,
           "tokenizer.ggml.scores": writer.add_token_scores, "tokenizer.ggml.token_type": writer.add_token_types,
           "tokenizer.ggml.bos_token_id": writer.add_bos_token_id,
           "tokenizer.ggml.eos_token_id": writer.add_eos_token_id,
           "tokenizer.ggml.unknown_token_id": writer.add_unk_token_id,
           "tokenizer.ggml.add_bos_token": writer.add_add_bos_token,
           "tokenizer.ggml.add_space_prefix": writer.add_add_space_prefix}
    for key, value in fields.items():
        if value is not None:
            add[key](value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_sentencepiece_gguf_round_trip(llama2_like, tmp_path):
    sp, _ = llama2_like
    spec = tokenizer_config(write_gguf(tmp_path / "spm.gguf", sp))
    assert spec["model"] == "llama" and spec["add_bos"] and spec["add_space_prefix"] and "merges" not in spec
    tok = Tokenizer(json.loads(json.dumps(spec)))  # as the page gets it: through tokenizer.json
    assert [tok.encode(t) for t in TEXTS] == [sp.encode(t, add_bos=True) for t in TEXTS]
    assert [tok.decode(sp.encode(t)) for t in TEXTS] == [sp.decode(sp.encode(t)) for t in TEXTS]


REFUSED = {
    "no scores": ({"tokenizer.ggml.scores": None}, "missing key tokenizer.ggml.scores"),
    "short scores": ({"tokenizer.ggml.scores": [0.0] * 5}, "tokenizer.ggml.scores has 5 entries for 600 tokens"),
    "a nan score": ({"tokenizer.ggml.scores": [0.0] * 7 + [math.nan] * 593}, "tokenizer.ggml.scores[7]=nan is not"),
    "another model": ({"tokenizer.ggml.model": "bert"}, "tokenizer.ggml.model='bert' is not supported "
                                                        "(byte-level BPE 'gpt2', SentencePiece BPE 'llama')"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_sentencepiece_gguf_is_refused_by_key(llama2_like, tmp_path, case):
    changes, fragment = REFUSED[case]
    bad = write_gguf(tmp_path / "bad.gguf", llama2_like[0], **changes)
    with pytest.raises(ExportError) as e:
        tokenizer_config(bad)
    assert fragment in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_add_bos_and_the_space_prefix_follow_the_file(llama2_like, tmp_path):
    sp, _ = llama2_like
    spec = tokenizer_config(write_gguf(tmp_path / "x.gguf", sp, **{
        "tokenizer.ggml.add_bos_token": None, "tokenizer.ggml.add_space_prefix": False}))
    assert spec["add_bos"] and not spec["add_space_prefix"]  # llama.cpp's default for the first
    ids = Tokenizer(spec).encode("Hello world", add_bos=False)
    assert not sp.id_to_piece(ids[0]).startswith("▁") and Tokenizer(spec).decode(ids) == "Hello world"


def test_gemma_like_turn_markers_are_single_pieces():
    """Gemma's tokenizer: no dummy prefix, its turn markers user-defined pieces that sentencepiece
    and we match whole wherever they stand in the text."""
    options, add_space_prefix = MODELS["gemma-like"]
    sp = train(**options)
    tok = Tokenizer(spec_of(sp, add_space_prefix, options["user_defined_symbols"]))
    start, end = sp.piece_to_id("<start_of_turn>"), sp.piece_to_id("<end_of_turn>")
    ids = tok.encode(TURNS[0], add_bos=False)
    assert ids == sp.encode(TURNS[0]) and ids.count(start) == 2 and ids.count(end) == 1
    assert tok.decode(ids) == TURNS[0]
