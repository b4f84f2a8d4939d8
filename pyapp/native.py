"""The same graph, ops and WGSL on native WebGPU through the `wgpu` package (wgpu-native).

A second host for pyapp.runtime's device layer, for real-GPU runs outside a browser:

    python -m pyapp.native check [DIR ...]   # op goldens (linear_*, sdpa_*) on this GPU
    python -m pyapp.native bench             # pyapp.runtime.benchmarks on this GPU
    python -m pyapp.native model BUNDLE      # the model's prefill/decode speed on this GPU

Needs `wgpu` (and numpy + safetensors for `check`). On a machine without a GPU,
VK_ICD_FILENAMES may point at a software Vulkan (SwiftShader) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path

from .runtime.buffers import align
from .runtime.device_spec import BINDING_TYPES, RAISED_LIMITS, REPORTED_LIMITS, WANTED_FEATURES, GPUError


class NativeDevice:
    """pyapp.runtime.device.Device's interface over wgpu-py."""

    def __init__(self, adapter, raw):
        self.adapter, self.raw = adapter, raw
        info = adapter.info
        self.info = {k: str(info.get(k, "") or "") for k in ("vendor", "architecture", "device", "description")}
        self.features = frozenset(raw.features)
        self.limits = {name: int(raw.limits[_snake(name)]) for name in REPORTED_LIMITS}
        self.created = Counter()
        self.lost_reason = None
        self.kernel_style = "lanes" if info.get("adapter_type") == "CPU" else "workgroups"

    @classmethod
    def open(cls, exclude_features=()) -> "NativeDevice":
        import wgpu

        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
        if adapter is None:
            raise GPUError("no WebGPU adapter (is a Vulkan driver installed?)")
        features = [f for f in WANTED_FEATURES if f in adapter.features and f not in exclude_features]
        limits = {_snake(n): adapter.limits[_snake(n)] for n in RAISED_LIMITS}
        return cls(adapter, adapter.request_device_sync(required_features=features, required_limits=limits))

    def buffer(self, size, usage, label):
        self.created["buffer"] += 1
        return self.raw.create_buffer(size=align(max(size, 16), 16), usage=usage, label=label)

    def shader_module(self, code, label):
        self.created["shader_module"] += 1
        return self.raw.create_shader_module(code=code, label=label)

    async def compute_pipeline(self, module, layout, constants, label):
        self.created["pipeline"] += 1
        try:
            return self.raw.create_compute_pipeline(
                label=label, layout=layout,
                compute={"module": module, "entry_point": "main",
                         "constants": {k: float(v) for k, v in constants.items()}})
        except Exception as e:
            raise GPUError(f"pipeline {label}: {e}") from None

    def bind_group_layout(self, kinds, label):
        self.created["bind_group_layout"] += 1
        entries = [{"binding": i, "visibility": 4, "buffer": {"type": BINDING_TYPES[k]}} for i, k in enumerate(kinds)]
        bgl = self.raw.create_bind_group_layout(label=label, entries=entries)
        return bgl, self.raw.create_pipeline_layout(label=label, bind_group_layouts=[bgl])

    def bind_group(self, bgl, resources, label):
        self.created["bind_group"] += 1
        spans = [r if isinstance(r, tuple) else (r, 0, r.size) for r in resources]
        entries = [{"binding": i, "resource": {"buffer": b, "offset": o, "size": n}} for i, (b, o, n) in enumerate(spans)]
        return self.raw.create_bind_group(label=label, layout=bgl, entries=entries)

    def query_set(self, count, label):
        self.created["query_set"] += 1
        return self.raw.create_query_set(type="timestamp", count=count, label=label)

    def pass_descriptor(self, label, query_set=None, index=0):
        desc = {"label": label}
        if query_set is not None:
            desc["timestamp_writes"] = {"query_set": query_set, "beginning_of_pass_write_index": 2 * index,
                                        "end_of_pass_write_index": 2 * index + 1}
        return desc

    def write(self, buffer, data, offset=0):
        data = memoryview(data).cast("B")
        if len(data) % 4:  # whole words only, as in the browser
            data = memoryview(bytes(data) + bytes(-len(data) % 4))
        self.raw.queue.write_buffer(buffer, offset, data)

    def submit(self, passes, copies=(), resolve=None, label="step"):
        enc = self.raw.create_command_encoder(label=label)
        for desc, dispatches in passes:
            cpass = enc.begin_compute_pass(**desc)
            current = None
            for d in dispatches:
                if d.pipeline is not current:
                    cpass.set_pipeline(d.pipeline)
                    current = d.pipeline
                cpass.set_bind_group(0, d.bind_group)
                cpass.dispatch_workgroups(*d.grid)
            cpass.end()
        for src, dst, size in copies:
            enc.copy_buffer_to_buffer(src, 0, dst, 0, align(size))
        if resolve is not None:
            query_set, count, resolve_buf, read_buf = resolve
            enc.resolve_query_set(query_set, 0, count, resolve_buf, 0)
            enc.copy_buffer_to_buffer(resolve_buf, 0, read_buf, 0, count * 8)
        self.raw.queue.submit([enc.finish()])

    async def read(self, buffer, size):
        buffer.map_sync(1, 0, align(size))  # MapMode.READ
        try:
            return bytes(buffer.read_mapped(0, align(size)))[:size]
        finally:
            buffer.unmap()

    async def read_many(self, items):
        return [await self.read(b, n) for b, n in items]

    @asynccontextmanager
    async def error_scope(self, phase):
        try:
            yield
        except GPUError:
            raise
        except Exception as e:  # wgpu-py raises validation errors where they happen
            raise GPUError(f"{phase}: {e}") from None


