"""SentencePiece BPE (GGUF tokenizer.ggml.model "llama"): Llama 2, Mistral, TinyLlama.

What the sentencepiece library does with a BPE model whose normalizer is the identity, with a
dummy prefix and extra whitespace kept (Llama 2's and Mistral's settings):
- encoding: every space (U+0020) becomes "▁" (U+2581), and one "▁" goes in front of the text
  when tokenizer.ggml.add_space_prefix says so (the default). The text splits into characters,
  and adjacent symbols merge while their concatenation is a piece (a normal, user-defined or
  unused token): the highest tokenizer.ggml.scores first, the leftmost among equal scores
  (bpe.merge). An unused piece is split back into the two symbols that formed it. A symbol
  that is no token becomes the <0xNN> byte tokens of its UTF-8 bytes (byte fallback) or, in a
  vocabulary without byte tokens, the unknown token (one for a run of such symbols).
- decoding: "▁" is a space, byte tokens are reassembled into UTF-8, the unknown token reads
  " ⁇ ", and Tokenizer.decode drops the first piece's leading space (the dummy prefix's);
  StreamDecoder keeps it, since generated text continues a prompt.
Special tokens written in the text (<s>, [INST] ...) are matched before this (tokenizer.py),
which sentencepiece itself never does; each stretch of text between them is encoded on its own
and gets its own "▁" in front, as llama.cpp does (and Hugging Face's legacy Llama tokenizer).

Checked against the sentencepiece library on BPE models it trains in tests/test_tokenizer_spm.py
(with and without byte fallback, without the dummy prefix): ids and decoded text.
"""

from __future__ import annotations

import re

from .bpe import BYTE, NORMAL, UNKNOWN, UNUSED, USER_DEFINED, TokenizerError, merge

SPACE = "\u2581"  # ▁
UNKNOWN_SURFACE = " \u2047 "  # what sentencepiece decodes the unknown token to: " ⁇ "
BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


class SentencePieceBPE:
    def __init__(self, spec: dict, ids: dict[str, int]):
        self.tokens: list[str] = spec["tokens"]
        self.types: list[int] = spec.get("token_type") or [NORMAL] * len(self.tokens)
        self.ids = ids
        self.add_space_prefix = bool(spec.get("add_space_prefix", True))
        mergeable = (NORMAL, USER_DEFINED, UNUSED)
        self.scores = {t: s for t, s, ty in zip(self.tokens, spec["scores"], self.types) if ty in mergeable}
        self.unused = {t for t, ty in zip(self.tokens, self.types) if ty == UNUSED}
        self.byte_value = {i: int(m[1], 16) for i, (t, ty) in enumerate(zip(self.tokens, self.types))
                           if ty == BYTE and (m := BYTE_TOKEN.fullmatch(t))}
        self.byte_ids = {b: i for i, b in self.byte_value.items()}
        self.unknown_id = next((i for i, ty in enumerate(self.types) if ty == UNKNOWN), None)

    def encode(self, text: str) -> list[int]:
        """The ids of text that holds no special token (none for no text, as sentencepiece)."""
        if not text:
            return []
        formed = {}  # unused piece -> the two symbols it was formed of (sentencepiece's rev_merge)

        def priority(a: str, b: str) -> float | None:
            piece = a + b
            score = self.scores.get(piece)
            if score is None:
                return None
            if piece in self.unused:
                formed[piece] = (a, b)
            return -score

        prefix = SPACE if self.add_space_prefix else ""
        ids, unknown_run = [], False
        for symbol in merge(list(prefix + text.replace(" ", SPACE)), priority):
            for piece in self._resegment(symbol, formed):
                unknown_run = self._append(piece, ids, unknown_run)
        return ids

    def _resegment(self, symbol: str, formed: dict) -> list[str]:
        """An unused piece back into the symbols that formed it, recursively."""
        if symbol not in formed:
            return [symbol]
        a, b = formed[symbol]
        return self._resegment(a, formed) + self._resegment(b, formed)

    def _append(self, piece: str, ids: list[int], unknown_run: bool) -> bool:
        """Append the ids of one final symbol; returns whether it was an unknown one."""
        if piece in self.ids:
            ids.append(self.ids[piece])
            return False
        if self.byte_ids:
            data = piece.encode("utf-8")
            missing = [b for b in data if b not in self.byte_ids]
            if missing:
                raise TokenizerError(f"the model's vocabulary has no token for byte 0x{missing[0]:02X}, "
                                     f"so it cannot encode {piece.replace(SPACE, ' ')!r}")
            ids.extend(self.byte_ids[b] for b in data)
            return False
        if self.unknown_id is None:
            raise TokenizerError(f"the model's vocabulary has neither a token nor byte tokens for "
                                 f"{piece.replace(SPACE, ' ')!r}, and no unknown token")
        if not unknown_run:
            ids.append(self.unknown_id)
        return True

    def token_bytes(self, token_id: int) -> bytes:
        if token_id in self.byte_value:
            return bytes([self.byte_value[token_id]])
        if self.types[token_id] == UNKNOWN:
            return UNKNOWN_SURFACE.encode()
        return self.tokens[token_id].replace(SPACE, " ").encode()

    def dummy_prefix(self, token_id: int) -> bool:
        """Whether this token, first in a text, starts with the space the encoder put in front."""
        return self.add_space_prefix and self.types[token_id] == NORMAL and self.tokens[token_id].startswith(SPACE)
