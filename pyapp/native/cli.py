"""pyapp's graph, ops and WGSL on native WebGPU (wgpu-native), for real-GPU runs outside a browser:

    python -m pyapp.native check [DIR ...]   # op goldens (linear_*, sdpa_*) on this GPU
    python -m pyapp.native bench             # pyapp.runtime.bench.op_bench on this GPU
    python -m pyapp.native model BUNDLE      # the model's prefill/decode speed on this GPU
    python -m pyapp.native model BUNDLE --shape llama_8b   # ... of a model of real shapes
    python -m pyapp.native repack X.gguf     # the page's GPU repack of a GGUF vs the exporter, and its speed

Needs `wgpu` (and numpy + safetensors for `check`). On a machine without a GPU,
VK_ICD_FILENAMES may point at a software Vulkan (SwiftShader) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ..runtime.bench.model_bench import MIXES, SHAPES
from ..runtime.gpu.profiler import KernelTally, format_table
from ..runtime.ops._checks import OpError
from ..runtime.ops.tuning import set_constants
from .device import NativeDevice


# --- check: the op goldens on this device ---

async def _run_case(dev, path: Path):
    """(all within tolerance, the worst abs error) of the op golden at path, or None: not an op's."""
    import numpy as np
    from safetensors import safe_open

    from ..reference import off_tolerance
    from ..runtime.ops.golden import linear_graph, sdpa_graph

    with safe_open(str(path), "np") as f:
        t = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata() or {}
    op = meta.get("op", "")
    dtype = {np.dtype("float32"): "f32", np.dtype("uint8"): "u8"}
    tensors = {k: (a.shape, dtype.get(a.dtype, "f32"), a.tobytes()) for k, a in t.items()}
    if op.startswith("linear_"):
        g, inputs, out = linear_graph(dev, tensors, meta, name=path.stem)
    elif op == "sdpa_with_kv_cache":
        g, inputs, out, _ = sdpa_graph(dev, tensors, meta, name=path.stem)
    else:
        return None
    await g.prepare()
    got = np.frombuffer((await g.execute(inputs, read=[out.name]))[out.name], np.float32)
    off, err, _ = off_tolerance(got, t["expected"])
    return not off.any(), float(err.max())


async def check(dirs) -> int:
    dev = await NativeDevice.open()
    print(f"adapter: {dev.info['vendor']} / {dev.info['device'] or dev.info['architecture']}")
    failed = checked = 0
    for path in sorted(p for d in dirs for p in Path(d).glob("*.safetensors")):
        result = await _run_case(dev, path)
        if result is None:
            continue
        ok, worst = result
        checked += 1
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {path.stem:<48} max abs err {worst:.2e}")
    if not checked:
        print(f"no op goldens in {', '.join(map(str, dirs))}")
        return 1
    print(f"{checked} checked, {failed} failed")
    return 1 if failed else 0


def bundle_weights(dev, bundle: Path, config, pattern: bool):
    """The bundle's weights on this device: the real ones from model.safetensors, or random
    bytes (Weights.filled: a real bundle may be too big to carry)."""
    from safetensors import safe_open

    from ..runtime.model.weights import Weights

    if pattern:
        return Weights.filled(dev, config)
    weights = Weights.allocate(dev, config)
    with safe_open(str(bundle / "model.safetensors"), "np") as f:
        for name in weights.meta:
            arena, offset = weights.where[name]
            dev.write(weights.buffers[arena], f.get_tensor(name).tobytes(), offset)
    return weights


