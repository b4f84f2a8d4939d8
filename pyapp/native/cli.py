"""pyapp's graph, ops and WGSL on native WebGPU (wgpu-native), for real-GPU runs outside a browser:

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
from pathlib import Path

from ..runtime.profiler import format_table
from .device import NativeDevice


# --- check: the op goldens on this device ---

def _close(got, want, atol=1e-4, rtol=1e-3):
    import numpy as np

    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    ok = (err <= atol) | (err / np.maximum(np.abs(want), 1e-6) <= rtol)
    return bool(ok.all()), float(err.max())


async def _run_case(dev, path: Path):
    import numpy as np
    from safetensors import safe_open

    from ..runtime import ops
    from ..runtime.graph import Graph

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
    dev = await NativeDevice.open()
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

    from ..runtime.config import ModelConfig
    from ..runtime.model import Model
    from ..runtime.sampling import Sampling
    from ..runtime.tokenizer import Tokenizer
    from ..runtime.weights import Weights

    dev = await NativeDevice.open()
    config = ModelConfig.from_json(json.loads((bundle / "config.json").read_text()))
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
    c.add_argument("dirs", nargs="*", default=[str(Path(__file__).resolve().parents[2] / "tests_e2e" / "goldens")])
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
        if g.profile:
            print(format_table(g.profile.stats()))
        return
    if args.cmd == "check":
        sys.exit(asyncio.run(check(args.dirs)))
    from ..runtime import benchmarks

    async def bench():
        dev = await NativeDevice.open()
        return (dev.info, await benchmarks.run(dev, args.repeat, large=args.large),
                await benchmarks.pass_modes(dev, args.repeat))

    info, rows, passes = asyncio.run(bench())
    benchmarks.print_table(info, rows, passes, args.repeat)
    if args.json:
        print(json.dumps({"adapter": info, "rows": rows, "passes": passes}))


if __name__ == "__main__":
    main()
