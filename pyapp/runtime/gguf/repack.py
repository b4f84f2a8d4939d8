"""GGUF tensors -> the model's weight arenas, repacked on the GPU (wgsl/gguf_repack.wgsl).

The page reads a GGUF file itself: each tensor's raw blocks go from the file's ArrayBuffer to a
staging buffer (queue.writeBuffer of a typed-array view: no Python copy), and one dispatch per
chunk of whole rows writes the tensor's stored parts where `Weights` placed them: bit for bit
what the host exporter writes (pyapp/convert/gguf_types.py; Qwen's Q/K rows in describe.pair_order). Nothing is read
back; the caller wraps the upload in `device.error_scope` (model/make.py does).
Imports on plain CPython: a Python bytes-like stands in for the ArrayBuffer on a native device.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from math import ceil

from ..gpu.buffers import COPY_DST, MAP_READ, STORAGE, UNIFORM, align, nbytes
from .reader import GGML_TYPES
from .describe import FACTORS, permuted_head, stored_as
from ..ops.formats import FUSED_ONLY, GGUF_BLOCKS, HALF_TABLES, word_k
from ..graph.nodes import fold_grid
from ..gpu.pipelines import PipelineCache
from ..gpu.shaders import load
from ..model.config import lacks
from ..model.weights import Weights

__all__ = ["TensorRecord", "GGUFUploadError", "STAGING_BYTES", "upload_gguf", "arena_differences"]

STAGING_BYTES = 16 << 20  # one staging buffer; a tensor larger than this goes in chunks of rows
WG = 64
KINDS = ("write", "read", "uniform")  # arena, staging, params


@dataclass(frozen=True)
class TensorRecord:
    """One tensor of the file, as its header describes it."""

    name: str
    type: str                # ggml type name: "Q4_K", "F16" ...
    shape: tuple[int, ...]   # outermost first: (N, K) or (K,), as the exporter's shapes
    offset: int              # absolute byte offset of its data in the file
    size: int                # bytes of data
    head: int = 0            # head size D of the halves -> pairs row permutation (Qwen Q/K), 0: none


def tensor_records(header, config: dict) -> list[TensorRecord]:
    """The records of a parsed GGUF's weights (reader.parse; config from describe.describe)."""
    return [TensorRecord(t.name, t.type, t.shape, t.offset, t.nbytes, permuted_head(config, t.name))
            for t in header.tensors if t.name in config["tensors"]]


# GGUF type -> TYPE in the shader; formats from describe.stored_as, block sizes from reader
SHADER_TYPES = {"F32": 0, "F16": 1, "BF16": 2, "Q4_0": 3, "Q4_1": 4, "Q5_0": 5, "Q5_1": 6, "Q8_0": 7,
                "Q4_K": 8, "Q5_K": 9, "Q6_K": 10, "Q2_K": 11, "Q3_K": 12, "IQ4_NL": 13, "IQ4_XS": 14}
BLOCKS = {name: (elements, size) for name, elements, size in GGML_TYPES.values()}


class GGUFUploadError(ValueError):
    """A tensor the GPU repack cannot place: names the tensor and what is wrong."""


@dataclass(frozen=True)
class _Job:
    """A tensor ready to go: its rows as the shader sees them and where its parts sit."""

    tensor: TensorRecord
    arena: str
    rows: int        # N, or the elements of a vector
    k: int           # elements per row; 1 for a vector
    row_bytes: int   # in the file
    row_words: int   # stored words per row: codes (8 nibbles or 4 int8 a word) or f32
    words: tuple     # (codes, scales, offsets, padded N): word offsets in the arena
    blocks: bool = False  # the file's bytes kept (describe.AS_BLOCKS): blocks copied word by word, or f16 tables


@dataclass
class _Dispatch:  # what Device.record takes
    pipeline: object
    bind_group: object
    grid: tuple


