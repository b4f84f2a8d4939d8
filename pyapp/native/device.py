"""wgpu-native (through wgpu-py) as a `Device` backend: the raw calls, and a step encoded in Python.

wgpu-py raises validation errors where the call happens, so its error scopes are no-ops and
`Device.error_scope` turns those exceptions into GPUError naming the phase. Its descriptors
spell WebGPU's names in snake_case.
"""

from __future__ import annotations

import wgpu

from ..runtime.gpu.buffers import align
from ..runtime.gpu.device import Device, GPUError, device_request

__all__ = ["NativeDevice"]


def _snake(name: str, sep: str = "-") -> str:
    """maxBufferSize -> max-buffer-size, as wgpu-py names limits (sep "_": its descriptors' keys)."""
    return "".join(sep + c.lower() if c.isupper() else c for c in name)


def _snake_keys(desc: dict) -> dict:
    return {_snake(k, "_"): _snake_keys(v) if isinstance(v, dict) else v for k, v in desc.items()}


class NativeDevice(Device):
    _raw_errors = (wgpu.GPUError,)

    def __init__(self, adapter, raw):
        info = dict(adapter.info)
        super().__init__(raw, info, raw.features, lambda name: raw.limits[_snake(name)])
        self.adapter = adapter

    @classmethod
    async def open(cls, *, exclude_features=()) -> "NativeDevice":
        adapter = await wgpu.gpu.request_adapter_async(power_preference="high-performance")
        if adapter is None:
            raise GPUError("no WebGPU adapter (is a Vulkan driver installed?)")
        features, limits = device_request(adapter.features, lambda name: adapter.limits[_snake(name)], exclude_features)
        raw = await adapter.request_device_async(required_features=features,
                                                 required_limits={_snake(n): v for n, v in limits.items()})
        return cls(adapter, raw)

    # --- steps: encoded in Python ---

    def record(self, passes):
        return passes

    def refresh(self, recording):
        pass  # the dispatches are read as they are at each submit

    def submit(self, recording, copies=(), resolve=None, label: str = "step", steps: int = 1):
        try:
            enc = self.raw.create_command_encoder(label=label)
            for _ in range(steps):
                for desc, dispatches in recording:
                    cpass = enc.begin_compute_pass(**desc)
                    current = None
                    for d in dispatches:
                        if d.pipeline is not current:  # consecutive nodes often share one (k/v, rope q/k)
                            cpass.set_pipeline(d.pipeline)
                            current = d.pipeline
                        cpass.set_bind_group(0, d.bind_group)
                        cpass.dispatch_workgroups(*d.grid)
                    cpass.end()
            for src, offset, dst, size in copies:
                enc.copy_buffer_to_buffer(src, offset, dst, 0, align(size))
            if resolve is not None:
                query_set, count, resolve_buf, read_buf = resolve
                enc.resolve_query_set(query_set, 0, count, resolve_buf, 0)
                enc.copy_buffer_to_buffer(resolve_buf, 0, read_buf, 0, count * 8)
            self.raw.queue.submit([enc.finish()])
        except wgpu.GPUError as e:
            raise GPUError(f"{label}: {e}") from None

    # --- raw calls ---

    def _raw_buffer(self, size, usage, label):
        return self.raw.create_buffer(size=size, usage=usage, label=label)

    def _raw_shader_module(self, code, label):
        # naga takes subgroup builtins without WGSL's `enable subgroups;` and knows no
        # `subgroup_uniformity` diagnostic (it rejects both)
        for directive in ("enable subgroups;\n", "diagnostic(off, subgroup_uniformity);\n"):
            code = code.replace(directive, "")
        return self.raw.create_shader_module(code=code, label=label)

    async def _raw_compute_pipeline(self, module, layout, constants, label):
        try:
            return self.raw.create_compute_pipeline(
                label=label, layout=layout,
                compute={"module": module, "entry_point": "main",
                         "constants": {k: float(v) for k, v in constants.items()}})
        except wgpu.GPUError as e:
            raise GPUError(f"pipeline {label}: {e}") from None

    def _raw_bind_group_layout(self, entries, label):
        bgl = self.raw.create_bind_group_layout(label=label, entries=entries)
        return bgl, self.raw.create_pipeline_layout(label=label, bind_group_layouts=[bgl])

    def _raw_bind_group(self, bgl, entries, label):
        for e in entries:  # wgpu-py wants every size
            r = e["resource"]
            r.setdefault("size", r["buffer"].size - r["offset"])
        return self.raw.create_bind_group(label=label, layout=bgl, entries=entries)

    def _raw_query_set(self, count, label):
        return self.raw.create_query_set(type="timestamp", count=count, label=label)

    def _raw_pass_descriptor(self, desc):
        return _snake_keys(desc)

    def _raw_write(self, buffer, data, offset):
        data = memoryview(data).cast("B")
        if len(data) % 4:  # whole words only, as in the browser
            data = memoryview(bytes(data) + bytes(-len(data) % 4))
        self.raw.queue.write_buffer(buffer, offset, data)

    async def _raw_read(self, buffer, size):
        await buffer.map_async(wgpu.MapMode.READ, 0, size)
        try:
            return bytes(buffer.read_mapped(0, size))
        finally:
            buffer.unmap()

    def _raw_push_scopes(self):
        pass

    async def _raw_pop_scopes(self):
        return []