async def model_run(bundle: Path, args) -> list[dict]:
    """Generate with the bundle's model on each asked path (fused, ops), side by side; check
    the greedy tokens and logits against golden files when given."""
    import time

    import numpy as np

    from ..runtime.model.config import ModelConfig
    from ..runtime.model.model import Model, fused_path
    from ..runtime.bench.model_bench import SAMPLED, shape_config
    from ..runtime.model.sampling import Sampling
    from ..runtime.tokenizer.tokenizer import Tokenizer

    dev = await NativeDevice.open()
    if args.shape:  # a model of real shapes, random weights (the page's model_bench.SHAPES)
        config = shape_config(args.shape, args.mix)
    else:
        config = ModelConfig.from_json(json.loads((bundle / "config.json").read_text()))
    tokenizer = Tokenizer(json.loads((bundle / "tokenizer.json").read_text()))
    if args.path == "ops":
        fused_path(dev, config, args.style, False)  # refuses GGUF blocks before their upload
    weights = bundle_weights(dev, bundle, config, pattern=args.weights == "pattern" or bool(args.shape))
    rows = []
    both = ("fused", "ops") if not config.gguf_blocks() else ("fused",)  # the ops read no GGUF blocks
    for path in (both if args.path == "both" else (args.path,)):
        t0 = time.perf_counter()
        model = Model(dev, config, weights, tokenizer, profile=args.profile, kernel_style=args.style,
                      fused=path == "fused", max_context=args.context, prefill_rows=args.prefill_rows)
        await model.prepare()
        row = {"path": path, "style": model.decode_graph.kernel_style, "prepare_s": time.perf_counter() - t0,
               "dispatches": len(model.decode_graph.dispatches), "adapter": dev.info,
               "prefill_rows": model.prefill_rows, "graphs_gpu_bytes": sum(g.buffer_bytes for g in model.graphs),
               "prefill_matrices": model.uses_matrices(), "matrix_error": model.matrix_error}
        for golden in args.golden:
            from safetensors.numpy import load_file

            gold = load_file(golden)
            want = gold["generated_ids"].tolist()
            g = await model.generate(gold["prompt_ids"].tolist(), Sampling(), len(want), record_logits=True)
            worst = max(float(np.abs(np.frombuffer(a, np.float32) - b.reshape(-1)).max())
                        for a, b in zip(g.logits, gold["logits"]))
            row.setdefault("golden", []).append({"file": Path(golden).name, "tokens_match": g.generated_ids == want,
                                                 "max_abs_logit_err": worst})
        prompt = [(100 + i) % tokenizer.vocab_size for i in range(args.prompt_tokens)]
        await model.generate(prompt[:4], Sampling(), 4, stop_at_eos=False)  # warm up
        g = await model.generate(prompt, Sampling(), args.steps, stop_at_eos=False)
        row.update(prefill_tok_s=g.prefill_tokens_per_s, decode_tok_s=g.decode_tokens_per_s,
                   tokens=len(g.generated_ids), submits=g.submits, kernels=g.kernels,
                   prefill_chunk=model.prefill_chunk,
                   prefill_kernels=g.prefill_profile.totals)
        if not args.profile:  # the sampler on the GPU in place of the argmax (model_bench.SAMPLED's first)
            sampled = await model.generate(prompt, SAMPLED["sampled_decode"], args.steps, stop_at_eos=False)
            row["sampled_decode_tok_s"] = sampled.decode_tokens_per_s
        rows.append(row)
    return rows


