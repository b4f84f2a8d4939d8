"""linear_f32: out = x @ weight.T + bias with fp32 weights (N, K): GGUF F32/F16 matrices.

Not quantized, so no group tables; same calling shape and live rows as the quantized linears.
"""

from math import prod

from ._checks import OpError, expect_tensor, live, on_change, workgroups

SHADERS = {"linear_f32": ("N", "K", "HAS_BIAS", "WG")}
WG = 64


def linear_f32(graph, x, weight, bias=None, name=None, rows=None):
    op = "linear_f32"
    expect_tensor(op, "x", x, "f32")
    expect_tensor(op, "weight", weight, "f32", 2)
    n, k = weight.shape
    m = prod(x.shape[:-1])
    if x.shape[-1] != k or m == 0 or n == 0 or k == 0:
        raise OpError(f"{op}: x {x!r} and weight {weight!r} do not make an (M, K) x (N, K)^T product")
    if bias is not None:
        expect_tensor(op, "bias", bias, "f32")
        if prod(bias.shape) < n:
            raise OpError(f"{op}: bias {bias!r} has fewer than N={n} elements")
    out = graph.scratch(name or f"{op}#{len(graph.dispatches)}.out", (*x.shape[:-1], n))
    params = graph.uniform(f"{op}#{len(graph.dispatches)}.params", m=m)
    d = graph.dispatch(op, shader=op, writes=[out], reads=[x, weight, bias if bias is not None else graph.placeholder()],
                       uniforms=[params], constants={"N": n, "K": k, "HAS_BIAS": bias is not None, "WG": WG})
    rows = m if rows is None else rows

    def resize():
        r = live(rows)
        if not 0 <= r <= m:
            raise OpError(f"{op}: rows {r} must be within 0..{m} (x {x!r})")
        params.set(m=r)
        d.set_workgroups(workgroups(n * r, WG))

    on_change(graph, (rows,), resize)
    return out
