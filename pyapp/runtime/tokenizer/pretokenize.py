r"""Pre-tokenizers of byte-level BPE models: text -> the pieces the model's regex cuts it into.

Python's `re` has no \p{L} and Pyodide has no `regex` offline, so each pattern is a hand scanner
over Unicode categories that tries the pattern's alternatives in order at each position, as the
regex engine does (greedy, with the backtracking the pattern implies), in one pass: linear in the
text. \s is Unicode's White_Space, as in Oniguruma (Hugging Face tokenizers) and llama.cpp
(Python's str.isspace also counts U+001C..U+001F); \p{L} and \p{N} are the L* and N* categories.

GGUF's tokenizer.ggml.pre names the splitter (PRETOKENIZERS):
- "smollm", and "default" (a GGUF that names none, as before): every ASCII digit alone, then
  GPT-2's pattern: the ids of the tokenizer transformers builds from SmolLM2's GGUF
  (tests/data/tokenizer_smollm2.json). llama.cpp's "smollm" (and Hugging Face's Digits) isolate
  every numeral; here ½ ² ٣ stay with GPT-2's pattern, as in that reference;
- "gpt-2": GPT-2's pattern
    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
- "llama-bpe" (Llama 3):
    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
- "qwen2" (Qwen2, 2.5, 3) and "deepseek-r1-qwen" (its distills): the same with \p{N} one digit at a time.
The case-insensitive contractions fold case as Oniguruma does ('S, 'LL, and 'ſ as 's).

Checked against Hugging Face tokenizers' Split(Regex(pattern), "isolated") on text with accents,
CJK, emoji, digit runs, code, whitespace runs and contractions in any case (tests/test_tokenizer_bpe.py).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")  # no two share a first letter: order is free
NEWLINES = "\r\n"


@lru_cache(maxsize=4096)
def _kind(ch: str) -> str:
    """'s' whitespace, 'L' letter, 'N' number, 'P' anything else."""
    if ch.isspace() and not "\x1c" <= ch <= "\x1f":  # White_Space: str.isspace less the separators
        return "s"
    cat = unicodedata.category(ch)[0]
    return cat if cat in "LN" else "P"


def _run_end(text: str, i: int, kind: str) -> int:
    """The end of the run of `kind` characters that starts at i."""
    n = len(text)
    while i < n and _kind(text[i]) == kind:
        i += 1
    return i


def _contraction_end(text: str, i: int, fold: bool) -> int:
    """The end of 's 't 're 've 'm 'll 'd at i (text[i] is an apostrophe), or 0."""
    for c in CONTRACTIONS:
        got = text[i + 1:i + 1 + len(c)]
        if (got.casefold() if fold else got) == c:
            return i + 1 + len(c)
    return 0


def split_gpt2(text: str) -> list[str]:
    """GPT-2's pattern, alternatives tried in the pattern's order."""
    out, i, n = [], 0, len(text)
    while i < n:
        k = _contraction_end(text, i, fold=False) if text[i] == "'" else 0
        if not k:
            j = i + 1 if text[i] == " " and i + 1 < n else i  # the optional leading space
            kind = _kind(text[j])
            if kind != "s":  # ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
                k = _run_end(text, j + 1, kind)
            else:  # `\s+(?!\S)` leaves the last space to the next word; else `\s+`
                k = _run_end(text, i, "s")
                if k < n and k - i >= 2:
                    k -= 1
        out.append(text[i:k])
        i = k
    return out


def split_smollm(text: str) -> list[str]:
    """SmolLM2's pre-tokenizer: every ASCII digit alone, then GPT-2's pattern."""
    out, start = [], 0
    for i, ch in enumerate(text):
        if "0" <= ch <= "9":
            out += split_gpt2(text[start:i])
            out.append(ch)
            start = i + 1
    return out + split_gpt2(text[start:])


def _llama3_end(text: str, i: int, max_digits: int) -> int:
    """The end of Llama 3's pattern's match at i (Qwen2's with max_digits=1)."""
    n, ch = len(text), text[i]
    kind = _kind(ch)
    if ch == "'":  # (?i:'s|'t|'re|'ve|'m|'ll|'d)
        k = _contraction_end(text, i, fold=True)
        if k:
            return k
    if kind == "L":  # [^\r\n\p{L}\p{N}]?\p{L}+, without the optional character
        return _run_end(text, i + 1, "L")
    if kind != "N" and ch not in NEWLINES and i + 1 < n and _kind(text[i + 1]) == "L":  # ... with it
        return _run_end(text, i + 2, "L")
    if kind == "N":  # \p{N}{1,3}
        k = i + 1
        while k < n and k - i < max_digits and _kind(text[k]) == "N":
            k += 1
        return k
    j = i + 1 if ch == " " and i + 1 < n else i
    if _kind(text[j]) == "P":  # ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        k = _run_end(text, j + 1, "P")
        while k < n and text[k] in NEWLINES:
            k += 1
        return k
    # text[i] is whitespace: the run it starts, up to its last newline (`\s*[\r\n]+`), else all but
    # the last space, which goes to the next word (`\s+(?!\S)`), else all of it (`\s+`)
    k = _run_end(text, i + 1, "s")
    last_newline = max(text.rfind("\r", i, k), text.rfind("\n", i, k))
    if last_newline >= 0:
        return last_newline + 1
    return k - 1 if k < n and k - i >= 2 else k


def _llama3_splitter(max_digits: int):
    def split(text: str) -> list[str]:
        out, i = [], 0
        while i < len(text):
            k = _llama3_end(text, i, max_digits)
            out.append(text[i:k])
            i = k
        return out
    return split


split_llama3 = _llama3_splitter(3)
split_qwen2 = _llama3_splitter(1)

PRETOKENIZERS = {
    "smollm": split_smollm,
    "default": split_smollm,
    "gpt-2": split_gpt2,
    "llama-bpe": split_llama3,
    "qwen2": split_qwen2,
    "deepseek-r1-qwen": split_qwen2,
}


def pretokenize(text: str, pre: str = "smollm") -> list[str]:
    """The pieces of `text` under the pre-tokenizer named `pre` (a key of PRETOKENIZERS)."""
    return PRETOKENIZERS[pre](text)
