"""Model weights in GPU buffers, uploaded once: an arena buffer per layer and one for the rest.

Every stored tensor of a layer (runtime/ops/formats.py names them) sits in its layer's arena at a
256-byte-aligned offset, so a fused kernel binds one buffer for all of a layer's weights and
finds each part by a constant offset; an op that wants a single tensor binds its slice. Bytes
never pass through Python objects in the page: each tensor goes to queue.writeBuffer as a
typed-array view of the fetched file. An arena must fit the device's maxStorageBufferBindingSize
and maxBufferSize; a model that does not is refused, naming the arena.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..gpu.buffers import COPY_DST, COPY_SRC, STORAGE
from .config import ModelConfig, lacks
from ..ops.formats import GGUF_BLOCKS, plan_arenas, tables

FORMAT_CODES = {"f32": 0, "q8gsw": 1, "q4gsw": 2, "q4gaw": 3, "q8gaw": 4, "q4k": 5, "q6k": 6,  # FMT_* in wgsl/common/blocks.wgsl
                "q8gsw_f16": 7, "q4gsw_f16": 8, "q4gaw_f16": 9, "q8gaw_f16": 10, "q5k": 11,
                "q5gsw_f16": 12, "q5gaw_f16": 13}


class ModelTooLarge(RuntimeError):
    pass


@dataclass(frozen=True)
class Placed:
    """A weight matrix inside its arena: the fused kernels' view of it (word offsets)."""

    arena: str
    fmt: str
    n: int
    k: int
    group_size: int
    codes: int       # word offset of the codes (or of the f32 rows)
    scales: int = 0  # word offset of the (G, padded N) scales
    offsets: int = 0  # ... of the offsets (q5gsw_f16 / q5gaw_f16: of their fifth bits, formats.FIFTH_BITS)
    pn: int = 8      # padded N (half tables, formats.HALF_TABLES: words a row of them)

    def constants(self, prefix: str) -> dict:
        return {f"{prefix}_FMT": FORMAT_CODES[self.fmt], f"{prefix}_CODES": self.codes,
                f"{prefix}_SCALES": self.scales, f"{prefix}_OFFSETS": self.offsets, f"{prefix}_PN": self.pn,
                f"{prefix}_GS": self.group_size}


class Weights:
    """A model's weights in arena buffers; graphs bind them as external tensors, never copies."""

    def __init__(self, device, config: ModelConfig, buffers: dict[str, object]):
        self.device, self.config = device, config
        self.meta = config.stored()                     # stored name -> (shape, dtype)
        self.where, self.sizes = plan_arenas(self.meta)  # stored name -> (arena, byte offset)
        self.buffers = buffers                          # arena -> GPU buffer

    @classmethod
    def allocate(cls, device, config: ModelConfig) -> "Weights":
        where, sizes = plan_arenas(config.stored())
        limit = min(device.limits["maxStorageBufferBindingSize"], device.limits["maxBufferSize"])
        for arena, size in sizes.items():
            if size > limit:
                raise ModelTooLarge(
                    f"the weights of {arena!r} need {size / 2**20:.1f} MiB in one buffer; this GPU allows "
                    f"{limit / 2**20:.1f} MiB (maxStorageBufferBindingSize). Try a smaller model or another browser/GPU.")
        return cls(device, config, {a: device.buffer(n, STORAGE | COPY_DST | COPY_SRC, f"weights:{a}")
                                    for a, n in sizes.items()})

    def upload_file(self, file, on_progress=None):
        """From a parsed bundle file (pyapp.runtime.page.bundle): every tensor into its arena slot."""
        missing = sorted(set(self.meta) - set(file.tensors))
        if missing:
            raise ValueError(lacks("the bundle", missing))
        total = sum(int(file.tensors[n].view.byteLength) for n in self.meta)
        done = 0
        for name in self.meta:
            t = file.tensors[name]
            arena, offset = self.where[name]
            self.device.write(self.buffers[arena], t.view, offset)
            done += int(t.view.byteLength)
            if on_progress:
                on_progress(done, total)

    @classmethod
    def filled(cls, device, config: ModelConfig, seed: int = 1) -> "Weights":
        """Weights of the right shapes filled with seeded random bytes for speed runs, not answers.
        Varied, so logits differ as a real model's do (the sampler's time depends on how many
        tie); each byte in 0x30..0x3F, so read as f32 or f16 every scale and value is finite."""
        weights = cls.allocate(device, config)
        size = min(max(weights.sizes.values()), 1 << 24)  # written in pieces of 16 MiB at most
        piece = random.Random(seed).randbytes(size).translate(bytes(0x30 | (b & 0x0F) for b in range(256)))
        for arena, size in weights.sizes.items():
            for at in range(0, size, len(piece)):
                device.write(weights.buffers[arena], memoryview(piece)[:min(len(piece), size - at)], at)
        return weights

    def tensor(self, graph, name: str):
        """The stored tensor `name` as an external tensor of `graph`: a slice of its arena."""
        if name in graph.tensors:
            return graph.tensors[name]
        if name not in self.meta:
            raise KeyError(f"the model has no tensor {name!r}")
        shape, dtype = self.meta[name]
        arena, offset = self.where[name]
        return graph.external(name, shape, dtype, self.buffers[arena], offset=offset)

    def arena(self, graph, name: str):
        """A whole arena as an external u32 tensor of `graph` (the fused kernels' `w`)."""
        key = f"arena:{name}"
        if key not in graph.tensors:
            graph.external(key, (self.sizes[name] // 4,), "u32", self.buffers[name])
        return graph.tensors[key]

    def parts(self, graph, name: str) -> tuple[object, dict]:
        """A model weight as stored: (the f32 tensor or the packed codes, {"scales": .., "offsets": ..})."""
        fmt = self.config.tensors[name].format
        if fmt == "f32":
            return self.tensor(graph, name), {}
        return self.tensor(graph, f"{name}.qweight"), {t: self.tensor(graph, f"{name}.{t}") for t in tables(fmt)}

    def placed(self, name: str) -> Placed:
        """Where weight `name`'s parts sit in its arena, in words."""
        entry = self.config.tensors[name]
        if entry.format == "f32":
            arena, at = self.where[name]
            n, k = entry.shape if len(entry.shape) == 2 else (1, entry.shape[0])
            return Placed(arena, "f32", n, k, entry.group_size, at // 4)
        arena, codes = self.where[f"{name}.qweight"]
        words = {t: self.where[f"{name}.{t}"][1] // 4 for t in tables(entry.format)}
        n, k = entry.shape
        if entry.format in GGUF_BLOCKS:  # the GGUF's own blocks: q6k's d a block beside them
            return Placed(arena, entry.format, n, k, entry.group_size, codes // 4, words.get("scales", 0))
        return Placed(arena, entry.format, n, k, entry.group_size, codes // 4, words["scales"],
                      words.get("offsets", words.get("highs", 0)), self.meta[f"{name}.scales"][0][1])

