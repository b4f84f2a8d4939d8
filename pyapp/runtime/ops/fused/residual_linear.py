"""residual_linear: res += a @ W^T, a projection with the residual add in its epilogue.

res (S, N) f32, updated in place (the residual stream); a (S, K) f32; W (N, K) a `Placed`
matrix in the layer's arena. rows is the SymInt of live rows. accumulate=False writes res = a @ W^T
(Gemma norms each projection before adding it).
"""

from .._checks import OpError
from ._fused import FUSED_CONSTANTS, check_mat, dispatch, expect_rows, mat_constants

SHADERS = {"residual_linear": FUSED_CONSTANTS + ("N", "ACCUMULATE") + mat_constants("A")}
# Columns per team in decode. Narrow outputs (SmolLM2's 576) want many teams in flight: one
# column each. From WIDE_N columns up there are teams enough with four, and four columns a team
# read a group's four scales as one 16-byte piece of the (G, padded N) table: 8192x8192 q4gsw
# 0.089 -> 0.043 ms natively on the H200, with WIDE reads.
TEAM_CPS = 1
WIDE_CPS = 4
WIDE_N = 2048


def residual_linear(graph, res, a, arena, weight, rows, accumulate: bool = True):
    op = "residual_linear"
    s, k = a.shape
    expect_rows(op, "a", a, k)
    expect_rows(op, "res", res, weight.n)
    check_mat(op, "W", weight, k)
    if res.shape[0] != s:
        raise OpError(f"{op}: res {res!r} and a {a!r} differ in rows")
    dispatch(graph, op, writes=[res], reads=[a, arena, arena], uniforms=[rows], ncols=weight.n, rows_max=s, rows=rows,
             k=k, cps=WIDE_CPS if weight.n >= WIDE_N else TEAM_CPS, weights=(weight,),
             constants={"N": weight.n, "ACCUMULATE": accumulate, **weight.constants("A")})
    return res
