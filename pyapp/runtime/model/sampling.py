"""Choosing the next token: greedy, or llama.cpp's sampler chain, seeded.

The chain, in llama.cpp's default order (common/sampling.cpp): logit bias, penalties over the
last `repeat_last_n` tokens (the prompt's included), top-k, top-p, min-p, temperature, then a
draw. Top-p and min-p are judged on softmax(logits) before the temperature, as llama.cpp does.
Order among equal logits: the lower token id first (llama.cpp leaves it to its sort).

Greedy uses the GPU's argmax (its winner read back, not the logits); the others read the logits and work in
pure Python here.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Sampling:
    temperature: float = 0.0       # 0 = greedy
    top_k: int = 40                # 0 = all tokens
    top_p: float = 1.0             # nucleus mass kept (1 = off)
    min_p: float = 0.0             # keep tokens with p >= min_p * p_max (0 = off)
    repeat_penalty: float = 1.0    # llama.cpp's: a seen token's logit / penalty if > 0, else * penalty
    repeat_last_n: int = 64        # tokens the penalties look back over (0 = off)
    frequency_penalty: float = 0.0  # minus count * this
    presence_penalty: float = 0.0   # minus this once seen
    logit_bias: dict[int, float] = field(default_factory=dict)  # token id -> added (-inf bans it)
    seed: int | None = None

    def __post_init__(self):
        bad = []
        if not self.temperature >= 0:
            bad.append(f"temperature {self.temperature} (>= 0)")
        if self.top_k < 0:
            bad.append(f"top_k {self.top_k} (>= 0)")
        if not 0 < self.top_p <= 1:
            bad.append(f"top_p {self.top_p} (in (0, 1])")
        if not 0 <= self.min_p <= 1:
            bad.append(f"min_p {self.min_p} (in [0, 1])")
        if not self.repeat_penalty > 0:
            bad.append(f"repeat_penalty {self.repeat_penalty} (> 0)")
        if self.repeat_last_n < 0:
            bad.append(f"repeat_last_n {self.repeat_last_n} (>= 0)")
        if not (math.isfinite(self.frequency_penalty) and math.isfinite(self.presence_penalty)):
            bad.append(f"frequency/presence penalties {self.frequency_penalty}/{self.presence_penalty} (finite)")
        if bad:
            raise ValueError(f"bad sampling settings: {', '.join(bad)}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def penalized(self) -> bool:
        return self.repeat_last_n > 0 and (self.repeat_penalty != 1.0 or self.frequency_penalty != 0.0
                                           or self.presence_penalty != 0.0)


class Sampler:
    def __init__(self, settings: Sampling):
        self.settings = settings
        self.rng = random.Random(settings.seed)

    def __call__(self, logits, history=()) -> int:
        """logits: a sequence of floats (array('f') over the read-back bytes); history: the
        tokens so far (prompt and generated), of which the last repeat_last_n are penalized."""
        s = self.settings
        n = len(logits)
        changed = dict(s.logit_bias and {i: logits[i] + b for i, b in s.logit_bias.items() if 0 <= i < n})
        if s.penalized and history:
            for i, count in Counter(history[-s.repeat_last_n:]).items():
                x = changed.get(i, logits[i])
                x = x * s.repeat_penalty if x <= 0 else x / s.repeat_penalty
                changed[i] = x - count * s.frequency_penalty - s.presence_penalty
        value = (lambda i: changed.get(i, logits[i])) if changed else logits.__getitem__
        key = lambda i: (value(i), -i)  # noqa: E731 - ties: the lower id first
        if s.top_k and s.top_k < n:
            cand = heapq.nlargest(s.top_k, range(n), key=key)
        else:
            cand = sorted(range(n), key=key, reverse=True)
        top = value(cand[0])
        probs = [math.exp(value(i) - top) for i in cand]  # top-p and min-p judge these (T = 1)
        total = sum(probs)
        kept = len(cand)
        if s.top_p < 1.0:
            mass = 0.0
            for kept, p in enumerate(probs, 1):
                mass += p
                if mass >= s.top_p * total:
                    break
        if s.min_p > 0.0:
            kept = max(1, sum(1 for p in probs[:kept] if p >= s.min_p))  # probs[0] is 1: p_max
        cand = cand[:kept]
        weights = [math.exp((value(i) - top) / s.temperature) for i in cand]
        r = self.rng.random() * sum(weights)
        for i, w in zip(cand, weights):
            r -= w
            if r <= 0:
                return i
        return cand[-1]
