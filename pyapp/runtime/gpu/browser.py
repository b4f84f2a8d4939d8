"""The browser's WebGPU (navigator.gpu) as a `Device` backend: the raw JS calls and the step.

Descriptors come as Python dicts and are converted once by `jsffi`. A step is encoded by a few
lines of JS (encode.js) from arrays recorded once: each call from Python into JS is an FFI
round trip, and a decode step has hundreds of dispatches. The device's uncaptured errors (a
step's, which no scope awaits) are kept in `uncaptured` for the next `check()`.
"""

from __future__ import annotations

from array import array
from functools import cache
from pathlib import Path

import js
from pyodide.code import run_js
from pyodide.ffi import JsException, create_once_callable, create_proxy

from .buffers import MAP_MODE_READ
from .device import INFO_KEYS, Device, GPUError, WebGPUUnavailable, device_request, has_half_matrices
from .jsffi import is_nullish, js_bytes, js_object, js_typed, py_bytes

__all__ = ["BrowserDevice"]


def _message(err) -> str:
    return str(getattr(err, "message", None) or err)


def _matrix_configs(info) -> list[dict]:
    """The adapter's subgroup-matrix configs (GPUAdapterInfo.subgroupMatrixConfigs) as dicts."""
    configs = getattr(info, "subgroupMatrixConfigs", None)
    if is_nullish(configs):
        return []
    keys = ("componentType", "resultComponentType", "M", "N", "K")
    return [{k: getattr(c, k, None) for k in keys} for c in configs]


def _subgroup_sizes(info) -> tuple[int, int]:
    return int(getattr(info, "subgroupMinSize", 0) or 0), int(getattr(info, "subgroupMaxSize", 0) or 0)


@cache
def _encoder():
    """encode.js's function: (device, label, recording, steps, {copies, resolve}) -> None."""
    return run_js((Path(__file__).parent / "encode.js").read_text())


class BrowserDevice(Device):
    _raw_errors = (JsException,)

    def __init__(self, adapter, raw, info: dict):
        features = set(raw.features.values())
        super().__init__(raw, info, features, lambda name: getattr(raw.limits, name),
                         half_matrices=has_half_matrices(features, _matrix_configs(adapter.info), _subgroup_sizes(adapter.info)))
        self.adapter = adapter
        raw.lost.then(create_once_callable(self._on_lost))
        self._on_error = create_proxy(lambda event: self.uncaptured.append(_message(event.error)))
        raw.addEventListener("uncapturederror", self._on_error)

    @classmethod
    async def open(cls, *, exclude_features=()) -> "BrowserDevice":
        gpu = getattr(js.navigator, "gpu", None)
        if is_nullish(gpu):
            raise WebGPUUnavailable(
                "This browser does not offer WebGPU (navigator.gpu is missing). Use a current "
                "Chrome or Edge, Firefox 141+, or Safari 26+, and open the page on localhost or HTTPS.")
        adapter = await gpu.requestAdapter(js_object({"powerPreference": "high-performance"}))
        if is_nullish(adapter):
            raise WebGPUUnavailable("WebGPU is present but no GPU adapter is available "
                                    "(blocklisted driver or GPU disabled).")
        features, limits = device_request(set(adapter.features.values()), lambda name: getattr(adapter.limits, name),
                                          exclude_features)
        raw = await adapter.requestDevice(js_object({
            "label": "pyapp", "requiredFeatures": features, "requiredLimits": limits}))
        return cls(adapter, raw, {k: str(getattr(adapter.info, k, "") or "") for k in INFO_KEYS})

    def _on_lost(self, info):
        self.lost_reason = f"{info.reason}: {info.message}"

    # --- steps: recorded once, encoded in JS ---

    def record(self, passes):
        dispatches = [d for _, ds in passes for d in ds]
        ends, n = [], 0
        for _, ds in passes:
            n += len(ds)
            ends.append(n)
        rec = js.Object.new()
        rec.descs = js_object([desc for desc, _ in passes])
        rec.ends = js_object(ends)
        rec.pipelines = js_object([d.pipeline for d in dispatches])
        rec.groups = js_object([d.bind_group for d in dispatches])
        rec.grids = js.Uint32Array.new(3 * max(len(dispatches), 1))
        recording = (rec, dispatches)
        self.refresh(recording)
        return recording

    def refresh(self, recording):
        rec, dispatches = recording
        grids = array("I", [c for d in dispatches for c in d.grid])
        if grids:
            rec.grids.set(js_typed(grids))

    def submit(self, recording, copies=(), resolve=None, label: str = "step", steps: int = 1):
        rec, _ = recording
        plan = js_object({"copies": [list(c) for c in copies], "resolve": list(resolve) if resolve else None})
        _encoder()(self.raw, label, rec, steps, plan)

    # --- raw calls ---

    def _raw_buffer(self, size, usage, label):
        try:
            return self.raw.createBuffer(js_object({"size": size, "usage": usage, "label": label}))
        except JsException as e:
            raise GPUError(f"buffer {label} ({size} bytes): {_message(e)}") from None

    def _raw_shader_module(self, code, label):
        return self.raw.createShaderModule(js_object({"code": code, "label": label}))

    async def _raw_compute_pipeline(self, module, layout, constants, label):
        desc = {"label": label, "layout": layout,
                "compute": {"module": module, "entryPoint": "main", "constants": constants}}
        try:
            return await self.raw.createComputePipelineAsync(js_object(desc))
        except JsException as e:
            info = await module.getCompilationInfo()
            detail = "".join(f"\n  line {m.lineNum}: {m.type}: {m.message}" for m in info.messages)
            raise GPUError(f"pipeline {label}: {_message(e)}{detail}") from None

    def _raw_bind_group_layout(self, entries, label):
        bgl = self.raw.createBindGroupLayout(js_object({"label": label, "entries": entries}))
        layout = self.raw.createPipelineLayout(js_object({"label": label, "bindGroupLayouts": [bgl]}))
        return bgl, layout

    def _raw_bind_group(self, bgl, entries, label):
        return self.raw.createBindGroup(js_object({"label": label, "layout": bgl, "entries": entries}))

    def _raw_query_set(self, count, label):
        return self.raw.createQuerySet(js_object({"type": "timestamp", "count": count, "label": label}))

    def _raw_pass_descriptor(self, desc):
        return js_object(desc)

    def _raw_write(self, buffer, data, offset):
        """From a JS typed array or ArrayBuffer (no copy through Python) or small Python bytes."""
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

    async def _raw_read(self, buffer, size):
        await buffer.mapAsync(MAP_MODE_READ, 0, size)
        try:
            return py_bytes(buffer.getMappedRange(0, size))
        finally:
            buffer.unmap()

    def _raw_push_scopes(self):
        self.raw.pushErrorScope("validation")
        self.raw.pushErrorScope("out-of-memory")

    async def _raw_pop_scopes(self):
        oom = await self.raw.popErrorScope()
        invalid = await self.raw.popErrorScope()
        return [_message(e) for e in (oom, invalid) if not is_nullish(e)]
