"""The compute graph, after ExecuTorch's WebGPUGraph.

Phases: build (ops add tensors and dispatch nodes; no GPU call) -> `prepare()` (buffers, all
pipelines awaited together, bind groups, readback buffers, the recorded passes, profiler;
constants uploaded once) -> `execute()` per step: write inputs, refresh SymInts, run resize hooks
of changed SymInts, write dirty uniforms, encode + one submit, read outputs. A step creates no
GPU object and awaits no error scope (the device reports a step's errors at its next check).

`launch(steps=k)` runs the recorded step k times in one submit (a decode loop whose kernels
advance their own SymInts on the GPU) and returns without waiting; two launches may be in
flight, each with its own readback buffers, so the host prepares one while the GPU runs the other.

Bindings of a dispatch are, in order: its writes, its reads, then its uniforms (SymInts and
Params). Its shader declares @group(0) @binding(i) in that same order. A SymInt among the
writes is one a kernel advances (bound as storage); its host value is written before every step.
"""

from __future__ import annotations

import struct
from array import array

from ..gpu import shaders
from ..gpu.buffers import COPY_DST, COPY_SRC, DTYPES, MAP_READ, STORAGE, UNIFORM, align, nbytes
from .nodes import Dispatch, fold_grid, plan_scratch
from ..gpu.pipelines import PipelineCache
from ..gpu.profiler import QueryPool
from .values import SymInt, Tensor, Uniform

__all__ = ["Graph", "Tensor", "Uniform", "SymInt", "Dispatch", "fold_grid", "plan_scratch"]

UNIFORM_ALIGN = 256  # the largest minUniformBufferOffsetAlignment WebGPU allows: valid everywhere
DEFAULT_MAX_WORKGROUPS = 65535  # WebGPU's default maxComputeWorkgroupsPerDimension


