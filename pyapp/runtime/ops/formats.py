"""The packed weight layouts, in plain Python: the one place their sizes are computed.

A group-quantized (N, K) weight is stored as
  qweight  (N, row_bytes(fmt, K)) u8: q4gsw / q4gaw two nibbles a byte (even k in the low
           nibble), q8gsw / q8gaw one int8 a byte; rows read as little-endian u32 words
  scales   (G, padded_n(N)) f32, group-major, G = groups(K, group_size)
  offsets  (G, padded_n(N)) f32, the affine formats (q4gaw, q8gaw) only
and an "f32" weight is the (N, K) f32 matrix itself. A "q4k" weight is a GGUF Q4_K tensor's own
blocks, copied as the file holds them (the fused kernels only; the ExecuTorch ops do not read it):
  qweight  (N, K / 256 * 144) u8: per block of 256, f16 d and dmin, 12 bytes of 6-bit sub-block
           scales and mins, then 128 bytes of nibbles (w = d * sc * q - dmin * m in each 32)
and a "q5k" weight Q5_K's: the same with 32 bytes of fifth bits before the nibbles (176 bytes)
and a "q6k" weight a Q6_K tensor's blocks without their last two bytes (210 is no multiple of 4):
  qweight  (N, K / 256 * 208) u8: ql (128 bytes of low nibbles), qh (64 of high bit pairs), 16
           int8 sub-block scales (w = d * sc * (q - 32) in each 16)
  scales   (N, K / 256) f32: each block's d, row-major (0.95% more than the file's f16)
A "..._f16" weight (HALF_TABLES) has its base format's codes and the GGUF's own f16 scales (and
offsets) as the file holds them, so that it takes the file's bytes (fused kernels only):
  scales   (N, ceil(G / 2)) u32, row-major: groups 2j (low half) and 2j + 1 of row n, f16
           (q4gsw_f16, q8gsw_f16), or (N, G) u32: group g's f16 scale (low) and offset (high)
           (q4gaw_f16, q8gaw_f16)
and "q5gsw_f16" / "q5gaw_f16" (FIFTH_BITS: GGUF Q5_0 / Q5_1) the low nibbles of their 5-bit codes
as q4gsw's / q4gaw's, the scales as above, and
  highs    (N, G) u32: group g's fifth bits, bit e for its element e (the file's qh word)
  (w = (q - 16) * d, or q * d + m)
Used by the ops, the weights loader,
the benchmarks, the exporter and the host quantizers (pyapp/convert/quant.py).
"""

from __future__ import annotations

QUANTIZED = ("q4gsw", "q4gaw", "q8gsw", "q8gaw")
GGUF_BLOCKS = {"q4k": (256, 144), "q5k": (256, 176), "q6k": (256, 208)}  # the GGUF's own blocks: format -> (elements, bytes kept) a block
HALF_TABLES = {f"{f}_f16": f for f in QUANTIZED}  # our codes, the file's f16 tables: format -> its codes' format
FIFTH_BITS = {"q5gsw_f16": "q4gsw", "q5gaw_f16": "q4gaw"}  # ... and 5-bit codes: their low nibbles' format
HALF_TABLES.update(FIFTH_BITS)
FUSED_ONLY = (*GGUF_BLOCKS, *HALF_TABLES)  # formats only the fused kernels (and the embedding op) read
FORMATS = ("f32", *QUANTIZED, *GGUF_BLOCKS, *HALF_TABLES)


def codes_format(fmt: str) -> str:
    """The format whose codes `fmt` stores: itself, or a half-table format's base."""
    return HALF_TABLES.get(fmt, fmt)


def affine(fmt: str) -> bool:
    return codes_format(fmt) in ("q4gaw", "q8gaw")


def padded_n(n: int) -> int:
    """N rounded up to a multiple of 8: the row length of the group tables."""
    return -(-n // 8) * 8


def groups(k: int, group_size: int) -> int:
    return -(-k // group_size)


def row_bytes(fmt: str, k: int) -> int:
    """Bytes per stored weight row."""
    fmt = codes_format(fmt)
    if fmt in ("q8gsw", "q8gaw"):
        return k
    if fmt in ("q4gsw", "q4gaw"):
        return -(-k // 2)
    if fmt == "f32":
        return 4 * k
    if fmt in GGUF_BLOCKS:
        elements, size = GGUF_BLOCKS[fmt]
        return k // elements * size
    raise ValueError(f"unknown weight format {fmt!r}; expected one of {FORMATS}")


def word_k(fmt: str) -> int:
    """Values per u32 word of a quantized row: 8 nibbles or 4 int8."""
    return 4 if codes_format(fmt) in ("q8gsw", "q8gaw") else 8


def tables(fmt: str) -> tuple[str, ...]:
    """The group tables a format stores beside its codes."""
    if fmt in ("q4gaw", "q8gaw"):
        return ("scales", "offsets")
    if fmt in FIFTH_BITS:
        return ("scales", "highs")
    return ("scales",) if fmt in QUANTIZED or fmt in HALF_TABLES or fmt == "q6k" else ()  # q4k's blocks carry their own


def half_table_words(fmt: str, k: int, group_size: int) -> int:
    """u32 words a row of a half-table format's scales takes: a group's f16 scale and offset,
    or two groups' scales."""
    g = groups(k, group_size)
    return g if affine(fmt) else -(-g // 2)


def stored(name: str, fmt: str, shape: tuple[int, ...], group_size: int = 32) -> dict[str, tuple[tuple[int, ...], str]]:
    """{stored tensor name: (shape, dtype)} of weight `name`: the codes and tables, or the f32 tensor."""
    if fmt == "f32":
        return {name: (tuple(shape), "f32")}
    n, k = shape
    out = {f"{name}.qweight": ((n, row_bytes(fmt, k)), "u8")}
    if fmt in GGUF_BLOCKS:
        return {**out, **{f"{name}.{t}": ((n, k // GGUF_BLOCKS[fmt][0]), "f32") for t in tables(fmt)}}
    if fmt in HALF_TABLES:
        out[f"{name}.scales"] = ((n, half_table_words(fmt, k, group_size)), "u32")
        if fmt in FIFTH_BITS:
            out[f"{name}.highs"] = ((n, groups(k, group_size)), "u32")
        return out
    for t in tables(fmt):
        out[f"{name}.{t}"] = ((groups(k, group_size), padded_n(n)), "f32")
    return out


# --- arenas: a group of stored tensors in one buffer ---

ARENA_ALIGN = 256  # the largest minStorageBufferOffsetAlignment WebGPU allows: any part can be bound alone


def arena_group(stored_name: str) -> str:
    """Which arena a stored tensor lives in: its layer's ("blk.3"), or the model's ("model")."""
    parts = stored_name.split(".")
    return f"blk.{parts[1]}" if parts[0] == "blk" else "model"


def plan_arenas(stored: dict[str, tuple[tuple[int, ...], str]]) -> tuple[dict[str, tuple[str, int]], dict[str, int]]:
    """({stored name: (arena, byte offset)}, {arena: size in bytes}), parts aligned to ARENA_ALIGN."""
    from ..gpu.buffers import nbytes

    where, sizes = {}, {}
    for name, (shape, dtype) in stored.items():
        group = arena_group(name)
        at = sizes.get(group, 0)
        where[name] = (group, at)
        sizes[group] = -(-(at + nbytes(shape, dtype)) // ARENA_ALIGN) * ARENA_ALIGN
    return where, sizes