def _snake(name: str) -> str:
    """maxBufferSize -> max-buffer-size, as wgpu-py names limits."""
    return "".join("-" + c.lower() if c.isupper() else c for c in name)


# --- check: the op goldens on this device ---

def _close(got, want, atol=1e-4, rtol=1e-3):
    import numpy as np

    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    ok = (err <= atol) | (err / np.maximum(np.abs(want), 1e-6) <= rtol)
    return bool(ok.all()), float(err.max())


async def _run_case(dev, path: Path):
    import numpy as np
    from safetensors import safe_open

    from .runtime import ops
    from .runtime.graph import Graph

    with safe_open(str(path), "np") as f:
        t = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata() or {}
    op = meta.get("op", "")
    g = Graph(dev, path.stem)
    dtype = {np.dtype("float32"): "f32", np.dtype("uint8"): "u8"}

    def const(name):
        return g.constant(name, t[name].shape, dtype[t[name].dtype], t[name].tobytes())

    if op.startswith("linear_"):
        x = g.input("x", t["x"].shape)
        bias = const("bias") if "bias" in t else None
        if op == "linear_f32":
            out = ops.linear_f32(g, x, const("weight"), bias=bias)
        else:
            tables = [const(n) for n in ("scales", "offsets") if n in t]
            out = getattr(ops, op)(g, x, const("weight"), *tables, int(meta["group_size"]), bias=bias)
        inputs = {"x": t["x"].tobytes()}
    elif op == "sdpa_with_kv_cache":
        q, k, v = (g.input(n, t[n].shape) for n in "qkv")
        caches = [g.state(n, t[n].shape, "f32", t[n].tobytes()) for n in ("k_cache", "v_cache")]
        out = ops.sdpa_with_kv_cache(g, q, k, v, *caches, g.symint("input_pos", int(meta["input_pos"])), q.shape[1])
        inputs = {n: t[n].tobytes() for n in "qkv"}
    else:
        return None
    g.output(out)
    await g.prepare()
    got = np.frombuffer((await g.execute(inputs))[out.name], np.float32)
    return _close(got, t["expected"].reshape(-1))


