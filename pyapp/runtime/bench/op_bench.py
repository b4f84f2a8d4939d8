"""Op benchmarks at SmolLM2's shapes, on any host: the page (`python -m pyapp.bench_ops`) or
native wgpu (`python -m pyapp.native bench`).

Weights are filled with a constant pattern (values do not change the work), each case is one
graph built and prepared once, then executed `repeat` times: wall clock per step (readback
included) and GPU time from the timestamp queries.
"""

from __future__ import annotations

from array import array

from ..ops import formats
from .. import ops
from ..graph.graph import Graph
from ..gpu.buffers import itemsize, nbytes
from ..gpu.profiler import summarize

try:  # in the page: JS typed arrays filled in JS, the page's clock
    import js

    def _filled(n: int, dtype: str, value):
        return {"u8": js.Uint8Array, "f32": js.Float32Array}[dtype].new(n).fill(value)

    def _now_ms() -> float:
        return js.performance.now()
except ImportError:  # native host
    import time

    def _filled(n: int, dtype: str, value):
        return array({"u8": "B", "f32": "f"}[dtype], [value]) * n

    def _now_ms() -> float:
        return time.perf_counter() * 1e3


def _linear(g: Graph, op: str, m: int, k: int, n: int, gs: int = 32):
    x = g.input("x", (m, k))
    stored = formats.stored("w", op.removeprefix("linear_"), (n, k), gs)  # codes, then scales [, offsets]
    parts = [g.constant(name, shape, dtype, _filled(nbytes(shape, dtype) // itemsize(dtype), dtype,
                                                    0x5A if dtype == "u8" else 0.01))
             for name, (shape, dtype) in stored.items()]
    g.output(getattr(ops, op)(g, x, *parts, gs))
    return {"x": _filled(m * k, "f32", 0.5)}


