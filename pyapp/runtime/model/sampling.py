"""The settings of llama.cpp's sampler chain, seeded: what a generation samples with.

The chain, in llama.cpp's default order (common/sampling.cpp): logit bias, penalties over the
last `repeat_last_n` tokens (the prompt's included), top-k, top-p, min-p, temperature, then a
draw. Top-p and min-p are judged on softmax(logits) before the temperature, as llama.cpp does.
Order among equal logits: the lower token id first (llama.cpp leaves it to its sort).

The GPU runs it (ops/fused/sample.py: the draw, its RNG and its rounding); plain greedy decoding
(temperature 0, no bias, no penalties) stays the GPU's argmax.
"""

from __future__ import annotations

import math
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
        if self.seed is not None and not 0 <= self.seed < 2 ** 64:
            bad.append(f"seed {self.seed} (within 0..2^64-1)")
        if not (math.isfinite(self.frequency_penalty) and math.isfinite(self.presence_penalty)):
            bad.append(f"frequency/presence penalties {self.frequency_penalty}/{self.presence_penalty} (finite)")
        if bad:
            raise ValueError(f"bad sampling settings: {', '.join(bad)}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def argmax(self) -> bool:
        """The token is the plain argmax of the logits: greedy, with no bias and no penalties."""
        return self.greedy and not self.penalized and not self.logit_bias

    @property
    def penalized(self) -> bool:
        return self.repeat_last_n > 0 and (self.repeat_penalty != 1.0 or self.frequency_penalty != 0.0
                                           or self.presence_penalty != 0.0)
