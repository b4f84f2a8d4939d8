"""Model weights: from a fetched bundle (one JS ArrayBuffer) into GPU buffers, once.

Bytes never pass through Python objects in the page: each tensor goes to queue.writeBuffer
as a typed-array view of the fetched buffer (pyapp/runtime/fetch.py streams it in). Every
tensor must fit the device's maxStorageBufferBindingSize and maxBufferSize; a model that does
not is refused with the tensor's name.
"""

from __future__ import annotations

from .buffers import COPY_DST, COPY_SRC, STORAGE, nbytes
from .config import ModelConfig


class ModelTooLarge(RuntimeError):
    pass


class Weights:
    """Every tensor of a model in its own GPU buffer; graphs bind them as external tensors."""

    def __init__(self, device, meta: dict[str, tuple[tuple[int, ...], str]], buffers: dict[str, object]):
        self.device = device
        self.meta = meta
        self.buffers = buffers

    @classmethod
    def upload(cls, device, file, on_progress=None) -> "Weights":
        """From a parsed bundle file (pyapp.runtime.tensorfile), one buffer per tensor."""
        limit = min(device.limits["maxStorageBufferBindingSize"], device.limits["maxBufferSize"])
        for t in file.tensors.values():
            if t.view.byteLength > limit:
                raise ModelTooLarge(
                    f"tensor {t.name} {list(t.shape)} needs {t.view.byteLength / 2**20:.1f} MiB in one buffer; "
                    f"this GPU allows {limit / 2**20:.1f} MiB (maxStorageBufferBindingSize). "
                    "Try a smaller model or another browser/GPU.")
        total = sum(int(t.view.byteLength) for t in file.tensors.values())
        done, buffers = 0, {}
        for name, t in file.tensors.items():
            buffers[name] = device.buffer(int(t.view.byteLength), STORAGE | COPY_DST | COPY_SRC, name)
            device.write(buffers[name], t.view)
            done += int(t.view.byteLength)
            if on_progress:
                on_progress(done, total)
        return cls(device, {n: (t.shape, t.dtype) for n, t in file.tensors.items()}, buffers)

    @classmethod
    def filled(cls, device, config: ModelConfig, byte: int = 0x11) -> "Weights":
        """Weights of the right shapes filled with one byte pattern: for speed runs, not answers."""
        meta = config.stored()
        buffers = {}
        for name, (shape, dtype) in meta.items():
            size = nbytes(shape, dtype)
            buffers[name] = device.buffer(size, STORAGE | COPY_DST, name)
            device.write(buffers[name], bytes([byte]) * size)
        return cls(device, meta, buffers)

    def parts(self, graph, name: str) -> tuple[object, dict]:
        """A model weight as stored: (the f32 tensor or the packed codes, {"scales": .., "offsets": ..})."""
        if name in self.meta:  # f32
            return self.tensor(graph, name), {}
        tables = {t: self.tensor(graph, f"{name}.{t}") for t in ("scales", "offsets") if f"{name}.{t}" in self.meta}
        return self.tensor(graph, f"{name}.qweight"), tables

    def tensor(self, graph, name: str):
        """The stored tensor `name` as an external tensor of `graph` (bound, never copied)."""
        if name in graph.tensors:
            return graph.tensors[name]
        if name not in self.meta:
            raise KeyError(f"the model has no tensor {name!r}")
        shape, dtype = self.meta[name]
        return graph.external(name, shape, dtype, self.buffers[name])
