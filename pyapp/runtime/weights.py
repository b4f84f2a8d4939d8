"""Model weights: streamed from fetch() into one ArrayBuffer, then into GPU buffers, once.

Bytes never pass through Python objects: chunks are copied JS-side into a preallocated
Uint8Array, and each tensor goes to queue.writeBuffer as a view of it. Every tensor must fit
the device's maxStorageBufferBindingSize and maxBufferSize; a model that does not is refused
with the tensor's name.
"""

from __future__ import annotations

import js

from . import tensorfile
from .buffers import COPY_DST, COPY_SRC, STORAGE


class ModelTooLarge(RuntimeError):
    pass


async def fetch_bytes(url: str, on_progress=None):
    """GET url into a JS ArrayBuffer, reporting (done, total) bytes as chunks arrive."""
    response = await js.fetch(url)
    if not response.ok:
        raise FileNotFoundError(f"{url}: HTTP {response.status}")
    total = int(response.headers.get("Content-Length") or 0)
    if not total:  # no length: no progress, one piece
        return await response.arrayBuffer()
    data = js.Uint8Array.new(total)
    reader = response.body.getReader()
    done = 0
    while True:
        chunk = await reader.read()
        if chunk.done:
            break
        data.set(chunk.value, done)
        done += int(chunk.value.length)
        if on_progress:
            on_progress(done, total)
    return data.buffer


class Weights:
    """Every tensor of the bundle in its own GPU buffer; graphs bind them as external tensors."""

    def __init__(self, device, file: tensorfile.TensorFile):
        self.device = device
        self.file = file  # dropped after upload: the fetched ArrayBuffer can then be freed
        self.meta = {n: (t.shape, t.dtype) for n, t in file.tensors.items()}
        self.buffers: dict[str, object] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.meta

    def check_limits(self):
        limit = min(self.device.limits["maxStorageBufferBindingSize"], self.device.limits["maxBufferSize"])
        for t in self.file.tensors.values():
            if t.view.byteLength > limit:
                raise ModelTooLarge(
                    f"tensor {t.name} {list(t.shape)} needs {t.view.byteLength / 2**20:.1f} MiB in one buffer; "
                    f"this GPU allows {limit / 2**20:.1f} MiB (maxStorageBufferBindingSize). "
                    "Try a smaller model or another browser/GPU.")

    def upload(self, on_progress=None):
        self.check_limits()
        total = sum(int(t.view.byteLength) for t in self.file.tensors.values())
        done = 0
        for name, t in self.file.tensors.items():
            buf = self.device.buffer(int(t.view.byteLength), STORAGE | COPY_DST | COPY_SRC, name)
            self.device.write(buf, t.view)
            self.buffers[name] = buf
            done += int(t.view.byteLength)
            if on_progress:
                on_progress(done, total)
        self.file = None

    def tensor(self, graph, name: str):
        """The stored tensor `name` as an external tensor of `graph` (bound, never copied)."""
        if name in graph.tensors:
            return graph.tensors[name]
        if name not in self.meta:
            raise KeyError(f"the model has no tensor {name!r}")
        shape, dtype = self.meta[name]
        return graph.external(name, shape, dtype, self.buffers[name])
