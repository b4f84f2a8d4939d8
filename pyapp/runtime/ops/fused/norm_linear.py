"""norm_linear: out = RMSNorm(x[first]) @ W^T for one row: the final norm and the LM head, fused.

x (S, K) f32; `first` a SymInt (the last real row of a prefill); the arena holds the norm
weight (K,) f32 and W (N, K); out (1, N) f32.
"""

from ._fused import FUSED_CONSTANTS, check_mat, dispatch, expect_rows, mat_constants

SHADERS = {"norm_linear": FUSED_CONSTANTS + ("N",) + mat_constants("A")}
TEAM_CPS = 4  # columns per team in decode: each load of the normed x serves four vocabulary rows


def norm_linear(graph, x, arena, gamma, weight, first, one, *, eps: float, name: str):
    """one: a SymInt holding 1 (the kernel computes one row)."""
    op = "norm_linear"
    s, k = x.shape
    expect_rows(op, "x", x, k)
    check_mat(op, "W", weight, k)
    out = graph.scratch(f"{name}", (1, weight.n))  # (1, N) f32
    dispatch(graph, op, writes=[out], reads=[x, arena, arena], uniforms=[first], ncols=weight.n, rows_max=1, rows=one,
             k=k, cps=TEAM_CPS, norm=True, eps=eps, weights=(weight,),
             constants={"N": weight.n, "GAMMA": gamma, **weight.constants("A")})
    return out
