"""Choosing the next token: greedy, or temperature with top-k and top-p, seeded.

Greedy uses the GPU's argmax (8 bytes read back); the others read the logits and work in
pure Python over at most top_k candidates when top_k is set.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass


@dataclass
class Sampling:
    temperature: float = 0.0  # 0 = greedy
    top_k: int = 40           # 0 = all tokens
    top_p: float = 1.0        # nucleus mass kept
    seed: int | None = None

    def __post_init__(self):
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError(f"bad sampling settings: temperature {self.temperature} (>= 0), "
                             f"top_k {self.top_k} (>= 0), top_p {self.top_p} (in (0, 1])")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


class Sampler:
    def __init__(self, settings: Sampling):
        self.settings = settings
        self.rng = random.Random(settings.seed)

    def __call__(self, logits) -> int:
        """logits: a sequence of floats (array('f') over the read-back bytes)."""
        s = self.settings
        n = len(logits)
        if s.top_k and s.top_k < n:
            cand = heapq.nlargest(s.top_k, range(n), key=logits.__getitem__)
        else:
            cand = sorted(range(n), key=logits.__getitem__, reverse=True)
        top = logits[cand[0]]
        weights = [math.exp((logits[i] - top) / s.temperature) for i in cand]
        total = sum(weights)
        if s.top_p < 1.0:
            kept, mass = 0, 0.0
            while kept < len(cand) and mass < s.top_p * total:
                mass += weights[kept]
                kept += 1
            cand, weights, total = cand[:kept], weights[:kept], mass
        r = self.rng.random() * total
        for i, w in zip(cand, weights):
            r -= w
            if r <= 0:
                return i
        return cand[-1]