class Graph:
    def __init__(self, device, name: str = "graph", *, profile: bool = False, single_pass: bool = False,
                 kernel_style: str | None = None):
        """device: a runtime.device.Device, or None for a graph that is only built (unit tests)."""
        self.device = device
        self.name = name
        # "lanes": one invocation per output, no barriers (CPU Vulkan: SwiftShader);
        # "workgroups": a workgroup shares a reduction (real GPUs); "subgroups": the same, and
        # the fused kernels reduce within subgroups. Ops pick kernels by it (Device.kernel_style).
        self.kernel_style = kernel_style or (device.kernel_style if device is not None else "lanes")
        self.profiling = profile
        self.single_pass = single_pass  # one compute pass for all dispatches (only when not profiling)
        self.max_per_dim = (device.limits["maxComputeWorkgroupsPerDimension"] if device is not None
                            else DEFAULT_MAX_WORKGROUPS)
        self.tensors: dict[str, Tensor] = {}
        self.symints: dict[str, SymInt] = {}
        self.params: list[Uniform] = []
        self.dispatches: list[Dispatch] = []
        self.prepared = False
        self.buffer_bytes = 0  # set by prepare()
        self.executions = 0  # steps run so far
        self.uniform_bytes = 0  # uniform bytes the last launch wrote
        self._in_flight = 0  # launches whose results are not read yet
        self._slot = 1       # the readback buffers of the last launch
        self.profiler: QueryPool | None = None
        self.last_profile: list = []
        self._staging: dict[str, object] = {}
        self._passes: list = []
        self.cache = PipelineCache.of(device) if device is not None else None

    # --- build ---

    def _add(self, name: str, shape, dtype: str, role: str, data=None) -> Tensor:
        if name in self.tensors:
            raise ValueError(f"{self.name}: a tensor named {name!r} already exists")
        shape = tuple(shape)
        if not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ValueError(f"tensor {name!r}: shape {shape} must be non-negative ints")
        if dtype not in DTYPES:
            raise TypeError(f"tensor {name!r}: unsupported dtype {dtype!r}; expected one of {sorted(DTYPES)}")
        t = Tensor(name, shape, dtype, role, data)
        self.tensors[name] = t
        return t

    def input(self, name, shape, dtype="f32", dynamic: bool = False) -> Tensor:
        """A graph input; `dynamic` ones take any prefix of whole elements (shape is the maximum)."""
        t = self._add(name, shape, dtype, "input")
        t.dynamic = dynamic
        return t

    def constant(self, name, shape, dtype="f32", data=None) -> Tensor:
        return self._add(name, shape, dtype, "const", data)

    def scratch(self, name, shape, dtype="f32") -> Tensor:
        return self._add(name, shape, dtype, "scratch")

    def state(self, name, shape, dtype="f32", data=None) -> Tensor:
        return self._add(name, shape, dtype, "state", data)

    def placeholder(self) -> Tensor:
        """A small zero tensor bound where an optional operand (a bias) is absent."""
        return self.tensors.get("_absent") or self.constant("_absent", (4,), "f32")

    def external(self, name, shape, dtype, buffer, offset: int | None = None, fed: bool = False) -> Tensor:
        """A tensor whose buffer already exists (weights, caches shared between graphs); with an
        offset (a multiple of 256), the tensor is that slice of the buffer. A `fed` one also takes
        data through execute's inputs (a slot the GPU writes too, that the host may set)."""
        t = self._add(name, shape, dtype, "external")
        t.buffer, t.fed = buffer, fed
        if offset is not None:
            t.offset, t.span = offset, align(t.nbytes, 16)
        return t

    def view(self, tensor: Tensor, shape, name: str | None = None, dtype: str | None = None) -> Tensor:
        """The same buffer with another shape (and maybe a dtype of the same size): a reshape."""
        shape, dtype = tuple(shape), dtype or tensor.dtype
        if nbytes(shape, dtype) != tensor.nbytes:
            raise ValueError(f"view of {tensor!r} as {list(shape)}:{dtype}: sizes differ")
        t = self._add(name or f"{tensor.name}.view{len(self.tensors)}", shape, dtype, tensor.role)
        t.base = tensor
        return t

    def output(self, tensor: Tensor) -> Tensor:
        tensor.root.is_output = tensor.is_output = True
        return tensor

    def symint(self, name: str, value: int = 0, source: str | None = None, index: int = 0) -> SymInt:
        if name in self.symints:
            return self.symints[name]
        if source is not None and (source not in self.tensors or self.tensors[source].role != "input"):
            raise ValueError(f"symint {name!r}: source {source!r} is not a graph input")
        s = SymInt(name, value, source, index)
        self.symints[name] = s
        return s

    def uniform(self, name: str, **fields: int) -> Uniform:
        u = Uniform(name, fields)
        self.params.append(u)
        return u

    def on_resize(self, symint: SymInt, hook):
        """Run hook(value) once per change of symint, before the submit of that step."""
        symint.hooks.append(hook)

    def dispatch(self, kernel: str, *, writes, reads=(), uniforms=(), workgroups=1,
                 shader: str | None = None, source: str | None = None, constants=None,
                 local_size=(64, 1, 1), aliases=(), variant: str = "") -> Dispatch:
        """Append one dispatch node. `shader` names wgsl/<shader>.wgsl (`aliases`: (include,
        file) pairs it is loaded with); `source` is custom WGSL. `variant` names the variant of
        the kernel the op chose, for its label."""
        if (shader is None) == (source is None):
            raise ValueError(f"{kernel}: give exactly one of shader= or source=")
        if self.prepared:
            raise RuntimeError(f"{self.name}: cannot add {kernel} after prepare()")
        for v in (*writes, *reads):
            if isinstance(v, SymInt) and v in writes and self.symints.get(v.name) is v:
                continue  # a SymInt the kernel advances
            if not isinstance(v, Tensor) or self.tensors.get(v.name) is not v:
                raise ValueError(f"{kernel}: {v!r} is not a tensor of graph {self.name}")
        text = shaders.load(shader, tuple(aliases)) if shader is not None else source
        d = Dispatch(len(self.dispatches), kernel, text, list(writes), list(reads), list(uniforms),
                     dict(constants or {}), tuple(local_size), self.max_per_dim, workgroups, variant=variant)
        self.dispatches.append(d)
        return d

    # --- prepare ---

    async def prepare(self):
        if self.prepared:
            return
        dev = self.device
        async with dev.error_scope(f"{self.name}.prepare"):
            slots, sizes = plan_scratch(self.dispatches)
            self.buffer_bytes = sum(sizes)  # what this graph holds on the GPU: scratch, own tensors, readbacks
            shared = [dev.buffer(n, STORAGE | COPY_SRC | COPY_DST, f"{self.name}.scratch{i}")
                      for i, n in enumerate(sizes)]
            for t in self.tensors.values():
                if t.base is None and t.role != "external":
                    if t in slots:
                        t.buffer = shared[slots[t]]
                    else:
                        t.buffer = dev.buffer(t.nbytes, STORAGE | COPY_SRC | COPY_DST, t.name)
                        self.buffer_bytes += t.nbytes
            for t in self.tensors.values():
                if t.base is not None:
                    t.buffer = t.root.buffer
                if t.is_output:  # two readback buffers: two launches may be in flight
                    self._staging[t.name] = [dev.buffer(t.nbytes, MAP_READ | COPY_DST, f"{t.name}.readback{i}")
                                             for i in range(2)]
                    self.buffer_bytes += 2 * t.nbytes
            # All uniforms (SymInts, per-dispatch params) share one buffer: a step writes the
            # dirty span once instead of one small write per uniform. The SymInts kernels advance
            # (rewritten every step) come first, then the other SymInts, then the params.
            self._advanced = list({id(v): v for d in self.dispatches for v in d.writes
                                   if isinstance(v, SymInt)}.values())
            self._uniforms = [*self._advanced, *(s for s in self.symints.values() if s not in self._advanced),
                              *self.params]
            size = 0
            for u in self._uniforms:
                u.offset = size
                size += align(u.nbytes, UNIFORM_ALIGN)
            # STORAGE too: a kernel may advance a SymInt (a decode step's input_pos) in place
            self._arena = dev.buffer(max(size, 16), UNIFORM | STORAGE | COPY_DST, f"{self.name}.uniforms")
            self._arena_host = bytearray(max(size, 16))
            pipelines = await self.cache.build(
                [(d.label, d.source, d.constants, d.kinds) for d in self.dispatches])
            for d, pipeline in zip(self.dispatches, pipelines):
                d.pipeline = pipeline
                bgl, _ = self.cache.layout(d.kinds)
                d.bind_group = dev.bind_group(bgl, [self._resource(v) for v in d.bindings], d.label)
            if self.profiling:
                self.profiler = QueryPool(dev, len(self.dispatches))
            self._passes = self._plan_passes()
            self._recording = dev.record(self._passes)
            for t in self.tensors.values():
                if t.data is not None:
                    self.upload(t, t.data)
                    t.data = None
        self.prepared = True

    def release(self):
        """Destroy the buffers prepare() made (scratch, readbacks, uniforms); external ones stay.
        The graph is not run again."""
        if not self.prepared:
            return
        own = {id(t.buffer): t.buffer for t in self.tensors.values()
               if t.base is None and t.role != "external" and t.buffer is not None}
        own.update({id(b): b for pair in self._staging.values() for b in pair})
        own[id(self._arena)] = self._arena
        self.device.destroy(own.values())
        self.prepared = False

    def _resource(self, value):
        """A binding's buffer, or (buffer, offset, size) for a uniform or a slice of a buffer."""
        if isinstance(value, Uniform):
            return self._arena, value.offset, value.nbytes
        root = value.root
        return (root.buffer, root.offset, root.span) if root.span is not None else root.buffer

    def _write_uniforms(self):
        """Write the span of the dirty uniforms (one writeBuffer); its size is in uniform_bytes."""
        lo = hi = None
        for u in self._uniforms:
            if u.dirty:
                self._arena_host[u.offset:u.offset + u.nbytes] = u.pack()
                lo = u.offset if lo is None else lo
                hi = u.offset + u.nbytes
                u.dirty = False
        self.uniform_bytes = 0 if lo is None else hi - lo
        if lo is not None:
            self.device.write(self._arena, memoryview(self._arena_host)[lo:hi], lo)

    def _plan_passes(self) -> list:
        dev, ds = self.device, self.dispatches
        if self.profiler is not None and self.profiler.available:
            return [(self.profiler.descriptor(i, d.label), [d]) for i, d in enumerate(ds)]
        if self.single_pass:
            return [(dev.pass_descriptor(self.name), ds)] if ds else []
        return [(dev.pass_descriptor(d.label), [d]) for d in ds]

    @property
    def profile_status(self) -> str:
        if not self.profiling:
            return "off"
        return "on" if self.profiler is not None and self.profiler.available else "unavailable"

    def upload(self, tensor: Tensor | str, data, offset: int = 0):
        """Write bytes (Python bytes-like or a JS typed array) into a tensor's buffer."""
        t = self.tensors[tensor] if isinstance(tensor, str) else tensor
        size = _byte_length(data)
        if offset + size > t.nbytes:
            raise ValueError(f"{t!r} holds {t.nbytes} bytes; got {size} at offset {offset}")
        self.device.write(t.root.buffer, data, t.root.offset + offset)

    # --- step ---

    async def execute(self, inputs: dict | None = None, read=None, steps: int = 1) -> dict[str, bytes]:
        """One step (or `steps` back to back in one submit). `read` lists the outputs to read
        back (default: all); returns name -> bytes, as they are after the last step."""
        return await self.launch(inputs, read, steps).result()

    def launch(self, inputs: dict | None = None, read=None, steps: int = 1) -> "Launch":
        """Write this step's inputs and uniforms, submit, and return without waiting."""
        if not self.prepared:
            raise RuntimeError(f"{self.name}: call `await graph.prepare()` before execute()")
        if self._in_flight >= 2:
            raise RuntimeError(f"{self.name}: two launches are in flight; await one's result() first")
        dev = self.device
        self.executions += steps
        for name, data in (inputs or {}).items():
            self._write_input(name, data)
        hooked = False
        for s in self.symints.values():
            if s.dirty and s.hooks:
                hooked = True
                for hook in s.hooks:
                    hook(s.value)
        if hooked:
            dev.refresh(self._recording)  # hooks may have changed workgroup counts
        self._write_uniforms()
        names = list(read) if read is not None else [n for n, t in self.tensors.items() if t.is_output]
        outs = [self._output(n) for n in names]
        resolve = self.profiler.resolve_args() if self.profile_status == "on" else None
        counted = bool(outs) or resolve is not None  # a launch that reads nothing needs no await
        slot = self._slot = 1 - self._slot if counted else self._slot
        staging = [self._staging[t.name][slot] for t in outs]
        copies = [(t.root.buffer, t.root.offset, buf, t.nbytes) for t, buf in zip(outs, staging)]
        dev.submit(self._recording, copies, resolve, label=self.name, steps=steps)
        for s in self._advanced:  # the GPU moved them: the host value goes in again next step
            s.dirty = True
        self._in_flight += counted
        return Launch(self, names, [(buf, t.nbytes) for t, buf in zip(outs, staging)], resolve is not None, counted)

    def _write_input(self, name: str, data):
        t = self.tensors.get(name)
        if t is None or not (t.role == "input" or t.fed):
            inputs = [n for n, v in self.tensors.items() if v.role == "input" or v.fed]
            raise KeyError(f"{self.name}: {name!r} is not an input; inputs are {inputs}")
        size = _byte_length(data)
        fits = size <= t.nbytes and size % DTYPES[t.dtype][0] == 0 if t.dynamic else size == t.nbytes
        if not fits:
            want = f"at most {t.nbytes}" if t.dynamic else f"{t.nbytes}"
            raise ValueError(f"input {t!r} needs {want} bytes, got {size}")
        self.device.write(t.buffer, data, t.offset)
        for s in self.symints.values():
            if s.source == name:
                s.set(_element(data, t.dtype, s.source_index))

    def _output(self, name: str) -> Tensor:
        t = self.tensors.get(name)
        if t is None or not t.is_output:
            outs = [n for n, v in self.tensors.items() if v.is_output]
            raise KeyError(f"{self.name}: {name!r} is not an output; outputs are {outs}")
        return t


class Launch:
    """A submitted step: `await result()` reads its outputs (and its profile)."""

    def __init__(self, graph: Graph, names: list[str], reads: list, profiled: bool, counted: bool):
        self.graph, self.names, self.reads, self.profiled, self.counted = graph, names, reads, profiled, counted

    async def result(self) -> dict[str, bytes]:
        g = self.graph
        try:
            data = await g.device.read_many(self.reads)
            if self.profiled:
                g.last_profile = await g.profiler.read(g.dispatches)
        finally:
            g._in_flight -= self.counted
        g.device.check(f"{g.name}.execute")
        return dict(zip(self.names, data))


def _byte_length(data) -> int:
    n = getattr(data, "byteLength", None)  # JS typed array / ArrayBuffer
    return int(n) if n is not None else memoryview(data).nbytes


def _element(data, dtype: str, index: int) -> int:
    if hasattr(data, "byteLength") and not isinstance(data, (bytes, bytearray, memoryview, array)):
        return int(data[index])  # a JS typed array (BigInt64Array gives a Python int too)
    size, fmt = DTYPES[dtype]
    return int(struct.unpack_from("<" + fmt, memoryview(data).cast("B"), index * size)[0])
