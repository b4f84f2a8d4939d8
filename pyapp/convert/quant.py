"""Host-side (numpy) packing of fp32 weights into the layouts the linear ops consume.

The layouts' sizes live in pyapp/runtime/ops/formats.py; the values:
q4gsw  nibble k at byte k//2 (low nibble for even k), stored as q+8, q in [-8, 7]; w = q * scale.
q4gaw  same nibble packing, q in [0, 15] stored as is; w = q * scale + offset (GGUF Q4_1).
q8gsw  int8 q stored as u8 bytes; w = q * scale (GGUF Q8_0, Q6_K, Q5_0).
q8gaw  int8 q stored as u8 bytes; w = q * scale + offset (GGUF Q5_1, Q5_K).
Each quantizer has its exact inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime.ops.formats import padded_n


def _groups(w: np.ndarray, group_size: int) -> np.ndarray:
    """(N, K) -> (N, G, group_size), zero-padded along K."""
    if group_size <= 0:
        raise ValueError(f"group_size must be positive, got {group_size}")
    n, k = w.shape
    g = -(-k // group_size)
    out = np.zeros((n, g * group_size), np.float64)
    out[:, :k] = w
    return out.reshape(n, g, group_size)


def group_major(per_row: np.ndarray) -> np.ndarray:
    """(N, G) per-row-group values -> (G, padded_N) f32, zero-padded."""
    n, g = per_row.shape
    out = np.zeros((g, padded_n(n)), np.float32)
    out[:, :n] = per_row.T
    return out


def pack_nibbles(q: np.ndarray) -> np.ndarray:
    """(N, K) values in 0..15 -> (N, ceil(K/2)) u8; even k in the low nibble."""
    n, k = q.shape
    q = np.pad(q.astype(np.uint8), ((0, 0), (0, k % 2)))
    return (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8)


def unpack_nibbles(packed: np.ndarray, k: int) -> np.ndarray:
    lo, hi = packed & 0x0F, packed >> 4
    out = np.empty((packed.shape[0], packed.shape[1] * 2), np.uint8)
    out[:, 0::2], out[:, 1::2] = lo, hi
    return out[:, :k]


def _expand(per_group: np.ndarray, n: int, k: int, group_size: int) -> np.ndarray:
    """(G, padded_N) -> (N, K) by repeating each group's value over its columns."""
    return np.repeat(per_group[:, :n].T.astype(np.float64), group_size, axis=1)[:, :k]


@dataclass
class Packed:
    """A packed weight: the symmetric formats have no offsets; q4gaw and q8gaw have them."""

    weight: np.ndarray             # q4: (N, ceil(K/2)) u8 nibbles; q8: (N, K) u8 holding int8
    scales: np.ndarray             # (G, padded_N) f32
    group_size: int
    k: int
    offsets: np.ndarray | None = None  # (G, padded_N) f32, q4gaw only


def _symmetric(w: np.ndarray, group_size: int, qmin: int, qmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes q in [qmin, qmax] (N, K) and per-group scales (N, G) with w ~ q * scale."""
    n, k = w.shape
    groups = _groups(w, group_size)
    amax = np.abs(groups).max(axis=2)
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    q = np.clip(np.rint(groups / scale[..., None].astype(np.float64)), qmin, qmax).reshape(n, -1)[:, :k]
    return q.astype(np.int64), scale


def _dequantize(q: np.ndarray, p: Packed) -> np.ndarray:
    n = q.shape[0]
    w = q.astype(np.float64) * _expand(p.scales, n, p.k, p.group_size)
    return w if p.offsets is None else w + _expand(p.offsets, n, p.k, p.group_size)


def quantize_q4gsw(w: np.ndarray, group_size: int) -> Packed:
    q, scale = _symmetric(w, group_size, -8, 7)
    return Packed(pack_nibbles(q + 8), group_major(scale), group_size, w.shape[1])


def dequantize_q4gsw(p: Packed) -> np.ndarray:
    return _dequantize(unpack_nibbles(p.weight, p.k).astype(np.int64) - 8, p)


def _affine(w: np.ndarray, group_size: int, qmin: int, qmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes q in [qmin, qmax] (N, K), per-group scales and offsets (N, G) with w ~ q * scale + offset."""
    n, k = w.shape
    groups = _groups(w, group_size)
    if k % group_size:  # padding zeros must not widen the last group's range
        last = groups[:, -1, : k % group_size]
        groups[:, -1, k % group_size:] = last[:, :1]
    lo, hi = groups.min(axis=2), groups.max(axis=2)
    scale = np.where(hi > lo, (hi - lo) / (qmax - qmin), 1.0).astype(np.float32)
    offset = (lo - qmin * scale.astype(np.float64)).astype(np.float32)  # q = qmin stands for the minimum
    q = np.clip(np.rint((groups - offset[..., None]) / scale[..., None]), qmin, qmax).reshape(n, -1)[:, :k]
    return q, scale, offset


def quantize_q4gaw(w: np.ndarray, group_size: int) -> Packed:
    q, scale, offset = _affine(w, group_size, 0, 15)
    return Packed(pack_nibbles(q), group_major(scale), group_size, w.shape[1], group_major(offset))


def dequantize_q4gaw(p: Packed) -> np.ndarray:
    return _dequantize(unpack_nibbles(p.weight, p.k), p)


def quantize_q8gsw(w: np.ndarray, group_size: int) -> Packed:
    q, scale = _symmetric(w, group_size, -127, 127)
    return Packed(q.astype(np.int8).view(np.uint8), group_major(scale), group_size, w.shape[1])


def dequantize_q8gsw(p: Packed) -> np.ndarray:
    return _dequantize(p.weight.view(np.int8), p)


def quantize_q8gaw(w: np.ndarray, group_size: int) -> Packed:
    q, scale, offset = _affine(w, group_size, -128, 127)
    return Packed(q.astype(np.int8).view(np.uint8), group_major(scale), group_size, w.shape[1], group_major(offset))


def dequantize_q8gaw(p: Packed) -> np.ndarray:
    return _dequantize(p.weight.view(np.int8), p)


DEQUANTIZE = {"q4gsw": dequantize_q4gsw, "q4gaw": dequantize_q4gaw, "q8gsw": dequantize_q8gsw,
              "q8gaw": dequantize_q8gaw}


def max_error(w: np.ndarray, deq: np.ndarray) -> dict:
    """The quantizer's report: worst and mean absolute error, and the worst relative to |w|max."""
    err = np.abs(np.asarray(w, np.float64) - deq)
    return {"max_abs": float(err.max()), "mean_abs": float(err.mean()),
            "max_rel_to_range": float(err.max() / max(np.abs(w).max(), 1e-30))}