async def check(dirs) -> int:
    dev = NativeDevice.open()
    print(f"adapter: {dev.info['vendor']} / {dev.info['device'] or dev.info['architecture']}")
    failed = 0
    for path in sorted(p for d in dirs for p in Path(d).glob("*.safetensors")):
        result = await _run_case(dev, path)
        if result is None:
            continue
        ok, worst = result
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {path.stem:<48} max abs err {worst:.2e}")
    print(f"{failed} failed")
    return 1 if failed else 0


async def model_speed(bundle: Path, prompt_tokens: int, steps: int, profile: bool, style: str | None):
    """The real model graphs (config + tokenizer from a bundle), weights filled with a pattern:
    speed does not depend on the values, and a bundle is too big to carry to a lent GPU."""
    import time

    from .runtime.model import Model
    from .runtime.sampling import Sampling
    from .runtime.tokenizer import Tokenizer
    from .runtime.weights import Weights

    dev = NativeDevice.open()
    config = json.loads((bundle / "config.json").read_text())
    t0 = time.perf_counter()
    model = Model(dev, config, Weights.filled(dev, config), Tokenizer(json.loads((bundle / "tokenizer.json").read_text())),
                  profile=profile, kernel_style=style)
    await model.prepare()
    load_s = time.perf_counter() - t0
    prompt = [100 + i % 1000 for i in range(prompt_tokens)]
    await model.generate(prompt[:4], Sampling(), 4, stop_at_eos=False)  # warm up
    g = await model.generate(prompt, Sampling(), steps, stop_at_eos=False)
    return dev, model, load_s, g


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pyapp.native", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="run op goldens on this GPU")
    c.add_argument("dirs", nargs="*", default=[str(Path(__file__).resolve().parent.parent / "tests_e2e" / "goldens")])
    b = sub.add_parser("bench", help="pyapp.runtime.benchmarks on this GPU")
    b.add_argument("--repeat", type=int, default=50)
    b.add_argument("--large", action="store_true", help="also LLM-sized shapes (8192x8192, a 128k-row LM head)")
    b.add_argument("--json", action="store_true")
    mdl = sub.add_parser("model", help="the model's speed on this GPU (pattern-filled weights)")
    mdl.add_argument("bundle", type=Path, help="a bundle folder (config.json, tokenizer.json) from pyapp.export")
    mdl.add_argument("--prompt-tokens", type=int, default=32)
    mdl.add_argument("--steps", type=int, default=64, help="decode steps")
    mdl.add_argument("--profile", action="store_true")
    mdl.add_argument("--style", choices=["lanes", "workgroups"], help="force a kernel style")
    args = ap.parse_args(argv)
    if args.cmd == "model":
        dev, model, load_s, g = asyncio.run(model_speed(args.bundle, args.prompt_tokens, args.steps,
                                                         args.profile, args.style))
        print(f"adapter: {dev.info['vendor']} / {dev.info['device'] or dev.info['architecture']}, "
              f"kernels: {model.decode_graph.kernel_style}, {len(model.decode_graph.dispatches)} dispatches/token")
        print(f"build + prepare: {load_s:.2f} s; prefill {g.prefill_tokens_per_s:.1f} tokens/s "
              f"({len(g.prompt_ids)} tokens); decode {g.decode_tokens_per_s:.1f} tokens/s ({len(g.generated_ids)} tokens)")
        for name, (count, ns) in sorted(g.kernels.items(), key=lambda kv: -kv[1][1]):
            print(f"  {name:<28} {count:>6} {ns / 1e6:>9.2f} ms")
        return
    if args.cmd == "check":
        sys.exit(asyncio.run(check(args.dirs)))
    from .runtime import benchmarks

    async def bench():
        dev = NativeDevice.open()
        return (dev.info, await benchmarks.run(dev, args.repeat, large=args.large),
                await benchmarks.pass_modes(dev, args.repeat))

    info, rows, passes = asyncio.run(bench())
    benchmarks.print_table(info, rows, passes, args.repeat)
    if args.json:
        print(json.dumps({"adapter": info, "rows": rows, "passes": passes}))


if __name__ == "__main__":
    main()
