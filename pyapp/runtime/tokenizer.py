"""Byte-level BPE (GPT-2 style) from a GGUF's vocab and merges: pure Python, runs in the page.

Pre-tokenization follows the model's own tokenizer (Hugging Face's Digits(individual) +
ByteLevel): every ASCII digit stands alone (other numerals do not: llama.cpp's "smollm" regex
differs there), then GPT-2's pattern
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
Python's `re` has no \\p{L}, and Pyodide has no `regex` offline, so the pattern is a small
scanner over unicodedata categories. Control tokens (<|im_start|> ...) in the text are
matched first and map to their ids.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

CONTRACTIONS = ("re", "ve", "ll", "s", "t", "m", "d")
CONTROL, USER_DEFINED = 3, 4  # GGUF token types that are matched verbatim in text
NO_MERGE = 1 << 30


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@lru_cache(maxsize=4096)
def _kind(ch: str) -> str:
    if ch.isspace():
        return "s"
    cat = unicodedata.category(ch)
    return "L" if cat[0] == "L" else "N" if cat[0] == "N" else "P"


def _pattern_pieces(text: str) -> list[str]:
    """GPT-2's pattern on a chunk without digits, alternatives tried in the pattern's order."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] == "'":  # 's 't 're 've 'm 'll 'd
            hit = next((c for c in CONTRACTIONS if text.startswith(c, i + 1)), None)
            if hit:
                out.append("'" + hit)
                i += 1 + len(hit)
                continue
        j = i + 1 if text[i] == " " and i + 1 < n else i  # the optional leading space
        kind = _kind(text[j])
        if kind != "s":  # ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
            k = j + 1
            while k < n and _kind(text[k]) == kind:
                k += 1
        else:  # `\s+(?!\S)` keeps the last space for the next word; else `\s+`
            k = i
            while k < n and _kind(text[k]) == "s":
                k += 1
            if k < n and k - i >= 2:
                k -= 1
        out.append(text[i:k])
        i = k
    return out


def pretokenize(text: str) -> list[str]:
    """Split text as SmolLM2's pre-tokenizer does: every ASCII digit alone, then GPT-2's pattern."""
    out, start = [], 0
    for i, ch in enumerate(text):
        if "0" <= ch <= "9":
            out += _pattern_pieces(text[start:i])
            out.append(ch)
            start = i + 1
    return out + _pattern_pieces(text[start:])


class TokenizerError(ValueError):
    """Text this tokenizer cannot encode, said in words."""


class Tokenizer:
    def __init__(self, spec: dict):
        self.tokens: list[str] = spec["tokens"]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(spec["merges"])}
        types = spec.get("token_type") or []
        self.special = {self.tokens[i]: i for i, t in enumerate(types) if t in (CONTROL, USER_DEFINED)}
        self.control_ids = {i for i, t in enumerate(types) if t == CONTROL}
        self.bos_id, self.eos_id = spec.get("bos_id"), spec.get("eos_id")
        self.add_bos = bool(spec.get("add_bos", False))
        self.chat_template: str = spec.get("chat_template") or ""
        self.byte_char = bytes_to_unicode()
        self.char_byte = {c: b for b, c in self.byte_char.items()}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def _bpe(self, piece: str) -> list[int]:
        """Merge the piece's byte symbols, lowest merge rank first, until no merge applies."""
        if piece in self._cache:
            return self._cache[piece]
        word = [self.byte_char[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            rank, k = min((self.ranks.get(pair, NO_MERGE), k) for k, pair in enumerate(zip(word, word[1:])))
            if rank == NO_MERGE:
                break
            a, b = word[k], word[k + 1]
            merged, k = [], 0
            while k < len(word):
                if k + 1 < len(word) and word[k] == a and word[k + 1] == b:
                    merged.append(a + b)
                    k += 2
                else:
                    merged.append(word[k])
                    k += 1
            word = merged
        missing = [w for w in word if w not in self.ids]
        if missing:
            what = (f"byte 0x{self.char_byte[missing[0]]:02X}" if missing[0] in self.char_byte
                    else f"the symbol {missing[0]!r}")
            raise TokenizerError(f"the model's vocabulary has no token for {what}, so it cannot encode {piece!r}")
        ids = [self.ids[w] for w in word]
        self._cache[piece] = ids
        return ids

    def _split_special(self, text: str):
        """Yield (is_special, chunk): control tokens written in the text are matched verbatim."""
        i = start = 0
        firsts = {t[0] for t in self.special if t}
        while i < len(text):
            if text[i] in firsts:
                hit = max((t for t in self.special if t and text.startswith(t, i)), key=len, default=None)
                if hit:
                    if i > start:
                        yield False, text[start:i]
                    yield True, hit
                    i = start = i + len(hit)
                    continue
            i += 1
        if start < len(text):
            yield False, text[start:]

    def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:  # a lone surrogate: JS strings may hold one
            raise TokenizerError(f"the text has a character that is not valid Unicode (U+{ord(text[e.start]):04X}, "
                                 f"a lone surrogate, at position {e.start})") from None
        bos = self.add_bos if add_bos is None else add_bos
        ids = [self.bos_id] if bos and self.bos_id is not None else []
        for special, chunk in self._split_special(text):
            if special:
                ids.append(self.special[chunk])
            else:
                for piece in pretokenize(chunk):
                    ids.extend(self._bpe(piece))
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        tok = self.tokens[token_id]
        if tok in self.special:
            return tok.encode()
        # a symbol outside the byte alphabet (a vocabulary that is not byte-level) stands for itself
        return b"".join(bytes([self.char_byte[c]]) if c in self.char_byte else c.encode("utf-8", "replace")
                        for c in tok)

    def decode(self, ids, skip_control: bool = False) -> str:
        data = b"".join(self.token_bytes(i) for i in ids if not (skip_control and i in self.control_ids))
        return data.decode("utf-8", errors="replace")


class StreamDecoder:
    """Turns generated ids into text as they come, holding back an incomplete UTF-8 sequence."""

    def __init__(self, tokenizer: Tokenizer):
        self.tok = tokenizer
        self.pending = b""

    def push(self, token_id: int) -> str:
        if token_id in self.tok.control_ids:
            return ""
        self.pending += self.tok.token_bytes(token_id)
        for cut in range(len(self.pending), max(len(self.pending) - 4, -1), -1):
            try:
                text = self.pending[:cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
            self.pending = self.pending[cut:]
            return text
        return ""

    def flush(self) -> str:
        text, self.pending = self.pending.decode("utf-8", errors="replace"), b""
        return text
