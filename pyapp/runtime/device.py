"""The browser's WebGPU (navigator.gpu) behind a small interface: the only GPU layer.

The graph, the profiler and the ops call these methods and nothing else, so a second host
(the same graph on native WebGPU through the `wgpu` package) only has to implement them.
Every create call counts itself in `created`, which the tests use to prove that a decode
step creates nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import asynccontextmanager

import js
from pyodide.ffi import JsException

from .buffers import MAP_MODE_READ, align
from .device_spec import BINDING_TYPES, RAISED_LIMITS, REPORTED_LIMITS, WANTED_FEATURES, GPUError, WebGPUUnavailable
from .jsffi import is_nullish, js_bytes, js_object, py_bytes

__all__ = ["Device", "GPUError", "WebGPUUnavailable"]

def _message(err) -> str:
    return str(getattr(err, "message", None) or err)


class Device:
    def __init__(self, adapter, raw, info: dict):
        self.adapter = adapter
        self.raw = raw
        self.info = info
        self.features = frozenset(raw.features.values())
        self.limits = {name: int(getattr(raw.limits, name)) for name in REPORTED_LIMITS}
        self.created = Counter()
        self.lost_reason: str | None = None
        cpu = "swiftshader" in " ".join(info.values()).lower()
        self.kernel_style = "lanes" if cpu else "workgroups"  # see Graph.kernel_style
        raw.lost.then(self._on_lost)

    @classmethod
    async def open(cls, *, exclude_features=()) -> "Device":
        gpu = getattr(js.navigator, "gpu", None)
        if is_nullish(gpu):
            raise WebGPUUnavailable(
                "This browser does not offer WebGPU (navigator.gpu is missing). Use a current "
                "Chrome or Edge, Firefox 141+, or Safari 26+, and open the page on localhost or HTTPS.")
        adapter = await gpu.requestAdapter(js_object({"powerPreference": "high-performance"}))
        if is_nullish(adapter):
            raise WebGPUUnavailable("WebGPU is present but no GPU adapter is available "
                                    "(blocklisted driver or GPU disabled).")
        have = set(adapter.features.values())
        features = [f for f in WANTED_FEATURES if f in have and f not in exclude_features]
        limits = {name: getattr(adapter.limits, name) for name in RAISED_LIMITS}
        raw = await adapter.requestDevice(js_object({
            "label": "pyapp", "requiredFeatures": features, "requiredLimits": limits}))
        ai = adapter.info
        info = {k: str(getattr(ai, k, "") or "") for k in ("vendor", "architecture", "device", "description")}
        return cls(adapter, raw, info)

    def _on_lost(self, info):
        self.lost_reason = f"{info.reason}: {info.message}"

    # --- objects (built in prepare, never in a step) ---

    def buffer(self, size: int, usage: int, label: str):
        self.created["buffer"] += 1
        try:
            # 16-byte sizes: shaders may bind f32 data as array<vec4<f32>> and must see every element
            return self.raw.createBuffer(js_object({"size": align(max(size, 16), 16), "usage": usage, "label": label}))
        except JsException as e:
            raise GPUError(f"buffer {label} ({size} bytes): {_message(e)}") from None

    def shader_module(self, code: str, label: str):
        self.created["shader_module"] += 1
        return self.raw.createShaderModule(js_object({"code": code, "label": label}))

    async def compute_pipeline(self, module, layout, constants: dict, label: str):
        self.created["pipeline"] += 1
        desc = {"label": label, "layout": layout,
                "compute": {"module": module, "entryPoint": "main", "constants": constants}}
        try:
            return await self.raw.createComputePipelineAsync(js_object(desc))
        except JsException as e:
            detail = await self._compilation_messages(module)
            raise GPUError(f"pipeline {label}: {_message(e)}{detail}") from None

    async def _compilation_messages(self, module) -> str:
        info = await module.getCompilationInfo()
        lines = [f"\n  line {m.lineNum}: {m.type}: {m.message}" for m in info.messages]
        return "".join(lines)

    def bind_group_layout(self, kinds: tuple[str, ...], label: str):
        self.created["bind_group_layout"] += 1
        entries = [{"binding": i, "visibility": 4,  # GPUShaderStage.COMPUTE
                    "buffer": {"type": BINDING_TYPES[k]}} for i, k in enumerate(kinds)]
        bgl = self.raw.createBindGroupLayout(js_object({"label": label, "entries": entries}))
        layout = self.raw.createPipelineLayout(js_object({"label": label, "bindGroupLayouts": [bgl]}))
        return bgl, layout

    def bind_group(self, bgl, resources: list, label: str):
        """resources: a buffer (whole) or (buffer, offset, size) per binding, in order."""
        self.created["bind_group"] += 1
        entries = [{"binding": i, "resource": {"buffer": r[0], "offset": r[1], "size": r[2]} if isinstance(r, tuple)
                    else {"buffer": r}} for i, r in enumerate(resources)]
        return self.raw.createBindGroup(js_object({"label": label, "layout": bgl, "entries": entries}))

    def query_set(self, count: int, label: str):
        self.created["query_set"] += 1
        return self.raw.createQuerySet(js_object({"type": "timestamp", "count": count, "label": label}))

    def pass_descriptor(self, label: str, query_set=None, index: int = 0):
        """A compute-pass descriptor, built once; with a query set it times the pass."""
        desc = {"label": label}
        if query_set is not None:
            desc["timestampWrites"] = {"querySet": query_set, "beginningOfPassWriteIndex": 2 * index,
                                       "endOfPassWriteIndex": 2 * index + 1}
        return js_object(desc)

    # --- steps ---

    def write(self, buffer, data, offset: int = 0):
        """queue.writeBuffer from a JS typed array (no copy through Python) or small Python bytes.

        WebGPU writes whole 4-byte words: a ragged tail (odd-K weight rows) goes as one padded word.
        """
        data = js_bytes(data)
        if not hasattr(data, "BYTES_PER_ELEMENT"):  # an ArrayBuffer: view it as bytes
            data = js.Uint8Array.new(data)
        elif data.BYTES_PER_ELEMENT != 1:
            data = js.Uint8Array.new(data.buffer, data.byteOffset, data.byteLength)
        size = int(data.byteLength)
        head = size - size % 4
        if head:
            self.raw.queue.writeBuffer(buffer, offset, data.subarray(0, head))
        if head != size:
            tail = js.Uint8Array.new(4)
            tail.set(data.subarray(head))
            self.raw.queue.writeBuffer(buffer, offset + head, tail)

    def submit(self, passes, copies=(), resolve=None, label: str = "step"):
        """Encode `passes` [(descriptor, [dispatch, ...])] + buffer copies + a query resolve; one submit.

        A dispatch is anything with `.pipeline`, `.bind_group` and `.grid` (x, y, z).
        """
        enc = self.raw.createCommandEncoder(js_object({"label": label}))
        for desc, dispatches in passes:
            cpass = enc.beginComputePass(desc)
            # Each attribute lookup on a JS object is an FFI round trip: take the methods once.
            set_pipeline, set_bind_group, dispatch = cpass.setPipeline, cpass.setBindGroup, cpass.dispatchWorkgroups
            current = None
            for d in dispatches:
                if d.pipeline is not current:  # consecutive nodes often share one (k/v, rope q/k)
                    set_pipeline(d.pipeline)
                    current = d.pipeline
                set_bind_group(0, d.bind_group)
                dispatch(*d.grid)
            cpass.end()
        for src, dst, size in copies:
            enc.copyBufferToBuffer(src, 0, dst, 0, align(size))
        if resolve is not None:
            query_set, count, resolve_buf, read_buf = resolve
            enc.resolveQuerySet(query_set, 0, count, resolve_buf, 0)
            enc.copyBufferToBuffer(resolve_buf, 0, read_buf, 0, count * 8)
        self.raw.queue.submit(js_object([enc.finish()]))

    async def read(self, buffer, size: int) -> bytes:
        """Map a MAP_READ buffer and copy `size` bytes out."""
        await buffer.mapAsync(MAP_MODE_READ, 0, align(size))
        try:
            return py_bytes(buffer.getMappedRange(0, align(size)))[:size]
        finally:
            buffer.unmap()

    async def read_many(self, items) -> list[bytes]:
        return await asyncio.gather(*(self.read(b, n) for b, n in items))

    @asynccontextmanager
    async def error_scope(self, phase: str):
        """Raise GPUError if any validation or out-of-memory error happens inside the block."""
        self.raw.pushErrorScope("validation")
        self.raw.pushErrorScope("out-of-memory")
        try:
            yield
        finally:
            oom = await self.raw.popErrorScope()
            invalid = await self.raw.popErrorScope()
        if self.lost_reason:
            raise GPUError(f"{phase}: the GPU device was lost ({self.lost_reason})")
        for err in (oom, invalid):
            if not is_nullish(err):
                raise GPUError(f"{phase}: {_message(err)}")