def _job(weights: Weights, t: TensorRecord) -> _Job:
    if t.type not in SHADER_TYPES:
        raise GGUFUploadError(f"tensor {t.name} has type {t.type}; the GPU repack handles {', '.join(SHADER_TYPES)}")
    entry = weights.config.tensors.get(t.name)
    if entry is None:
        raise GGUFUploadError(f"tensor {t.name} is not among the model's tensors")
    (fmt, group), (block, block_bytes) = stored_as(t.name, t.type, entry.format in FUSED_ONLY), BLOCKS[t.type]
    shape = tuple(int(s) for s in t.shape)
    if (fmt, shape, group) != (entry.format, entry.shape, entry.group_size if group else 0):
        raise GGUFUploadError(f"tensor {t.name}: the file's {t.type} {list(shape)} is stored as {fmt} (group {group}); "
                              f"the config says {entry.format} {list(entry.shape)} (group {entry.group_size})")
    if len(shape) not in (1, 2) or len(shape) == 1 and block > 1 or shape[-1] % block:
        raise GGUFUploadError(f"tensor {t.name}: {t.type} {list(shape)} is not (N, K) with K a multiple of {block}"
                              f"{'' if block > 1 else ', nor (K,)'}")
    rows, k = shape if len(shape) == 2 else (shape[0], 1)  # a vector's elements are rows: the permutation moves them
    row_bytes = k // block * block_bytes
    if t.size != rows * row_bytes:
        raise GGUFUploadError(f"tensor {t.name}: {t.size} bytes, but {t.type} {list(shape)} takes {rows * row_bytes}")
    if t.head and (t.head % 2 or rows % t.head):
        raise GGUFUploadError(f"tensor {t.name}: head size {t.head} is odd or does not divide its {rows} rows")
    p = weights.placed(t.name)
    if fmt == "f32":
        return _Job(t, p.arena, rows, k, row_bytes, k, (p.codes, 0, 0, 0))
    if fmt in GGUF_BLOCKS:
        return _Job(t, p.arena, rows, k, row_bytes, k // block * GGUF_BLOCKS[fmt][1] // 4, (p.codes, p.scales, 0, 0),
                    blocks=True)
    return _Job(t, p.arena, rows, k, row_bytes, k // word_k(fmt), (p.codes, p.scales, p.offsets, p.pn),
                blocks=fmt in HALF_TABLES)


def plan(weights: Weights, tensors, file_size: int, staging_bytes: int = STAGING_BYTES) -> list[_Job]:
    """Every tensor checked against the config and the file before any GPU work; records may be
    TensorRecord or tuples of its fields. Raises GGUFUploadError naming the tensor."""
    jobs = []
    for record in tensors:
        t = record if isinstance(record, TensorRecord) else TensorRecord(*record)
        if t.name in FACTORS:  # RoPE's factors: they went into the config
            continue
        job = _job(weights, t)
        if not 0 <= t.offset <= file_size - t.size:
            raise GGUFUploadError(f"tensor {t.name}: bytes {t.offset}..{t.offset + t.size} lie outside the "
                                  f"file of {file_size} bytes")
        if job.row_bytes > staging_bytes:
            raise GGUFUploadError(f"tensor {t.name}: a row of {job.row_bytes} bytes does not fit the staging "
                                  f"buffer of {staging_bytes} bytes")
        jobs.append(job)
    missing = sorted(set(weights.config.tensors) - {j.tensor.name for j in jobs})
    if missing:
        raise GGUFUploadError(lacks("the file", missing))
    return jobs


def _size(source) -> int:
    """Bytes in the file: a reader's (blob.BlobFile), a JS ArrayBuffer's, a Python bytes-like's."""
    if hasattr(source, "view"):
        return source.size
    return int(source.byteLength) if hasattr(source, "byteLength") else memoryview(source).nbytes


async def _view(source, offset: int, size: int):
    """`size` bytes of the file from `offset`, never copied through Python in the page."""
    if hasattr(source, "view"):
        return await source.view(offset, size)
    if hasattr(source, "byteLength"):
        import js
        return js.Uint8Array.new(source, offset, size)
    return memoryview(source).cast("B")[offset:offset + size]


