"""Helpers the e2e tests use inside the page (copied into Pyodide's file system at boot)."""

import base64

from pyapp.runtime.page import app, bundle

_files: dict = {}


async def golden(name: str):
    """A golden file from the server's /files/goldens/ mount (or an extra mount), cached."""
    if name not in _files:
        _files[name] = await bundle.fetch_file(f"/files/{name}.safetensors")
    return _files[name]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def device():
    return app.page.device


def created() -> dict:
    return dict(app.page.device.created)


def axpb_graph(wgsl: str, n: int, scale: float, *, chain: int = 1, dev=None, **graph_options):
    """x -> axpb -> ... (chain times) -> out with the user kernel tests_e2e/kernels/axpb_pos.wgsl.

    Intermediates are scratch tensors, so a chain of 4 exercises buffer sharing.
    """
    from math import ceil

    from pyapp.runtime.graph.graph import Graph

    g = Graph(dev or device(), f"axpb{chain}", **graph_options)
    src = g.input("x", (n,))
    pos = g.symint("pos", 0)
    count = g.uniform("n", n=n)
    for i in range(chain):
        dst = g.scratch("out" if i == chain - 1 else f"t{i}", (n,))
        g.dispatch("axpb_pos", source=wgsl, writes=[dst], reads=[src], uniforms=[pos, count],
                   workgroups=ceil(n / 64), constants={"WG": 64, "SCALE": scale})
        src = dst
    g.output(src)
    return g


def case(f) -> dict:
    """A golden file's tensors as pyapp.runtime.ops.golden takes them."""
    return {n: (t.shape, t.dtype, t.view) for n, t in f.tensors.items()}


async def run_linear(case_name: str, kernel_style: str | None = None) -> str:
    """Build x -> op -> out from a linear golden file; returns the output (base64 f32)."""
    from pyapp.runtime.ops.golden import linear_graph

    f = await golden(case_name)
    g, inputs, out = linear_graph(device(), case(f), f.metadata, kernel_style=kernel_style)
    await g.prepare()
    return b64((await g.execute(inputs))[out.name])


async def run_sdpa(case_name: str, profile: bool = False, kernel_style: str | None = None,
                   caches_as_inputs: bool = False) -> dict:
    """One sdpa_with_kv_cache step from a golden file (pyapp.runtime.ops.golden.sdpa_graph)."""
    from pyapp.runtime.ops.golden import sdpa_graph

    f = await golden(case_name)
    g, inputs, out, caches = sdpa_graph(device(), case(f), f.metadata, profile=profile, kernel_style=kernel_style,
                                        caches_as_inputs=caches_as_inputs)
    await g.prepare()
    got = await g.execute(inputs)
    return {"out": b64(got[out.name]), "caches": {c.name: b64(got[c.name]) for c in caches if c.name in got},
            "labels": [r.kernel_name for r in g.last_profile],
            "reduce": any(d.constants.get("REDUCE") for d in g.dispatches)}


async def run_replay(case: str, *, fed: bool = False, pin: int | None = None, fresh: bool = False) -> dict:
    """Replay a golden's steps (live seq_len) on ONE graph with in-graph caches.

    fed: input_pos comes from an int64 graph input; pin: always use this input_pos (a control
    that must diverge); fresh: a new graph (empty caches) per step (a control that must diverge).
    """
    import struct

    from pyapp.runtime import ops
    from pyapp.runtime.graph.graph import Graph

    f = await golden(case)
    steps = [int(s) for s in f.metadata["steps"].split(",")]
    hq, hkv, d, cmax = (int(f.metadata[k]) for k in ("hq", "hkv", "d", "cmax"))
    s_max = max(steps)

    def build():
        g = Graph(device(), "replay")
        q = g.input("q", (1, s_max, hq, d), dynamic=True)
        k, v = (g.input(n, (1, s_max, hkv, d), dynamic=True) for n in "kv")
        caches = [g.state(n, (1, cmax, hkv, d)) for n in ("k_cache", "v_cache")]
        if fed:
            g.input("input_pos", (1,), "i64")
        pos = g.symint("input_pos", 0, source="input_pos" if fed else None)
        seq = g.symint("seq_len", steps[0])
        out = g.output(ops.sdpa_with_kv_cache(g, q, k, v, *caches, pos, seq))
        return g, pos, seq, out

    g, pos, seq, out = build()
    await g.prepare()
    graphs, outs, start = 1, [], 0
    before = created()
    for i, s in enumerate(steps):
        if fresh and i:
            g, pos, seq, out = build()
            await g.prepare()
            graphs += 1
        seq.set(s)
        at = start if pin is None else pin
        inputs = {n: f[f"{n}{i}"].view for n in "qkv"}
        if fed:
            inputs["input_pos"] = struct.pack("<q", at)
        else:
            pos.set(at)
        got = await g.execute(inputs)
        outs.append(b64(got[out.name][: s * hq * d * 4]))
        start += s
    after = created()
    return {"outs": outs, "graphs": graphs, "new_objects": {k: after[k] - before.get(k, 0) for k in after}}
