"""GGUF tensor types -> the stored layouts our kernels read (pyapp/runtime/ops/formats.py), exactly.

Nothing is requantized: every GGUF block maps onto groups whose weights are code * scale +
offset with the same codes, and the scales and offsets are products of the block's f16 scales
and its small integer sub-scales, which f32 holds exactly.

  Q4_0  -> q4gsw/32   codes c (stored c = q + 8), scale d
  Q4_1  -> q4gaw/32   codes q, scale d, offset m
  Q5_0  -> q8gsw/32   codes q - 16, scale d
  Q5_1  -> q8gaw/32   codes q, scale d, offset m
  Q8_0  -> q8gsw/32   codes q, scale d
  Q4_K  -> q4gaw/32   per sub-block of 32: scale d * sc, offset -dmin * m (6-bit sc, m)
  Q5_K  -> q8gaw/32   the same with 5-bit codes
  Q6_K  -> q8gsw/16   codes q - 32, per sub-block of 16: scale d * sc (int8 sc)
  Q3_K  -> q4gsw/16   codes q (3-bit, -4..3; stored q + 8), per sub-block of 16: scale d * (sc - 32)
  Q2_K  -> q4gaw/16   codes q (2-bit), per sub-block of 16: scale d * sc, offset -dmin * m (4-bit sc, m)
  IQ4_NL -> q8gsw/32  codes the codebook's int8 values (IQ4_VALUES[q]), scale d
  IQ4_XS -> q8gsw/32  the same, per sub-block of 32: scale d * (sc - 32) (6-bit sc)
  F32, F16, BF16 -> f32
With blocks (pyapp.export --blocks) Q4_K, Q5_K and Q6_K stay the file's blocks, and the types whose
scales (and offsets) are the file's f16s themselves keep them as f16 (formats.HALF_TABLES).
Only the order of the codes inside a block changes: GGUF keeps element j and j + 16 (or + 32)
in one byte, we keep j and j + 1. The I-quants' 4-bit indices become the int8 values they name,
so they take 8 bits a code on the GPU; the 2- and 3-bit K-quants take 4.
"""

from __future__ import annotations

import numpy as np

from .quant import group_major, pack_nibbles
from ..runtime.gguf.reader import GGML_TYPES
from ..runtime.gguf.describe import STORED_AS, SUPPORTED, stored_as
from ..runtime.ops.formats import FIFTH_BITS, HALF_TABLES, affine

# The non-linear 4-bit codebook of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl).
IQ4_VALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.int8)

BLOCK = {name: block for name, block, _ in GGML_TYPES.values() if name in STORED_AS}


class UnsupportedTensor(ValueError):
    """A tensor this module cannot convert; the exporter names it in its error."""


def _blocks(data: np.ndarray, n: int, block_bytes: int) -> np.ndarray:
    return np.ascontiguousarray(data).view(np.uint8).reshape(n, -1, block_bytes)


def _f16(blocks: np.ndarray, at: int) -> np.ndarray:
    return blocks[:, :, at:at + 2].copy().view(np.float16)[..., 0].astype(np.float32)


