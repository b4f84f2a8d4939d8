"""One device interface for every WebGPU host; backends make the raw calls and run a step.

`Device` holds what the hosts share: the features and limits we ask for, buffer sizes,
binding kinds and descriptors (in WebGPU's spelling), the kernel-style choice, the count of
created objects (tests use it to prove that a step creates nothing), and what an error scope
means. Two backends subclass it: `browser.BrowserDevice` (navigator.gpu through Pyodide's FFI,
in the page) and `pyapp.native.device.NativeDevice` (wgpu-native through wgpu-py, on a host).
A backend implements the `_raw_*` object calls and the step: `record` a plan of passes once,
`refresh` its grids, `submit` it (the browser encodes in JS, encode.js; the native host in
Python). No `js` here: this module imports on plain CPython.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import asynccontextmanager

from .buffers import align

__all__ = ["Device", "GPUError", "WebGPUUnavailable", "kernel_style_for"]

# Features asked for when the adapter has them: the profiler's timestamps, subgroups for the
# fused kernels' reductions ("subgroup" is wgpu-native's name for it), and half floats with
# Chrome's subgroup matrices for the prefill's tiles on the matrix units (Device.half_matrices).
MATRIX_FEATURES = ("shader-f16", "chromium-experimental-subgroup-matrix")
WANTED_FEATURES = ("timestamp-query", "subgroups", "subgroup", *MATRIX_FEATURES)
# The one subgroup-matrix shape those tiles use (wgsl/common/fused_matrix.wgsl), in subgroups of 32.
HALF_MATRIX = {"componentType": "f16", "resultComponentType": "f32", "M": 16, "N": 16, "K": 16}
MATRIX_SUBGROUP = 32
KERNEL_STYLES = ("lanes", "workgroups", "subgroups")
# Limits raised to the adapter's maximum: big weights and wide workgroups need them.
RAISED_LIMITS = (
    "maxBufferSize",
    "maxStorageBufferBindingSize",
    "maxStorageBuffersPerShaderStage",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
)
REPORTED_LIMITS = RAISED_LIMITS + ("maxComputeWorkgroupsPerDimension", "maxUniformBufferBindingSize")
INFO_KEYS = ("vendor", "architecture", "device", "description")  # of the adapter's info
BINDING_TYPES = {"read": "read-only-storage", "write": "storage", "uniform": "uniform"}
SHADER_STAGE_COMPUTE = 0x4  # GPUShaderStage.COMPUTE


class GPUError(RuntimeError):
    """A WebGPU failure (validation, out-of-memory, pipeline, lost device), naming what failed."""


class WebGPUUnavailable(GPUError):
    """This browser has no usable WebGPU."""


def device_request(have, limit, exclude=()) -> tuple[list[str], dict]:
    """What a backend asks its adapter for: the wanted features it has (less `exclude`), and
    RAISED_LIMITS at the adapter's maximum; limit(name) reads one adapter limit by WebGPU's name."""
    return [f for f in WANTED_FEATURES if f in have and f not in exclude], {n: limit(n) for n in RAISED_LIMITS}


def has_half_matrices(features, configs, subgroup_sizes: tuple[int, int]) -> bool:
    """Whether the prefill can take its tiles' products on subgroup matrices: the features, a
    16x16x16 f16 x f16 -> f32 config among the adapter's `subgroupMatrixConfigs` (Apple's are
    8x8), and subgroups of exactly 32 (the kernel picks a subgroup's blocks by lid / 32)."""
    shaped = any(all(c.get(k) == v for k, v in HALF_MATRIX.items()) for c in configs)
    return set(MATRIX_FEATURES) <= set(features) and shaped and subgroup_sizes == (MATRIX_SUBGROUP,) * 2


def kernel_style_for(info: dict, features) -> str:
    """"lanes" (one invocation per output, no barriers) on a CPU Vulkan such as SwiftShader,
    which runs workgroup barriers very slowly; on real GPUs "subgroups" (reductions within a
    subgroup) where the device has them, else "workgroups" (reductions in shared memory)."""
    text = " ".join(str(v) for v in info.values()).lower()
    if "swiftshader" in text or str(info.get("adapter_type", "")).lower() == "cpu":
        return "lanes"
    return "subgroups" if {"subgroups", "subgroup"} & set(features) else "workgroups"


class Device:
    """A WebGPU device. Objects are created in build/prepare/upload, never in a step."""

    def __init__(self, raw, info: dict, features, limit, *, half_matrices: bool = False):
        """limit(name): one of the device's limits, by WebGPU's name; half_matrices: see
        has_half_matrices (read from the adapter by the backend)."""
        self.raw = raw
        self.info = {k: str(info.get(k, "") or "") for k in INFO_KEYS}
        self.features = frozenset(features)
        self.limits = {name: int(limit(name)) for name in REPORTED_LIMITS}
        self.kernel_style = kernel_style_for(info, self.features)
        self.half_matrices = half_matrices
        self.created = Counter()
        self.lost_reason: str | None = None
        self.uncaptured: list[str] = []  # errors reported outside any scope (a step's), for check()
        self.pipeline_cache = None  # the device's PipelineCache (pipelines.py), made on first use

    # --- objects ---

    def buffer(self, size: int, usage: int, label: str):
        self.created["buffer"] += 1
        # 16-byte sizes: shaders may bind f32 data as array<vec4<f32>> and must see every element
        return self._raw_buffer(align(max(size, 16), 16), usage, label)

    def destroy(self, buffers):
        """Free buffers now rather than when a garbage collector finds them: a model's gigabytes.
        (GPUBuffer.destroy() has the same name in WebGPU's JS API and in wgpu-py.)"""
        for b in buffers:
            b.destroy()
            self.created["destroyed buffer"] += 1

    def shader_module(self, code: str, label: str):
        self.created["shader_module"] += 1
        return self._raw_shader_module(code, label)

    async def compute_pipeline(self, module, layout, constants: dict, label: str):
        self.created["pipeline"] += 1
        return await self._raw_compute_pipeline(module, layout, dict(constants), label)

    def bind_group_layout(self, kinds: tuple[str, ...], label: str):
        """(bind group layout, pipeline layout) for buffer bindings of these kinds, in order."""
        self.created["bind_group_layout"] += 1
        entries = [{"binding": i, "visibility": SHADER_STAGE_COMPUTE, "buffer": {"type": BINDING_TYPES[k]}}
                   for i, k in enumerate(kinds)]
        return self._raw_bind_group_layout(entries, label)

    def bind_group(self, bgl, resources: list, label: str):
        """resources: a buffer (bound whole) or (buffer, offset, size) per binding, in order."""
        self.created["bind_group"] += 1
        entries = []
        for i, r in enumerate(resources):
            buffer, offset, size = r if isinstance(r, tuple) else (r, 0, None)
            span = {"buffer": buffer, "offset": offset}
            if size is not None:
                span["size"] = size
            entries.append({"binding": i, "resource": span})
        return self._raw_bind_group(bgl, entries, label)

    def query_set(self, count: int, label: str):
        self.created["query_set"] += 1
        return self._raw_query_set(count, label)

    def pass_descriptor(self, label: str, query_set=None, index: int = 0):
        """A compute pass's descriptor, built once; with a query set the pass writes its start
        and end timestamps at query indices 2*index and 2*index + 1."""
        desc = {"label": label}
        if query_set is not None:
            desc["timestampWrites"] = {"querySet": query_set, "beginningOfPassWriteIndex": 2 * index,
                                       "endOfPassWriteIndex": 2 * index + 1}
        return self._raw_pass_descriptor(desc)

    # --- steps ---

    def write(self, buffer, data, offset: int = 0):
        """queue.writeBuffer; WebGPU writes whole 4-byte words, so a ragged tail is padded."""
        self._raw_write(buffer, data, offset)

    def record(self, passes):
        """A plan of passes [(descriptor, [dispatch, ...])], kept in the form `submit` encodes
        fastest. A dispatch is anything with `.pipeline`, `.bind_group` and `.grid` (x, y, z)."""
        raise NotImplementedError

    def refresh(self, recording):
        """Dispatches of a recording changed their grids (a resize hook ran)."""
        raise NotImplementedError

    def submit(self, recording, copies=(), resolve=None, label: str = "step", steps: int = 1):
        """Encode the recorded passes `steps` times, then buffer copies [(src, offset, dst, size)]
        (sizes rounded up to 4 bytes) and a timestamp resolve (query set, count, resolve buffer,
        read buffer, which gets count * 8 bytes); one submit."""
        raise NotImplementedError

    def check(self, phase: str):
        """Raise the first error the device reported outside any scope (a step's), if any."""
        if self.lost_reason:
            raise GPUError(f"{phase}: the GPU device was lost ({self.lost_reason})")
        if self.uncaptured:
            errors, self.uncaptured = self.uncaptured, []
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise GPUError(f"{phase}: {errors[0]}{more}")

    async def read(self, buffer, size: int) -> bytes:
        """Map a MAP_READ buffer and copy `size` bytes out."""
        return (await self._raw_read(buffer, align(size)))[:size]

    async def read_many(self, items) -> list[bytes]:
        return list(await asyncio.gather(*(self.read(b, n) for b, n in items)))

    @asynccontextmanager
    async def error_scope(self, phase: str):
        """Raise GPUError naming `phase` if a validation or out-of-memory error happens inside
        the block, or the device is lost. Used in build, prepare and upload; a step does not
        await it (the browser reports a step's errors through its uncaptured-error handler)."""
        self._raw_push_scopes()
        try:
            yield
        except GPUError:
            raise
        except self._raw_errors as e:  # a backend that raises where the call happens (wgpu-py)
            raise GPUError(f"{phase}: {e}") from None
        finally:
            messages = await self._raw_pop_scopes()
        if self.lost_reason:
            raise GPUError(f"{phase}: the GPU device was lost ({self.lost_reason})")
        if messages:
            raise GPUError(f"{phase}: {'; '.join(messages)}")

    # --- the raw calls a backend makes ---

    _raw_errors: tuple = ()

    def _raw_buffer(self, size, usage, label):
        raise NotImplementedError

    def _raw_shader_module(self, code, label):
        raise NotImplementedError

    async def _raw_compute_pipeline(self, module, layout, constants, label):
        raise NotImplementedError

    def _raw_bind_group_layout(self, entries, label):
        """entries: GPUBindGroupLayoutEntry dicts -> (bind group layout, pipeline layout)."""
        raise NotImplementedError

    def _raw_bind_group(self, bgl, entries, label):
        """entries: GPUBindGroupEntry dicts; a resource without "size" binds the rest of its buffer."""
        raise NotImplementedError

    def _raw_query_set(self, count, label):
        raise NotImplementedError

    def _raw_pass_descriptor(self, desc):
        """desc: a GPUComputePassDescriptor dict -> the backend's form of it, made once."""
        raise NotImplementedError

    def _raw_write(self, buffer, data, offset):
        raise NotImplementedError

    async def _raw_read(self, buffer, size) -> bytes:
        raise NotImplementedError

    def _raw_push_scopes(self):
        raise NotImplementedError

    async def _raw_pop_scopes(self) -> list[str]:
        raise NotImplementedError
