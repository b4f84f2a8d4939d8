"""`python -m pyapp.native repack X.gguf ...`: a GGUF's tensors repacked on this GPU
(pyapp/runtime/gguf/repack.py, what the page runs on a GGUF it opens) against the exporter's
numpy conversion of the same file, byte for byte, and how long each takes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..runtime.gpu.buffers import COPY_DST, MAP_READ
from ..runtime.model.config import ModelConfig
from ..runtime.gguf.describe import describe
from ..runtime.gguf.repack import arena_differences, tensor_records, upload_gguf
from ..runtime.ops.formats import plan_arenas
from ..runtime.model.weights import Weights


async def _finished(device, weights: Weights):
    """Wait for the queue: a 16-byte readback of an arena lands after everything before it."""
    arena = next(iter(weights.buffers))
    readback = device.buffer(16, MAP_READ | COPY_DST, "repack.sync")
    device.submit(device.record([]), copies=[(weights.buffers[arena], 0, readback, 16)], label="repack.sync")
    await device.read_many([(readback, 16)])
    device.destroy([readback])


async def repack_row(device, path: Path, repeat: int = 3, blocks: bool = False) -> dict:
    """One GGUF: equal bytes or the first difference per arena, and the best of `repeat` repacks.
    blocks: Q4_K kept as the file's blocks (a copy), as for the fused path."""
    from ..export import check_gguf, read_gguf

    start = time.perf_counter()
    tensors, raw, _ = read_gguf(path, blocks)
    numpy_s = time.perf_counter() - start
    config = ModelConfig.from_json(raw)
    header, data = check_gguf(path), path.read_bytes()
    records = tensor_records(header, describe(header, lambda at, n: data[at:at + n], blocks)[0])
    want = Weights.allocate(device, config)
    for name, (arena, offset) in plan_arenas(config.stored())[0].items():  # as Weights.upload_file places them
        device.write(want.buffers[arena], np.ascontiguousarray(tensors[name]).view(np.uint8).ravel(), offset)
    best, got = float("inf"), None
    for _ in range(repeat):
        if got is not None:
            device.destroy(got.buffers.values())
        got = Weights.allocate(device, config)
        start = time.perf_counter()
        async with device.error_scope("gguf repack"):
            await upload_gguf(device, got, data, records)
        await _finished(device, got)
        best = min(best, time.perf_counter() - start)
    problems, expected = await arena_differences(device, got, want)
    device.destroy([*got.buffers.values(), *want.buffers.values()])
    return {"file": path.name, "gguf_bytes": len(data), "arena_bytes": sum(map(len, expected.values())),
            "repack_s": best, "numpy_s": numpy_s, "problems": problems}


def print_row(r: dict):
    print(f"{'ok  ' if not r['problems'] else 'FAIL'} {r['file']}: {r['gguf_bytes'] / 1e6:.1f} MB GGUF -> "
          f"{r['arena_bytes'] / 1e6:.1f} MB arenas; GPU repack {r['repack_s'] * 1e3:.0f} ms "
          f"({r['gguf_bytes'] / r['repack_s'] / 1e9:.2f} GB/s); the exporter's numpy {r['numpy_s']:.2f} s")
    for p in r["problems"]:
        print(f"     {p}")