async def upload_gguf(device, weights: Weights, source, tensors, on_progress=None, *,
                      staging_bytes: int = STAGING_BYTES) -> Weights:
    """Fill every stored part of every tensor of weights.config from the GGUF file `source`: a
    reader with `size` and `async view(offset, n)` (blob.BlobFile), a JS ArrayBuffer or, on
    the native host, bytes. tensors: TensorRecord records (or tuples of its fields) for the file's
    tensors; rope_freqs.weight is skipped. Tensors go in file order. on_progress(done, total bytes)."""
    jobs = sorted(plan(weights, tensors, _size(source), staging_bytes), key=lambda j: j.tensor.offset)
    cache = PipelineCache.of(device)
    kinds = sorted({(j.tensor.type, j.blocks) for j in jobs}, key=lambda tb: (SHADER_TYPES[tb[0]], tb[1]))
    shader = load("gguf_repack")
    built = await cache.build([(f"gguf_repack:{name}{'.blocks' * blocks}", shader,
                                {"TYPE": SHADER_TYPES[name], "BLOCKS": blocks, "WG": WG}, KINDS)
                               for name, blocks in kinds])  # one pipeline per type (and blocks), created together
    pipelines = dict(zip(kinds, built))
    staging_size = align(min(staging_bytes, max((j.tensor.size for j in jobs), default=4)))
    staging = device.buffer(staging_size, STORAGE | COPY_DST, "gguf_repack.staging")
    params = device.buffer(32, UNIFORM | COPY_DST, "gguf_repack.params")  # (8,) u32: Params in the shader
    bgl, _ = cache.layout(KINDS)
    groups = {a: device.bind_group(bgl, [b, staging, params], f"gguf_repack#{a}") for a, b in weights.buffers.items()}
    pass_desc = device.pass_descriptor("gguf_repack")
    max_per_dim = device.limits["maxComputeWorkgroupsPerDimension"]
    total, done = sum(j.tensor.size for j in jobs), 0
    for job in jobs:
        t, per_chunk = job.tensor, staging_size // job.row_bytes
        codes, scales, offsets, padded = job.words
        for first in range(0, job.rows, per_chunk):
            rows = min(per_chunk, job.rows - first)
            device.write(params, struct.pack("<8I", job.k, rows, first, codes, scales, offsets, padded, t.head))
            device.write(staging, await _view(source, t.offset + first * job.row_bytes, rows * job.row_bytes))
            grid = fold_grid(ceil(rows * job.row_words / WG), max_per_dim)
            dispatch = _Dispatch(pipelines[t.type, job.blocks], groups[job.arena], grid)
            device.submit(device.record([(pass_desc, [dispatch])]), label=f"gguf_repack#{t.name}")
            done += rows * job.row_bytes
            if on_progress:
                on_progress(done, total)
    return weights


# --- checking: one model's arenas against another's (tests, `python -m pyapp.native repack`) ---

STEP = 4096  # bytes compared at a time when looking for the first difference


async def read_arenas(device, weights: Weights) -> dict[str, bytes]:
    """{arena: its bytes}, copied into readback buffers in one submit."""
    names = list(weights.buffers)
    readback = [device.buffer(weights.sizes[a], MAP_READ | COPY_DST, f"readback:{a}") for a in names]
    copies = [(weights.buffers[a], 0, rb, weights.sizes[a]) for a, rb in zip(names, readback)]
    device.submit(device.record([]), copies=copies, label="readback arenas")
    data = await device.read_many([(rb, weights.sizes[a]) for a, rb in zip(names, readback)])
    device.destroy(readback)
    return dict(zip(names, data))


def first_difference(weights: Weights, arena: str, got: bytes, want: bytes) -> str | None:
    """None, or the first differing byte named by its stored tensor."""
    if got == want:
        return None
    at = next(i for i in range(0, len(want), STEP) if got[i:i + STEP] != want[i:i + STEP])
    at = next(i for i in range(at, at + STEP) if got[i] != want[i])
    name, start = max(((n, o) for n, (a, o) in weights.where.items() if a == arena and o <= at), key=lambda p: p[1])
    inside = at - start < nbytes(*weights.meta[name])
    return (f"{arena}: byte {at} ({name} byte {at - start}{'' if inside else ', padding after it'}): "
            f"got {got[at]:#04x}, want {want[at]:#04x}")


async def arena_differences(device, got: Weights, want: Weights) -> tuple[list[str], dict[str, bytes]]:
    """The first difference of each arena of `got` from `want`'s (none: equal), and want's bytes."""
    expected, have = await read_arenas(device, want), await read_arenas(device, got)
    return [p for a in expected if (p := first_difference(got, a, have[a], expected[a]))], expected
