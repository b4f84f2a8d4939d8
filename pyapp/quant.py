"""Host-side (numpy) packing of fp32 weights into the layouts the linear ops consume.

q4gsw  weight (N, ceil(K/2)) u8: nibble k at byte k//2 (low nibble for even k), stored as q+8,
       q in [-8, 7]; scales (G, padded_N) f32, group-major; w = q * scale.
q4gaw  same nibble packing, q in [0, 15] stored as is; scales and offsets (G, padded_N) f32;
       w = q * scale + offset (GGUF Q4_1).
q8gsw  weight (N, K) int8 stored as u8 bytes; scales (G, padded_N) f32; w = q * scale (GGUF Q8_0).
G = ceil(K / group_size), padded_N = N rounded up to 8. Each quantizer has its exact inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def padded(n: int, to: int = 8) -> int:
    return -(-n // to) * to


def _groups(w: np.ndarray, group_size: int) -> np.ndarray:
    """(N, K) -> (N, G, group_size), zero-padded along K."""
    if group_size <= 0:
        raise ValueError(f"group_size must be positive, got {group_size}")
    n, k = w.shape
    g = -(-k // group_size)
    out = np.zeros((n, g * group_size), np.float64)
    out[:, :k] = w
    return out.reshape(n, g, group_size)


def _group_major(per_row: np.ndarray) -> np.ndarray:
    """(N, G) per-row-group values -> (G, padded_N) f32, zero-padded."""
    n, g = per_row.shape
    out = np.zeros((g, padded(n)), np.float32)
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
class Q4GSW:
    weight: np.ndarray  # (N, ceil(K/2)) u8
    scales: np.ndarray  # (G, padded_N) f32
    group_size: int
    k: int


def quantize_q4gsw(w: np.ndarray, group_size: int) -> Q4GSW:
    n, k = w.shape
    groups = _groups(w, group_size)
    amax = np.abs(groups).max(axis=2)
    scale = np.where(amax > 0, amax / 7.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(groups / scale[..., None].astype(np.float64)), -8, 7).reshape(n, -1)[:, :k]
    return Q4GSW(pack_nibbles(q.astype(np.int64) + 8), _group_major(scale), group_size, k)


def dequantize_q4gsw(p: Q4GSW) -> np.ndarray:
    q = unpack_nibbles(p.weight, p.k).astype(np.float64) - 8
    return q * _expand(p.scales, q.shape[0], p.k, p.group_size)


@dataclass
class Q4GAW:
    weight: np.ndarray   # (N, ceil(K/2)) u8, q in 0..15
    scales: np.ndarray   # (G, padded_N) f32
    offsets: np.ndarray  # (G, padded_N) f32
    group_size: int
    k: int


def quantize_q4gaw(w: np.ndarray, group_size: int) -> Q4GAW:
    n, k = w.shape
    groups = _groups(w, group_size)
    if k % group_size:  # padding zeros must not widen the last group's range
        last = groups[:, -1, : k % group_size]
        groups[:, -1, k % group_size:] = last[:, :1]
    lo, hi = groups.min(axis=2), groups.max(axis=2)
    scale = np.where(hi > lo, (hi - lo) / 15.0, 1.0).astype(np.float32)
    offset = lo.astype(np.float32)
    q = np.clip(np.rint((groups - offset[..., None]) / scale[..., None]), 0, 15).reshape(n, -1)[:, :k]
    return Q4GAW(pack_nibbles(q), _group_major(scale), _group_major(offset), group_size, k)


def dequantize_q4gaw(p: Q4GAW) -> np.ndarray:
    q = unpack_nibbles(p.weight, p.k).astype(np.float64)
    n = q.shape[0]
    return q * _expand(p.scales, n, p.k, p.group_size) + _expand(p.offsets, n, p.k, p.group_size)


@dataclass
class Q8GSW:
    weight: np.ndarray  # (N, K) u8 holding int8
    scales: np.ndarray  # (G, padded_N) f32
    group_size: int
    k: int


def quantize_q8gsw(w: np.ndarray, group_size: int) -> Q8GSW:
    n, k = w.shape
    groups = _groups(w, group_size)
    amax = np.abs(groups).max(axis=2)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(groups / scale[..., None].astype(np.float64)), -127, 127).reshape(n, -1)[:, :k]
    return Q8GSW(q.astype(np.int8).view(np.uint8), _group_major(scale), group_size, k)


def dequantize_q8gsw(p: Q8GSW) -> np.ndarray:
    q = p.weight.view(np.int8).astype(np.float64)
    return q * _expand(p.scales, q.shape[0], p.k, p.group_size)


def max_error(w: np.ndarray, deq: np.ndarray) -> dict:
    """The quantizer's report: worst and mean absolute error, and the worst relative to |w|max."""
    err = np.abs(np.asarray(w, np.float64) - deq)
    return {"max_abs": float(err.max()), "mean_abs": float(err.mean()),
            "max_rel_to_range": float(err.max() / max(np.abs(w).max(), 1e-30))}