def _nibbles(qs: np.ndarray, halves: int) -> np.ndarray:
    """Block bytes (N, B, halves * L) -> 4-bit codes (N, B, halves * 2 * L): each run of L bytes
    gives L low nibbles, then L high ones (GGUF's element order)."""
    n, b, size = qs.shape
    q = qs.reshape(n, b, halves, 1, size // halves) >> np.array([0, 4], np.uint8).reshape(1, 1, 1, 2, 1)
    return (q & 0x0F).reshape(n, b, -1)


def _bits(qh: np.ndarray, count: int) -> np.ndarray:
    """High bits (N, B, bytes) -> (N, B, count * bytes): bit i of byte j is element i * bytes + j."""
    n, b, size = qh.shape
    return ((qh.reshape(n, b, 1, size) >> np.arange(count, dtype=np.uint8).reshape(1, 1, count, 1)) & 1).reshape(n, b, -1)


def _q5_high(qh: np.ndarray) -> np.ndarray:
    """Q5_0/Q5_1's 32 high bits (N, B, 4 bytes, one little-endian u32) -> (N, B, 32): bit i is element i."""
    word = qh.copy().view("<u4")  # (N, B, 1)
    return ((word >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint8)


def _k_scales(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_K/Q5_K's 12 packed bytes (N, B, 12) -> 6-bit sub-block scales and mins (N, B, 8) each."""
    from gguf.quants import Q4_K

    n, b, _ = scales.shape
    sc, m = Q4_K.get_scale_min(scales.reshape(n * b, 12))
    return sc.reshape(n, b, 8).astype(np.float32), m.reshape(n, b, 8).astype(np.float32)


def _stored(name, qtype, n, k, codes, scale, offset=None) -> tuple[dict, dict]:
    """Our parts in qtype's stored format (describe.STORED_AS): codes (N, K) as nibbles (q4*) or int8 (q8*);
    scales/offsets (N, G) -> (G, padded N)."""
    fmt, group = STORED_AS[qtype]
    weight = pack_nibbles(codes.reshape(n, k)) if fmt.startswith("q4") else \
        codes.reshape(n, k).astype(np.int8).view(np.uint8)
    parts = {f"{name}.qweight": weight, f"{name}.scales": group_major(scale.reshape(n, -1))}
    if offset is not None:
        parts[f"{name}.offsets"] = group_major(offset.reshape(n, -1))
    return parts, {"format": fmt, "shape": [n, k], "group_size": group}


def _q4_0(name, b, n, k):
    return _stored(name, "Q4_0", n, k, _nibbles(b[:, :, 2:], 1), _f16(b, 0))


def _q4_1(name, b, n, k):
    return _stored(name, "Q4_1", n, k, _nibbles(b[:, :, 4:], 1), _f16(b, 0), _f16(b, 2))


def _q5_0(name, b, n, k):
    q = _nibbles(b[:, :, 6:], 1) | (_q5_high(b[:, :, 2:6]) << 4)
    return _stored(name, "Q5_0", n, k, q.astype(np.int16) - 16, _f16(b, 0))


def _q5_1(name, b, n, k):
    q = _nibbles(b[:, :, 8:], 1) | (_q5_high(b[:, :, 4:8]) << 4)
    return _stored(name, "Q5_1", n, k, q, _f16(b, 0), _f16(b, 2))


def _q8_0(name, b, n, k):
    return _stored(name, "Q8_0", n, k, b[:, :, 2:].view(np.int8), _f16(b, 0))


def _q4_k(name, b, n, k):
    sc, m = _k_scales(b[:, :, 4:16])
    d, dmin = _f16(b, 0)[..., None], _f16(b, 2)[..., None]
    return _stored(name, "Q4_K", n, k, _nibbles(b[:, :, 16:], 4), d * sc, -(dmin * m))


def _q5_k(name, b, n, k):
    sc, m = _k_scales(b[:, :, 4:16])
    d, dmin = _f16(b, 0)[..., None], _f16(b, 2)[..., None]
    q = _nibbles(b[:, :, 48:], 4) | (_bits(b[:, :, 16:48], 8) << 4)
    return _stored(name, "Q5_K", n, k, q, d * sc, -(dmin * m))


def _q6_k(name, b, n, k):
    low = _nibbles(b[:, :, :128], 2)                              # (N, B, 256): 2 runs of 64 bytes
    high = (b[:, :, 128:192].reshape(n, -1, 2, 1, 32) >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 1, 4, 1)) & 3
    q = low | (high.reshape(n, -1, 256) << 4)
    sc = b[:, :, 192:208].view(np.int8).astype(np.float32)        # (N, B, 16) sub-blocks of 16
    d = _f16(b, 208)[..., None]
    return _stored(name, "Q6_K", n, k, q.astype(np.int16) - 32, d * sc)


def _crumbs(qs: np.ndarray) -> np.ndarray:
    """Q2_K/Q3_K's 64 bytes of 2-bit codes (N, B, 64) -> (N, B, 256): in each half of 32 bytes,
    bits 2j..2j+1 of byte l are element j * 32 + l."""
    n, b, _ = qs.shape
    q = qs.reshape(n, b, 2, 1, 32) >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 1, 4, 1)
    return (q & 3).reshape(n, b, 256)


def _q3_scales(packed: np.ndarray) -> np.ndarray:
    """Q3_K's 12 bytes (N, B, 12) -> the 16 6-bit sub-block scales (N, B, 16), ggml's unpacking:
    the low 4 bits of s from byte s % 8 (the high nibble for s >= 8), the top 2 from byte 8 + s % 4."""
    s = np.arange(16)
    low = (packed[:, :, s % 8] >> (4 * (s // 8)).astype(np.uint8)) & 0xF
    high = (packed[:, :, 8 + s % 4] >> (2 * (s // 4)).astype(np.uint8)) & 3
    return (low | (high << 4)).astype(np.float32)


def _q2_k(name, b, n, k):
    sc = b[:, :, :16]
    d, dmin = _f16(b, 80)[..., None], _f16(b, 82)[..., None]
    return _stored(name, "Q2_K", n, k, _crumbs(b[:, :, 16:80]), d * (sc & 0xF), -(dmin * (sc >> 4)))


def _q3_k(name, b, n, k):
    high = _bits(b[:, :, :32], 8)  # bit j of hmask byte l: element j * 32 + l; clear means q - 4
    q = _crumbs(b[:, :, 32:96]) + 4 * high  # 0..7, the value q - 4: stored as q - 4 + 8
    return _stored(name, "Q3_K", n, k, q + 4, _f16(b, 108)[..., None] * (_q3_scales(b[:, :, 96:108]) - 32))


def _iq4_nl(name, b, n, k):
    return _stored(name, "IQ4_NL", n, k, IQ4_VALUES[_nibbles(b[:, :, 2:], 1)], _f16(b, 0))


def _iq4_xs(name, b, n, k):
    ib = np.arange(8)
    high = (b[:, :, 2:4].copy().view("<u2").astype(np.uint32) >> (2 * ib)) & 3      # (N, B, 8)
    low = (b[:, :, 4 + ib // 2] >> (4 * (ib % 2)).astype(np.uint8)) & 0xF
    scale = _f16(b, 0)[..., None] * ((low | (high << 4)).astype(np.float32) - 32)
    return _stored(name, "IQ4_XS", n, k, IQ4_VALUES[_nibbles(b[:, :, 8:], 8)], scale)


CONVERT = {"Q4_0": (_q4_0, 18), "Q4_1": (_q4_1, 20), "Q5_0": (_q5_0, 22), "Q5_1": (_q5_1, 24),
           "Q8_0": (_q8_0, 34), "Q4_K": (_q4_k, 144), "Q5_K": (_q5_k, 176), "Q6_K": (_q6_k, 210),
           "Q2_K": (_q2_k, 84), "Q3_K": (_q3_k, 110), "IQ4_NL": (_iq4_nl, 18), "IQ4_XS": (_iq4_xs, 136)}


def convert(name: str, qtype: str, data: np.ndarray, shape: tuple[int, ...], blocks: bool = False) -> tuple[dict, dict]:
    """One GGUF tensor -> ({stored name: array}, config entry). shape is (N, K) or (K,). blocks:
    keep the file's blocks where describe.stored_as says (their rows as they are)."""
    if qtype in ("F32", "F16"):
        return {name: np.asarray(data, np.float32).reshape(shape)}, {"format": "f32", "shape": list(shape)}
    if qtype == "BF16":  # the top half of an f32
        f32 = (np.ascontiguousarray(data).view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        return {name: f32.reshape(shape)}, {"format": "f32", "shape": list(shape)}
    if qtype not in CONVERT:
        raise UnsupportedTensor(f"tensor {name} has type {qtype}; supported: {', '.join(SUPPORTED)}")
    if len(shape) != 2:
        raise UnsupportedTensor(f"tensor {name}: {qtype} with shape {shape} is not a 2-D weight")
    n, k = shape
    if k % BLOCK[qtype]:
        raise UnsupportedTensor(f"tensor {name}: K={k} is not a multiple of {qtype}'s {BLOCK[qtype]}-element block")
    fn, block_bytes = CONVERT[qtype]
    fmt, group = stored_as(name, qtype, blocks)
    entry = {"format": fmt, "shape": [n, k], "group_size": group}
    if fmt in ("q4k", "q5k"):
        return {f"{name}.qweight": np.ascontiguousarray(data).view(np.uint8).reshape(n, -1)}, entry
    if fmt == "q6k":  # ql, qh and scales as they are; d (the last 2 bytes) as f32 beside them
        b = _blocks(data, n, block_bytes)
        return {f"{name}.qweight": np.ascontiguousarray(b[:, :, :208]).reshape(n, -1), f"{name}.scales": _f16(b, 208)}, entry
    b = _blocks(data, n, block_bytes)
    parts, base = fn(name, b, n, k)
    if fmt in FIFTH_BITS:  # the low nibbles as q4's (Q5_0's q - 16 keeps q's), qh as the file holds it
        high = 2 if qtype == "Q5_0" else 4
        parts[f"{name}.qweight"] = pack_nibbles(parts[f"{name}.qweight"] & 0xF)  # (N, K) bytes of codes
        parts[f"{name}.highs"] = np.ascontiguousarray(b[:, :, high:high + 4]).view("<u4").reshape(n, -1)
    return (_half_tables(parts, name, n, fmt), entry) if fmt in HALF_TABLES else (parts, base)


def _half_tables(parts: dict, name: str, n: int, fmt: str) -> dict:
    """Our f32 (G, padded N) tables -> formats.HALF_TABLES' f16 words: exact, as the f32s are the
    file's f16s. Symmetric: (N, ceil(G / 2)), two groups a word; affine: (N, G), scale and offset."""
    scales = parts[f"{name}.scales"][:, :n].T.astype(np.float16)  # (N, G)
    if affine(fmt):
        halves = np.stack([scales, parts.pop(f"{name}.offsets")[:, :n].T.astype(np.float16)], axis=-1)
    else:
        halves = np.pad(scales, ((0, 0), (0, scales.shape[1] % 2)))
    parts[f"{name}.scales"] = np.ascontiguousarray(halves).view("<u4").reshape(n, -1)
    return parts
