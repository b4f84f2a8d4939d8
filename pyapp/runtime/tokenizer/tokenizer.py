"""The tokenizer of a GGUF model, in pure Python (it runs in the page): `Tokenizer(spec)`, with spec
as pyapp.export.tokenizer_config writes it.

spec["model"] picks the model (tokenizer.ggml.model):
- "gpt2": byte-level BPE with the pre-tokenizer spec["pre"] names (bytelevel.py, pretokenize.py):
  SmolLM2, Llama 3, Qwen2/2.5/3;
- "llama": SentencePiece BPE with scores and byte fallback (spm.py): Llama 2, Mistral, TinyLlama.
Control and user-defined tokens written in the text (<|im_start|>, <s> ...) are matched first,
the longest at the leftmost place, and map to their ids; the model encodes the text between them.
StreamDecoder turns generated ids into text as they come, for either model.
"""

from __future__ import annotations

import codecs
import re

from .bpe import CONTROL, USER_DEFINED, TokenizerError, UnsupportedTokenizer
from .bytelevel import ByteLevelBPE
from .pretokenize import pretokenize  # noqa: F401  (tests and tools split text with it from here)
from .spm import SentencePieceBPE

MODELS = {"gpt2": ByteLevelBPE, "llama": SentencePieceBPE}


class Tokenizer:
    def __init__(self, spec: dict):
        kind = spec.get("model", "gpt2")
        if kind not in MODELS:
            raise UnsupportedTokenizer(f"the tokenizer model tokenizer.ggml.model={kind!r} is not supported "
                                       f"(supported: {', '.join(MODELS)})")
        self.tokens: list[str] = spec["tokens"]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        types = spec.get("token_type") or []
        self.special = {self.tokens[i]: i for i, t in enumerate(types)
                        if t in (CONTROL, USER_DEFINED) and self.tokens[i]}
        self.control_ids = {i for i, t in enumerate(types) if t == CONTROL}
        self.bos_id, self.eos_id = spec.get("bos_id"), spec.get("eos_id")
        self.add_bos = bool(spec.get("add_bos", False))
        self.chat_template: str = spec.get("chat_template") or ""
        self.model = MODELS[kind](spec, self.ids)
        longest_first = sorted(self.special, key=len, reverse=True)
        self._special_re = re.compile("|".join(map(re.escape, longest_first))) if longest_first else None

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def _fragments(self, text: str):
        """Yield (is_special, chunk): special tokens written in the text, and the text between them."""
        start = 0
        for m in self._special_re.finditer(text) if self._special_re else ():
            if m.start() > start:
                yield False, text[start:m.start()]
            yield True, m.group()
            start = m.end()
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
        for special, chunk in self._fragments(text):
            if special:
                ids.append(self.special[chunk])
            else:
                ids += self.model.encode(chunk)
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one token stands for, as generated (a SentencePiece "▁" keeps its space)."""
        tok = self.tokens[token_id]
        if tok in self.special:
            return tok.encode()
        return self.model.token_bytes(token_id)

    def decode(self, ids, skip_control: bool = False) -> str:
        """The text of ids; a SentencePiece model's first piece loses the space it put in front."""
        parts, first = [], True
        for i in ids:
            if i in self.control_ids:  # no text of the model's: never the first piece
                if not skip_control:
                    parts.append(self.token_bytes(i))
                continue
            data = self.token_bytes(i)
            parts.append(data[1:] if first and self.model.dummy_prefix(i) else data)
            first = False
        return b"".join(parts).decode("utf-8", errors="replace")


class StreamDecoder:
    """Turns generated ids into text as they come, holding back an incomplete UTF-8 sequence; the
    text continues the prompt, so a SentencePiece "▁" at the start stays a space."""

    def __init__(self, tokenizer: Tokenizer):
        self.tok = tokenizer
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        if token_id in self.tok.control_ids:
            return ""
        return self.utf8.decode(self.tok.token_bytes(token_id))

    def flush(self) -> str:
        return self.utf8.decode(b"", final=True)
