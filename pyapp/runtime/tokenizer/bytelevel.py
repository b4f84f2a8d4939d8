"""Byte-level BPE, GPT-2's scheme (GGUF tokenizer.ggml.model "gpt2"): SmolLM2, Llama 3, Qwen2/2.5/3.

Text is cut into pieces by the model's pre-tokenizer (pretokenize.py, named by tokenizer.ggml.pre);
each piece's UTF-8 bytes become GPT-2's printable byte symbols, and adjacent symbols merge by the
rank of their pair in tokenizer.ggml.merges, lowest first (bpe.merge). Llama 3's tokenizer takes a
piece that is a token whole without merging it (Hugging Face's ignore_merges; llama.cpp does the
same for "llama-bpe").

Checked against Hugging Face tokenizers: SmolLM2's own tokenizer (tests/test_tokenizer.py), BPEs
over SmolLM2's vocabulary with each pre-tokenizer's regex, and the real Llama 3 tokenizer
(tests/test_tokenizer_bpe.py).
"""

from __future__ import annotations

from .bpe import TokenizerError, UnsupportedTokenizer, merge
from .pretokenize import PRETOKENIZERS

WHOLE_TOKEN_PIECES = {"llama-bpe"}  # pre-tokenizers whose model emits a piece that is a token as it is


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


class ByteLevelBPE:
    def __init__(self, spec: dict, ids: dict[str, int]):
        pre = spec.get("pre", "default")
        if pre not in PRETOKENIZERS:
            raise UnsupportedTokenizer(f"the pre-tokenizer tokenizer.ggml.pre={pre!r} is not supported "
                                       f"(supported: {', '.join(PRETOKENIZERS)})")
        self.split = PRETOKENIZERS[pre]
        self.whole_tokens = pre in WHOLE_TOKEN_PIECES
        self.tokens: list[str] = spec["tokens"]
        self.ids = ids
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(spec["merges"])}
        self.byte_char = bytes_to_unicode()
        self.char_byte = {c: b for b, c in self.byte_char.items()}
        self._cache: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        """The ids of text that holds no special token."""
        ids = []
        for piece in self.split(text):
            ids += self._cache.get(piece) or self._piece_ids(piece)
        return ids

    def _rank(self, a: str, b: str) -> int | None:
        return self.ranks.get((a, b))

    def _piece_ids(self, piece: str) -> list[int]:
        word = "".join(self.byte_char[b] for b in piece.encode("utf-8"))
        symbols = [word] if self.whole_tokens and word in self.ids else merge(list(word), self._rank)
        missing = [s for s in symbols if s not in self.ids]
        if missing:
            what = (f"byte 0x{self.char_byte[missing[0]]:02X}" if missing[0] in self.char_byte
                    else f"the symbol {missing[0]!r}")
            raise TokenizerError(f"the model's vocabulary has no token for {what}, so it cannot encode {piece!r}")
        ids = self._cache[piece] = [self.ids[s] for s in symbols]
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        # a symbol outside the byte alphabet (a vocabulary that is not byte-level) stands for itself
        return b"".join(bytes([self.char_byte[c]]) if c in self.char_byte else c.encode("utf-8", "replace")
                        for c in self.tokens[token_id])

    def dummy_prefix(self, token_id: int) -> bool:
        """Byte-level BPE puts no space in front of the text."""
        return False