async def repack(paths: list[Path], repeat: int, blocks: bool = False) -> int:
    from ..export import ExportError
    from .repack import print_row, repack_row

    device = await NativeDevice.open()
    print(f"{device.info['vendor']} {device.info['device']} {device.info['description']}".strip())
    failed = 0
    for path in paths:
        try:
            row = await repack_row(device, path, repeat, blocks)
        except ExportError as e:
            print(f"FAIL {e}")
            failed += 1
            continue
        print_row(row)
        failed += bool(row["problems"])
    return 1 if failed else 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pyapp.native", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="run op goldens on this GPU")
    c.add_argument("dirs", nargs="*", default=[str(Path(__file__).resolve().parents[2] / "tests_e2e" / "goldens")])
    b = sub.add_parser("bench", help="pyapp.runtime.bench.op_bench on this GPU")
    b.add_argument("--repeat", type=int, default=50)
    b.add_argument("--large", action="store_true", help="also LLM-sized shapes (8192x8192, a 128k-row LM head)")
    b.add_argument("--json", action="store_true")
    mdl = sub.add_parser("model", help="the model's speed (and, with --golden, its answers) on this GPU")
    mdl.add_argument("bundle", type=Path, help="a bundle folder from pyapp.export")
    mdl.add_argument("--weights", choices=["real", "pattern"], default="real",
                     help="the bundle's weights, or random bytes of the same shapes (needs only config.json)")
    mdl.add_argument("--path", choices=["fused", "ops", "both"], default="both",
                     help="the fused fast path, the ExecuTorch-op graph, or both side by side")
    mdl.add_argument("--golden", action="append", default=[], metavar="FILE",
                     help="a model golden (tests_e2e/goldens/model_*.safetensors) to check greedy tokens and logits")
    mdl.add_argument("--shape", choices=sorted(SHAPES), help="instead of the bundle's model (its tokenizer is "
                     "kept), one of real shapes with random weights (pyapp.runtime.bench.model_bench.SHAPES)")
    mdl.add_argument("--mix", choices=sorted(MIXES), default="q4_k_m", help="--shape: how its tensors are stored")
    mdl.add_argument("--prompt-tokens", type=int, default=32)
    mdl.add_argument("--steps", type=int, default=64, help="decode steps")
    mdl.add_argument("--context", type=int, default=2048, help="KV cache positions")
    mdl.add_argument("--prefill-rows", type=int, default=None, metavar="N",
                     help="rows of the prefill graphs, the largest prompt chunk (default: 512 on GPUs, 128 on CPUs)")
    mdl.add_argument("--profile", action="store_true")
    mdl.add_argument("--style", choices=["lanes", "workgroups", "subgroups"], help="force a kernel style")
    mdl.add_argument("--json", action="store_true")
    for p in (b, mdl):
        p.add_argument("--tune", action="append", default=[], metavar="NAME=INT",
                       help="set a tuning constant of pyapp.runtime.ops: _fused.WG, _fused.WIDE_LOADS, "
                            "attention.NSPLIT, norm_linear.TEAM_CPS, ...")
    rp = sub.add_parser("repack", help="a GGUF repacked on this GPU as the page does, against the exporter")
    rp.add_argument("gguf", type=Path, nargs="+")
    rp.add_argument("--repeat", type=int, default=3, help="repacks timed (the best is shown)")
    rp.add_argument("--blocks", action="store_true", help="Q4_K kept as the file's blocks, as for the fused path")
    args = ap.parse_args(argv)
    if args.cmd == "repack":
        sys.exit(asyncio.run(repack(args.gguf, args.repeat, args.blocks)))
    for item in getattr(args, "tune", []):
        name, _, value = item.partition("=")
        try:
            set_constants({name: int(value)})
        except ValueError as e:
            ap.error(f"--tune {item}: {e}")
    if args.cmd == "model":
        try:
            rows = asyncio.run(model_run(args.bundle, args))
        except OpError as e:  # a model the asked path cannot run
            sys.exit(f"pyapp.native model: {e}")
        for r in rows:
            print(f"{r['path']:<6} {r['style']:<10} {r['dispatches']:>4} dispatches/token  prepare {r['prepare_s']:.2f} s  "
                  f"prefill {r['prefill_tok_s']:8.1f} tok/s  decode {r['decode_tok_s']:7.1f} tok/s "
                  f"({r['tokens']} tokens, {r['submits']} submits)")
            if "sampled_decode_tok_s" in r:
                print(f"       sampled decode (T 0.7, top-k 40, top-p 0.95, repeat 1.1/64) "
                      f"{r['sampled_decode_tok_s']:7.1f} tok/s")
            for gold in r.get("golden", []):
                print(f"   {gold['file']}: tokens {'match' if gold['tokens_match'] else 'DIFFER'}, "
                      f"max |logit err| {gold['max_abs_logit_err']:.2e}")
            if r["kernels"]:
                print(format_table(KernelTally.of(r["kernels"]).stats()))
        if len(rows) == 2 and rows[1]["decode_tok_s"]:
            a, b = rows
            print(f"fused / ops: decode x{a['decode_tok_s'] / b['decode_tok_s']:.2f}, "
                  f"prefill x{a['prefill_tok_s'] / b['prefill_tok_s']:.2f}")
        if args.json:
            print(json.dumps(rows))
        return
    if args.cmd == "check":
        sys.exit(asyncio.run(check(args.dirs)))
    from ..runtime.bench import op_bench

    async def bench():
        dev = await NativeDevice.open()
        return (dev.info, await op_bench.run(dev, args.repeat, large=args.large),
                await op_bench.pass_modes(dev, args.repeat))

    info, rows, passes = asyncio.run(bench())
    op_bench.print_table(info, rows, passes, args.repeat)
    if args.json:
        print(json.dumps({"adapter": info, "rows": rows, "passes": passes}))


if __name__ == "__main__":
    main()
