"""The model's fused kernels on a golden case (make_goldens.py fused_*), run inside the page.

A case file holds the inputs, a weight arena (bytes) with its matrices' placements (metadata
"spec"), and the expected outputs computed in numpy fp64. `run_fused` builds the one-op graph in
a given kernel style and returns the outputs (base64 f32) for the test to compare.
"""

import json

from e2e import b64, device, golden

from pyapp.runtime import ops
from pyapp.runtime.graph.graph import Graph
from pyapp.runtime.model.weights import Placed


def _const(g, f, name, dtype="f32"):
    return g.constant(name, f[name].shape, dtype, f[name].view)


async def run_fused(case: str, style: str) -> dict:
    f = await golden(case)
    g = Graph(device(), case.split("/")[-1], kernel_style=style)
    if f.metadata["op"] == "attention":
        return await _attention(g, f)
    spec = json.loads(f.metadata["spec"])
    op, rows_n, eps = spec["op"], spec["rows"], spec["eps"]
    arena = g.constant("arena", (f["arena"].shape[0] // 4,), "u32", f["arena"].view)
    mats = {name: Placed("arena", m["fmt"], m["n"], m["k"], m["group_size"], m["codes"], m.get("scales", 0),
                         m.get("offsets", 0), m.get("pn", 8))
            for name, m in spec["mats"].items() if "fmt" in m}
    gamma = spec["mats"].get("gamma", {}).get("codes", 0)
    rows = g.symint("rows", rows_n)
    outs = {}
    if op == "residual_linear":
        res = g.input("res", f["res"].shape)
        outs["expected"] = g.output(ops.residual_linear(g, res, g.input("a", f["a"].shape), arena, mats["W"], rows))
        inputs = {"res": f["res"].view, "a": f["a"].view}
    elif op == "swiglu":
        x = g.input("x", f["x"].shape)
        outs["expected"] = g.output(ops.swiglu(g, x, arena, gamma, mats["gate"], mats["up"], rows, eps=eps, name="h"))
        inputs = {"x": f["x"].view}
    elif op == "norm_linear":
        x = g.input("x", f["x"].shape)
        outs["expected"] = g.output(ops.norm_linear(g, x, arena, gamma, mats["W"], g.symint("first", spec["first"]),
                                                    g.symint("one", 1), eps=eps, name="logits"))
        inputs = {"x": f["x"].view}
    else:  # qkv_rope: the RoPE tables (cos, then sin) from the runtime's own float64 helper
        d, pos = spec["head_dim"], spec["pos"]
        cmax = f["expected_k_cache"].shape[0]
        cos, sin = ops.rope_tables(cmax, d, spec["theta"])
        rope = g.constant("rope", (2, cmax, d // 2), "f32", cos.tobytes() + sin.tobytes())
        kc, vc = (g.state(n, (cmax, mats["k"].n)) for n in ("k_cache", "v_cache"))
        x = g.input("x", f["x"].shape)
        outs["expected"] = g.output(ops.qkv_rope(g, x, arena, gamma, mats["q"], mats["k"], mats["v"], kc, vc, rope,
                                                 g.symint("input_pos", pos), rows, head_dim=d, eps=eps, name="l0"))
        outs["expected_k_cache"], outs["expected_v_cache"] = g.output(kc), g.output(vc)
        inputs = {"x": f["x"].view}
    await g.prepare()
    got = await g.execute(inputs)
    return {key: b64(got[t.name]) for key, t in outs.items()}


async def _attention(g, f) -> dict:
    q = g.input("q", f["q"].shape)
    kc, vc = (g.state(n, f[n].shape, "f32", f[n].view) for n in ("k_cache", "v_cache"))
    hq, hkv = int(f.metadata["hq"]), int(f.metadata["hkv"])
    out = g.output(ops.attention(g, q, kc, vc, g.symint("input_pos", int(f.metadata["input_pos"])),
                                 g.symint("rows", q.shape[0]), n_heads=hq, n_kv_heads=hkv, name="attn"))
    await g.prepare()
    return {"expected": b64((await g.execute({"q": f["q"].view}))[out.name])}
