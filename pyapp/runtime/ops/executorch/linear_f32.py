"""linear_f32: out = x @ weight.T + bias with fp32 weights (N, K): GGUF F32/F16 matrices.

Not quantized, so no group tables; same calling shape and live rows as the quantized linears.
"""

from math import prod

from .._checks import OpError, check_bias, expect_tensor, live_rows, workgroups

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
    check_bias(op, bias, n)
    out = graph.scratch(name or f"{op}#{len(graph.dispatches)}.out", (*x.shape[:-1], n))
    params = graph.uniform(f"{op}#{len(graph.dispatches)}.params", m=m)
    d = graph.dispatch(op, shader=op, writes=[out], reads=[x, weight, bias if bias is not None else graph.placeholder()],
                       uniforms=[params], constants={"N": n, "K": k, "HAS_BIAS": bias is not None, "WG": WG})
    live_rows(graph, op, d, params, rows, m, x, lambda r: workgroups(n * r, WG))
    return out
