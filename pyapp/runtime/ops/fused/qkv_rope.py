"""qkv_rope: RMSNorm, the Q/K/V projections, RoPE and the KV-cache write of one layer, fused.

x (S, K) f32 (rows < `rows` live); the layer's arena holds the norm weight (K,) f32 and the
three matrices (any formats of runtime/ops/formats.py), and with `biases` (Qwen2) the three bias
vectors; q (S, Hq*D) f32 out; k_cache / v_cache (Cmax, Hkv*D) f32, written in place at
positions input_pos + m; rope (2, Cmax, D/2) f32 cos then sin (`rope_tables`). rope=False
leaves q and k unrotated for qk_norm_rope (Qwen3 norms each head first). input_pos and rows are
SymInts the kernel reads: nothing is rewritten per step.
"""

from .._checks import OpError, expect_tensor
from . import _fused
from ._fused import FUSED_CONSTANTS, check_mat, dispatch, expect_rows, mat_constants, reads_wide

SHADERS = {"qkv_rope": FUSED_CONSTANTS + ("NQ", "NKV", "HD", "CMAX", "ROPE", "HAS_BIAS", "Q_BIAS",
                                          "K_BIAS", "V_BIAS") + mat_constants("Q") + mat_constants("K")
           + mat_constants("V")}


def qkv_rope(graph, x, arena, gamma, wq, wk, wv, k_cache, v_cache, rope, input_pos, rows, *, head_dim: int,
             eps: float, name: str, biases=None, apply_rope: bool = True):
    """gamma: the norm weight's word offset in `arena`; wq, wk, wv: `Placed` matrices in it;
    biases: None or the word offsets of the q, k and v bias vectors in it."""
    op = "qkv_rope"
    s, k = x.shape
    expect_rows(op, "x", x, k)
    for label, m in (("q", wq), ("k", wk), ("v", wv)):
        check_mat(op, label, m, k)
    nq, nkv = wq.n, wk.n
    if wv.n != nkv or nq % head_dim or nkv % head_dim or head_dim % 2:
        raise OpError(f"{op}: q/k/v rows {nq}/{nkv}/{wv.n} must be whole heads of an even head dim {head_dim}")
    cmax = k_cache.shape[0]
    for label, t in (("k_cache", k_cache), ("v_cache", v_cache)):
        expect_tensor(op, label, t, "f32", 2)
        if t.shape != (cmax, nkv):
            raise OpError(f"{op}: {label} {t!r} must be ({cmax}, {nkv})")
    expect_tensor(op, "rope", rope, "f32", 3)
    if rope.shape != (2, cmax, head_dim // 2):
        raise OpError(f"{op}: rope {rope!r} must be (2, {cmax}, {head_dim // 2})")
    q = graph.scratch(f"{name}.q", (s, nq))  # (S, Hq*D) f32
    # one RoPE pair an item, or two where teams read wide (4 | head_dim keeps an item in one head)
    cps = _fused.WIDE_TEAM_CPS if head_dim % 4 == 0 and reads_wide(graph, s, k, (wq, wk, wv), gamma) else 2
    dispatch(graph, op, writes=[q, k_cache, v_cache], reads=[x, arena, arena, rope], uniforms=[input_pos, rows],
             ncols=nq + 2 * nkv, rows_max=s, rows=rows, k=k, cps=cps, norm=True, eps=eps,
             weights=(wq, wk, wv), tiles_fit=head_dim % 4 == 0,
             constants={"NQ": nq, "NKV": nkv, "HD": head_dim, "CMAX": cmax, "GAMMA": gamma, "ROPE": apply_rope,
                        "HAS_BIAS": biases is not None, **dict(zip(("Q_BIAS", "K_BIAS", "V_BIAS"), biases or (0, 0, 0))),
                        **wq.constants("Q"), **wk.constants("K"), **wv.constants("V")})
    return q
