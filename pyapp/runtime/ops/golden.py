"""An op's graph built from a golden case file (tests_e2e/goldens/, .cache/goldens/): the page's
e2e tests and `python -m pyapp.native check` build the same graph from the same file.

A case is its tensors {name: (shape, dtype, data)} (data: bytes, or a JS typed array in the
page) and its metadata {str: str} (`op`, `group_size`, `input_pos`). Expected values stay in the
file: the caller compares on the host.
"""

from __future__ import annotations

from ..graph.graph import Graph


def linear_graph(device, tensors: dict, meta: dict, name: str | None = None, **graph_options):
    """x -> linear_* -> out: (graph, inputs, out)."""
    from .. import ops

    op = meta["op"]
    g = Graph(device, name or op, **graph_options)

    def const(n, dtype=None):
        shape, dt, data = tensors[n]
        return g.constant(n, shape, dtype or dt, data)
    x = g.input("x", tensors["x"][0])
    weight = const("weight")
    bias = const("bias", "f32") if "bias" in tensors else None
    if op == "linear_f32":
        out = ops.linear_f32(g, x, weight, bias=bias)
    else:
        tables = [const(n, "f32") for n in ("scales", "offsets") if n in tensors]
        out = getattr(ops, op)(g, x, weight, *tables, int(meta["group_size"]), bias=bias)
    return g, {"x": tensors["x"][2]}, g.output(out)


def sdpa_graph(device, tensors: dict, meta: dict, name: str = "sdpa", caches_as_inputs: bool = False,
               **graph_options):
    """One sdpa_with_kv_cache step: (graph, inputs, out, caches). The caches live in the graph
    (state) or, as ExecuTorch also allows, come in as graph inputs written before the step; they
    are outputs too where the file holds their expected values."""
    from .. import ops

    g = Graph(device, name, **graph_options)
    q, k, v = (g.input(n, tensors[n][0]) for n in "qkv")
    cache_names = ("k_cache", "v_cache")
    if caches_as_inputs:
        caches = [g.input(n, tensors[n][0]) for n in cache_names]
    else:
        caches = [g.state(n, tensors[n][0], "f32", tensors[n][2]) for n in cache_names]
    pos = g.symint("input_pos", int(meta["input_pos"]))
    out = g.output(ops.sdpa_with_kv_cache(g, q, k, v, *caches, pos, q.shape[1]))
    if "expected_k_cache" in tensors:
        for c in caches:
            g.output(c)
    inputs = {n: tensors[n][2] for n in ("q", "k", "v", *(cache_names if caches_as_inputs else ()))}
    return g, inputs, out, caches
