"""wgpu-native (through wgpu-py) as a `Device` backend: only the raw calls.

wgpu-py raises validation errors where the call happens, so its error scopes are no-ops and
`Device.error_scope` turns those exceptions into GPUError naming the phase.
"""

from __future__ import annotations

import wgpu

from ..runtime.gpu.device import RAISED_LIMITS, REPORTED_LIMITS, SHADER_STAGE_COMPUTE, WANTED_FEATURES, Device, GPUError

__all__ = ["NativeDevice"]


def _snake(name: str) -> str:
    """maxBufferSize -> max-buffer-size, as wgpu-py names limits."""
    return "".join("-" + c.lower() if c.isupper() else c for c in name)


class NativeDevice(Device):
    _raw_errors = (wgpu.GPUError,)

    def __init__(self, adapter, raw):
        info = dict(adapter.info)
        super().__init__(raw, info, raw.features, {n: raw.limits[_snake(n)] for n in REPORTED_LIMITS})
        self.adapter = adapter

    @classmethod
    async def open(cls, *, exclude_features=()) -> "NativeDevice":
        adapter = await wgpu.gpu.request_adapter_async(power_preference="high-performance")
        if adapter is None:
            raise GPUError("no WebGPU adapter (is a Vulkan driver installed?)")
        features = [f for f in WANTED_FEATURES if f in adapter.features and f not in exclude_features]
        limits = {_snake(n): adapter.limits[_snake(n)] for n in RAISED_LIMITS}
        return cls(adapter, await adapter.request_device_async(required_features=features, required_limits=limits))

    # --- raw calls ---

    def _raw_buffer(self, size, usage, label):
        return self.raw.create_buffer(size=size, usage=usage, label=label)

    def _raw_shader_module(self, code, label):
        # naga takes subgroup builtins without WGSL's `enable subgroups;` (and rejects it)
        return self.raw.create_shader_module(code=code.replace("enable subgroups;\n", ""), label=label)

    async def _raw_compute_pipeline(self, module, layout, constants, label):
        try:
            return self.raw.create_compute_pipeline(
                label=label, layout=layout,
                compute={"module": module, "entry_point": "main",
                         "constants": {k: float(v) for k, v in constants.items()}})
        except wgpu.GPUError as e:
            raise GPUError(f"pipeline {label}: {e}") from None

    def _raw_bind_group_layout(self, entries, label):
        desc = [{"binding": i, "visibility": SHADER_STAGE_COMPUTE, "buffer": {"type": kind}} for i, kind in entries]
        bgl = self.raw.create_bind_group_layout(label=label, entries=desc)
        return bgl, self.raw.create_pipeline_layout(label=label, bind_group_layouts=[bgl])

    def _raw_bind_group(self, bgl, entries, label):
        desc = [{"binding": i, "resource": {"buffer": b, "offset": o, "size": b.size - o if n is None else n}}
                for i, b, o, n in entries]
        return self.raw.create_bind_group(label=label, layout=bgl, entries=desc)

    def _raw_query_set(self, count, label):
        return self.raw.create_query_set(type="timestamp", count=count, label=label)

    def _raw_pass_descriptor(self, label, times):
        desc = {"label": label}
        if times is not None:
            query_set, begin, end = times
            desc["timestamp_writes"] = {"query_set": query_set, "beginning_of_pass_write_index": begin,
                                        "end_of_pass_write_index": end}
        return desc

    def _raw_write(self, buffer, data, offset):
        data = memoryview(data).cast("B")
        if len(data) % 4:  # whole words only, as in the browser
            data = memoryview(bytes(data) + bytes(-len(data) % 4))
        self.raw.queue.write_buffer(buffer, offset, data)

    def _raw_encoder(self, label):
        return self.raw.create_command_encoder(label=label)

    def _raw_pass(self, enc, desc):
        cpass = enc.begin_compute_pass(**desc)
        return cpass, cpass.set_pipeline, cpass.set_bind_group, cpass.dispatch_workgroups, cpass.end

    def _raw_copy(self, enc, src, offset, dst, size):
        enc.copy_buffer_to_buffer(src, offset, dst, 0, size)

    def _raw_resolve(self, enc, query_set, count, dst):
        enc.resolve_query_set(query_set, 0, count, dst, 0)

    def _raw_finish(self, enc):
        self.raw.queue.submit([enc.finish()])

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
