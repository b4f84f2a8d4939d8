"""rms_norm(x, weight, eps): out[r] = x[first + r] / sqrt(mean(x^2) + eps) * weight, r < rows.

x (S, dim) f32; weight (dim,) f32; out (rows_max, dim) f32. `rows` and `first` may be SymInts:
the final norm of a prefill takes one row, the last real one. Real GPUs (graph.kernel_style
other than "lanes") get a workgroup per row; CPU Vulkan one invocation per row.
"""

from .._checks import OpError, expect_tensor, live, on_change, workgroups

SHADERS = {"rms_norm": ("DIM", "EPS", "WG", "REDUCE")}
WG = 64
REDUCE_WG = 256


def rms_norm(graph, x, weight, eps: float, rows=None, first=0, out_rows: int | None = None, name=None):
    op = "rms_norm"
    expect_tensor(op, "x", x, "f32", 2)
    expect_tensor(op, "weight", weight, "f32", 1)
    s, dim = x.shape
    if weight.shape != (dim,):
        raise OpError(f"{op}: weight {weight!r} must be ({dim},) to match x {x!r}")
    rows = s if rows is None else rows
    out = graph.scratch(name or f"{op}#{len(graph.dispatches)}.out", (out_rows or s, dim))
    params = graph.uniform(f"{op}#{len(graph.dispatches)}.params", first=0, rows=0)
    reduce = graph.kernel_style != "lanes"
    d = graph.dispatch(op, shader=op, writes=[out], reads=[x, weight], uniforms=[params],
                       constants={"DIM": dim, "EPS": float(eps), "WG": REDUCE_WG if reduce else WG, "REDUCE": reduce})

    def resize():
        r, f = live(rows), live(first)
        if f < 0 or f + r > s or r > out.shape[0]:
            raise OpError(f"{op}: rows {f}..{f + r} do not fit x {x!r} / out {out!r}")
        params.set(first=f, rows=r)
        d.set_workgroups(r if reduce else workgroups(r, WG))

    on_change(graph, (rows, first), resize)
    return out
