"""What the two BPE tokenizers share (bytelevel.py, spm.py): GGUF's token types, their errors, and
the merge loop.

The merge loop is the one sentencepiece, Hugging Face tokenizers and llama.cpp run: the candidate
pairs of adjacent symbols sit in a heap, the best pair merges first (the leftmost among equals),
and a merge only adds the two pairs around the new symbol, so a piece of n symbols costs
O(n log n), never O(n^2), however long it is (a run of 100,000 spaces is one piece).
"""

from __future__ import annotations

import heapq

# GGUF's tokenizer.ggml.token_type values (llama.cpp's llama_token_type, sentencepiece's piece types)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


class TokenizerError(ValueError):
    """Text this tokenizer cannot encode, said in words."""


class UnsupportedTokenizer(ValueError):
    """A tokenizer (model or pre-tokenizer) this runtime does not implement, named."""


def merge(symbols: list[str], priority) -> list[str]:
    """Merge adjacent symbols, smallest priority(left, right) first (None: never), leftmost first
    among equal priorities, until no pair merges. Returns the final symbols in order."""
    syms = list(symbols)
    n = len(syms)
    nxt = [*range(1, n), -1]
    prv = list(range(-1, n - 1))
    heap = []

    def push(left: int, right: int):
        key = priority(syms[left], syms[right])
        if key is not None:
            heapq.heappush(heap, (key, left, right, len(syms[left]) + len(syms[right])))

    for i in range(n - 1):
        push(i, i + 1)
    while heap:
        _, left, right, size = heapq.heappop(heap)
        a, b = syms[left], syms[right]
        if not a or not b or len(a) + len(b) != size:  # a symbol of this pair merged since: stale
            continue
        syms[left], syms[right] = a + b, ""
        nxt[left] = nxt[right]
        if nxt[left] != -1:
            prv[nxt[left]] = left
            push(left, nxt[left])
        if prv[left] != -1:
            push(prv[left], left)
    return [s for s in syms if s]
