"""The GPU sampler's algorithm on the host: numpy fp64, the same chain and the same RNG stream.

pyapp/runtime/ops/fused/sample.py states the chain, the order (ties: the lower id first) and the
draw; this module is its reference, written apart from the shader. `draw` also says whether
the token is safe from the GPU's rounding (fp32, fixed-point masses) and, in the model, from
the GPU's logits differing from the reference's by a little: no token near a boundary (a
logit gap at top-k, a cumulative mass at top_p, a log-probability at log(min_p)) changes the
draw whether kept or not, and r is not within `tol` of a running sum. Tests compare tokens
where it is, and count where it is not.
"""

from __future__ import annotations

import math

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)


def philox4x32(counters, seed: int) -> np.ndarray:
    """Philox4x32-10 (Salmon et al., Random123) of counters (..., 4) under the 64-bit seed as
    key: (..., 4) uint32."""
    ctr = np.asarray(counters, np.uint64) & MASK
    c = [ctr[..., i] for i in range(4)]
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & MASK, (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1),
             p0 & MASK]
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return np.stack(c, axis=-1).astype(np.uint32)


def uniforms(seed: int, positions) -> np.ndarray:
    """The draw's u at each position: 24 bits of Philox's first word, in [0, 1)."""
    positions = np.asarray(positions, np.uint64)
    counters = np.stack([positions] + [np.zeros_like(positions)] * 3, axis=-1)  # (position, 0, 0, 0)
    return (philox4x32(counters, seed)[..., 0] >> 8).astype(np.float64) / 2.0 ** 24


def adjusted(logits, s, history) -> np.ndarray:
    """Logit bias, then the penalties over the last repeat_last_n of `history` (all tokens up
    to and including the position being sampled)."""
    x = np.asarray(logits, np.float64).copy()
    for i, b in s.logit_bias.items():
        x[i] += b
    if s.penalized and len(history):
        ids, counts = np.unique(np.asarray(history[-s.repeat_last_n:], np.int64), return_counts=True)
        v = x[ids]
        v = np.where(v <= 0, v * s.repeat_penalty, v / s.repeat_penalty)
        x[ids] = v - counts * s.frequency_penalty - s.presence_penalty
    return x


def kept(x, s, tol: float = 0.0):
    """The kept token ids, and those whose keeping is within `tol` of a boundary (a logit gap at
    top-k, a cumulative mass against top_p, a log-probability against log(min_p)): (ids, near)."""
    n = len(x)
    order = np.lexsort((np.arange(n), -x))  # x descending, then the lower id
    k = s.top_k if 0 < s.top_k < n else n
    near: set[int] = set()
    if k < n and 0 < x[order[k - 1]] - x[order[k]] <= tol:
        near |= {int(order[k - 1]), int(order[k])}
    cand = order[:k]
    p = np.exp(x[cand] - x[cand[0]])
    m = k
    if s.top_p < 1.0:
        cum = np.cumsum(p) / p.sum()
        m = min(int(np.searchsorted(cum, s.top_p, side="left")) + 1, k)  # the first prefix reaching top_p
        if (m >= 2 and s.top_p - cum[m - 2] <= tol) or (m < k and cum[m - 1] - s.top_p <= tol):
            near |= {int(i) for i in cand[max(m - 2, 0):m + 1]}
    if s.min_p > 0.0:
        logp = x[cand[:m]] - x[cand[0]]
        near |= {int(i) for i in cand[:m][np.abs(logp - math.log(s.min_p)) <= tol]}
        m = max(1, int(np.sum(p[:m] >= s.min_p)))
    return cand[:m], near


def _pick(x, ids, s, u):
    """The draw over kept ids: (token, r's distance to the running sums around it / the sum)."""
    ids = np.sort(np.asarray(list(ids), np.int64))
    w = np.exp((x[ids] - x.max()) / s.temperature)
    run = np.cumsum(w)
    r = u * run[-1]
    j = int(np.searchsorted(run, r, side="right"))  # the first running sum above r
    lo = run[j - 1] if j else 0.0
    return int(ids[j]), min(r - lo, run[j] - r) / run[-1]


def draw(logits, s, seed: int, position: int, history=(), tol: float = 1e-4, draw_tol: float | None = None):
    """The token the GPU draws from these logits at `position` (history: the tokens at
    positions 0..position), and whether the GPU's rounding cannot change it: the draw is the
    same without and with the tokens near a boundary, and r is more than draw_tol (default tol)
    of the sum from a running sum."""
    x = adjusted(logits, s, history)
    ids, near = kept(x, s, tol)
    if s.temperature == 0:
        top = np.sort(x)[::-1]
        return int(ids[0]), bool(top[0] - top[1] > tol or top[0] == top[1])
    u = float(uniforms(seed, position))
    token, margin = _pick(x, ids, s, u)
    sure = set(map(int, ids)) - near
    same = all(_pick(x, v, s, u)[0] == token for v in (sure or ids, set(map(int, ids)) | near))
    return token, same and margin > (tol if draw_tol is None else draw_tol)


def distribution(logits, s, history=()) -> np.ndarray:
    """The probability of each token under the chain: (V,) fp64."""
    x = adjusted(logits, s, history)
    ids, _ = kept(x, s)
    out = np.zeros(len(x))
    if s.temperature == 0:
        out[ids[0]] = 1.0
        return out
    w = np.exp((x[ids] - x.max()) / s.temperature)
    out[ids] = w / w.sum()
    return out