def _fused_linear(g: Graph, k: int, n: int, fmt: str = "q4gsw", gs: int = 32, head: bool = False):
    """The model's fused residual_linear (res += a @ W^T) on W in an arena; or with `head`, its
    norm_linear (the final norm and the LM head: out = RMSNorm(a) @ W^T). The arena is placed as
    a model's (formats.plan_arenas): W's parts, then the norm's weight."""
    from ..model.weights import Placed

    stored = {**formats.stored("w", fmt, (n, k), gs), "gamma": ((k,), "f32")}
    where, sizes = formats.plan_arenas(stored)
    words = {name.rpartition(".")[2]: at // 4 for name, (_, at) in where.items()}
    arena = g.constant("arena", (sizes["model"] // 4,), "u32", _filled(sizes["model"], "u8", 0x11))
    pn = stored["w.scales"][0][1] if "w.scales" in stored else 8
    w = Placed("w", fmt, n, k, gs, words["qweight"], words.get("scales", 0), words.get("offsets", 0), pn)
    a = g.input("a", (1, k))
    if head:
        one = g.symint("one", 1)
        g.output(ops.norm_linear(g, a, arena, words["gamma"], w, g.symint("first", 0), one, eps=1e-5, name="logits"))
        return {"a": _filled(k, "f32", 0.5)}
    res = g.input("res", (1, n))
    g.output(ops.residual_linear(g, res, a, arena, w, g.symint("rows", 1)))
    return {"res": _filled(n, "f32", 0.0), "a": _filled(k, "f32", 0.5)}


def _sdpa(g: Graph, s: int, hq: int, hkv: int, d: int, cmax: int, pos: int):
    q = g.input("q", (1, s, hq, d))
    k, v = g.input("k", (1, s, hkv, d)), g.input("v", (1, s, hkv, d))
    caches = [g.state(n, (1, cmax, hkv, d)) for n in ("k_cache", "v_cache")]
    g.output(ops.sdpa_with_kv_cache(g, q, k, v, *caches, g.symint("input_pos", pos), s))
    return {"q": _filled(s * hq * d, "f32", 0.1), "k": _filled(s * hkv * d, "f32", 0.1),
            "v": _filled(s * hkv * d, "f32", 0.1)}


# SmolLM2-135M shapes: dim 576, FFN 1536, 9 query / 3 kv heads of 64, vocab 49152.
CASES = [
    ("linear_q4gsw", "M=1 576->576 (q/o proj)", lambda g: _linear(g, "linear_q4gsw", 1, 576, 576)),
    ("linear_q4gsw", "M=1 576->1536 (gate/up)", lambda g: _linear(g, "linear_q4gsw", 1, 576, 1536)),
    ("linear_q4gsw", "M=1 1536->576 (down)", lambda g: _linear(g, "linear_q4gsw", 1, 1536, 576)),
    ("linear_q4gsw", "M=64 576->1536 (prefill)", lambda g: _linear(g, "linear_q4gsw", 64, 576, 1536)),
    ("linear_q4gaw", "M=1 576->1536 (Q4_1)", lambda g: _linear(g, "linear_q4gaw", 1, 576, 1536)),
    ("linear_q8gsw", "M=1 576->49152 (LM head)", lambda g: _linear(g, "linear_q8gsw", 1, 576, 49152)),
    ("sdpa_with_kv_cache", "decode S=1 pos=511 Cmax=2048", lambda g: _sdpa(g, 1, 9, 3, 64, 2048, 511)),
    ("sdpa_with_kv_cache", "prefill S=64 pos=0 Cmax=2048", lambda g: _sdpa(g, 64, 9, 3, 64, 2048, 0)),
]


# LLM-sized shapes for real GPUs (pyapp.native bench --large): weight bytes dominate.
LARGE_CASES = [
    ("linear_q4gsw", "M=1 4096->4096", lambda g: _linear(g, "linear_q4gsw", 1, 4096, 4096)),
    ("linear_q4gsw", "M=1 8192->8192", lambda g: _linear(g, "linear_q4gsw", 1, 8192, 8192)),
    ("residual_linear", "M=1 8192->8192 (fused, q4gsw)", lambda g: _fused_linear(g, 8192, 8192)),
    ("residual_linear", "M=1 8192->8192 (fused, q4k blocks)", lambda g: _fused_linear(g, 8192, 8192, "q4k")),
    ("residual_linear", "M=1 4096->14336 (fused, q4gaw)", lambda g: _fused_linear(g, 4096, 14336, "q4gaw")),
    ("residual_linear", "M=1 4096->14336 (fused, q4k blocks)", lambda g: _fused_linear(g, 4096, 14336, "q4k")),
    ("residual_linear", "M=1 14336->4096 (fused, q8gsw/16)", lambda g: _fused_linear(g, 14336, 4096, "q8gsw", 16)),
    ("residual_linear", "M=1 14336->4096 (fused, q6k blocks)", lambda g: _fused_linear(g, 14336, 4096, "q6k", 16)),
    ("norm_linear", "M=1 4096->128256 (fused head, q8gsw/16)",
     lambda g: _fused_linear(g, 4096, 128256, "q8gsw", 16, head=True)),
    ("norm_linear", "M=1 4096->128256 (fused head, q6k blocks)",
     lambda g: _fused_linear(g, 4096, 128256, "q6k", 16, head=True)),
    ("linear_q4gsw", "M=128 4096->4096 (prefill)", lambda g: _linear(g, "linear_q4gsw", 128, 4096, 4096)),
    ("linear_q8gsw", "M=1 4096->128256 (LM head)", lambda g: _linear(g, "linear_q8gsw", 1, 4096, 128256)),
    ("sdpa_with_kv_cache", "decode Hq=32 Hkv=8 pos=4095", lambda g: _sdpa(g, 1, 32, 8, 128, 4096, 4095)),
]


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0.0


async def _time(g: Graph, inputs: dict, repeat: int, warmup: int = 2):
    for _ in range(warmup):
        await g.execute(inputs)
    walls, gpus = [], []
    for _ in range(repeat):
        t0 = _now_ms()
        await g.execute(inputs)
        walls.append(_now_ms() - t0)
        gpus.append(sum(r.duration_ns for r in g.last_profile) / 1e6)  # 0 when not profiling
    return walls, gpus


async def run(device, repeat: int = 10, only: str | None = None, large: bool = False) -> list[dict]:
    rows = []
    for op, shape, build in CASES + (LARGE_CASES if large else []):
        if only and only not in op:
            continue
        g = Graph(device, op, profile=True)
        inputs = build(g)
        await g.prepare()
        walls, gpus = await _time(g, inputs, repeat)
        kernels = {s.kernel: s.total_ns for s in summarize(g.last_profile)}
        weight_bytes = sum(nbytes(t.shape, t.dtype) for t in g.tensors.values() if t.role == "const")
        rows.append({"op": op, "shape": shape, "wall_ms": _median(walls), "gpu_ms": _median(gpus),
                     "dispatches": len(g.dispatches), "kernels": kernels, "weight_bytes": weight_bytes})
    return rows


async def pass_modes(device, repeat: int = 10) -> dict:
    """Profiling off: the SDPA decode step with one pass per dispatch vs one pass for all."""
    out = {}
    for single in (False, True):
        g = Graph(device, "sdpa", single_pass=single)
        inputs = _sdpa(g, 1, 9, 3, 64, 2048, 511)
        await g.prepare()
        walls, _ = await _time(g, inputs, repeat)
        out["single_pass" if single else "pass_per_dispatch"] = _median(walls)
    return out


def print_table(info: dict, rows: list[dict], passes: dict, repeat: int):
    print(f"adapter: {info['vendor']} / {info['architecture'] or info['device']}  ({repeat} timed steps per case)")
    print(f"{'op':<20} {'case':<40} {'wall ms':>9} {'gpu ms':>9} {'passes':>6} {'weights TB/s':>12}")
    for r in rows:
        rate = r["weight_bytes"] / r["gpu_ms"] / 1e9 if r["gpu_ms"] else 0.0
        print(f"{r['op']:<20} {r['shape']:<40} {r['wall_ms']:>9.3f} {r['gpu_ms']:>9.3f} {r['dispatches']:>6} "
              f"{rate:>12.2f}")
    print(f"sdpa decode, profiling off: {passes['pass_per_dispatch']:.3f} ms with a pass per dispatch, "
          f"{passes['single_pass']:.3f} ms in one pass")
