"""swiglu: RMSNorm and the feed-forward's gate and up projections with silu(gate) * up, fused.

x (S, K) f32; the layer's arena holds the norm weight (K,) f32 and the gate and up matrices
(N, K); out (S, N) f32. rows is the SymInt of live rows.
"""

from .._checks import OpError
from ..executorch.silu_mul import ACTIVATIONS
from . import _fused
from ._fused import FUSED_CONSTANTS, check_mat, dispatch, expect_rows, mat_constants, reads_wide

SHADERS = {"swiglu": FUSED_CONSTANTS + ("N", "ACT") + mat_constants("A") + mat_constants("B")}


def swiglu(graph, x, arena, gamma, gate, up, rows, *, eps: float, name: str, act: str = "silu"):
    """act "gelu_tanh": gelu(gate) * up, Gemma's GeGLU."""
    op = "swiglu"
    if act not in ACTIVATIONS:
        raise OpError(f"{op}: activation {act!r} is not one of {sorted(ACTIVATIONS)}")
    s, k = x.shape
    expect_rows(op, "x", x, k)
    check_mat(op, "gate", gate, k)
    check_mat(op, "up", up, k)
    if gate.n != up.n:
        raise OpError(f"{op}: gate ({gate.n} rows) and up ({up.n} rows) differ")
    out = graph.scratch(f"{name}.out", (s, gate.n))  # (S, N) f32
    cps = _fused.WIDE_TEAM_CPS if reads_wide(graph, s, k, (gate, up), gamma) else 2
    dispatch(graph, op, writes=[out], reads=[x, arena, arena], uniforms=[rows], ncols=gate.n, rows_max=s, rows=rows,
             k=k, cps=cps, mats=2, norm=True, eps=eps, weights=(gate, up),
             constants={"N": gate.n, "GAMMA": gamma, "ACT": ACTIVATIONS[act], **gate.constants("A"),
                        **up.constants("B")})
    return out
