"""sdpa_with_kv_cache: ExecuTorch's fused cache update + causal GQA attention, batch 1, fp32.

q (1, S, Hq, D); k, v (1, S, Hkv, D); k_cache, v_cache (1, Cmax, Hkv, D); out (1, S, Hq, D).
Five dispatches, each its own compute pass: update K, update V, QK -> attn weights, softmax,
AV -> out. Query head h reads kv head h // (Hq / Hkv); key c is masked for row s when
c > s + input_pos; scale defaults to 1/sqrt(D). sliding_window > 0 (ours, for Gemma's local layers)
also masks keys that many positions or more before the row; softcap > 0 (Gemma 2) caps each
score s at softcap * tanh(s / softcap). The attn-weights scratch is sized for Cmax
once. input_pos (and seq_len, when it is a SymInt: buffers then hold S_max = q.shape[1] rows)
are live: a resize hook rewrites the uniforms and workgroup counts; nothing is rebuilt.
"""

from math import sqrt

from ...graph.graph import SymInt
from .._checks import OpError, expect_tensor, live, on_change, workgroups
from .update_cache import check_pos, update_cache

SDPA_CONSTANTS = ("S_MAX", "HQ", "HKV", "D", "CMAX", "WG", "REDUCE")
SHADERS = {
    "sdpa_compute_attn_weights": SDPA_CONSTANTS + ("SCALE", "WINDOW", "SOFTCAP"),
    "sdpa_softmax": SDPA_CONSTANTS,
    "sdpa_compute_out": SDPA_CONSTANTS,
}
WG = 64
REDUCE_WG = 256  # real GPUs: softmax and AV share a workgroup per row (graph.kernel_style)


def _check(op, q, k, v, k_cache, v_cache, input_pos, seq_len, attn_mask, dropout_p):
    for label, t in (("q", q), ("k", k), ("v", v), ("k_cache", k_cache), ("v_cache", v_cache)):
        expect_tensor(op, label, t, "f32", 4)
        if t.shape[0] != 1:
            raise OpError(f"{op}: batch must be 1; {label} is {t!r}")
    if attn_mask is not None:
        raise OpError(f"{op}: attn_mask is not supported (the causal mask with input_pos is built in)")
    if dropout_p != 0.0:
        raise OpError(f"{op}: dropout_p must be 0 at inference, got {dropout_p}")
    if not isinstance(input_pos, SymInt):
        raise OpError(f"{op}: input_pos must be a SymInt (graph.symint), got {type(input_pos).__name__}")
    _, s_max, hq, d = q.shape
    _, cmax, hkv, _ = k_cache.shape
    if not isinstance(seq_len, SymInt) and seq_len != s_max:
        raise OpError(f"{op}: seq_len {seq_len} != q's sequence length {s_max} ({q!r}); "
                      "pass a SymInt for a live sequence length")
    for label, t in (("k", k), ("v", v)):
        if t.shape != (1, s_max, hkv, d):
            raise OpError(f"{op}: {label} {t!r} must be (1, {s_max}, {hkv}, {d}) to match q {q!r}")
    if v_cache.shape != k_cache.shape or k_cache.shape[3] != d:
        raise OpError(f"{op}: k_cache {k_cache!r} and v_cache {v_cache!r} must both be (1, Cmax, {hkv}, {d})")
    if hkv == 0 or hq % hkv:
        raise OpError(f"{op}: query heads {hq} must be a multiple of kv heads {hkv}")
    check_pos(op, input_pos.value, live(seq_len), s_max, cmax)


def sdpa_with_kv_cache(graph, q, k, v, k_cache, v_cache, input_pos: SymInt, seq_len, attn_mask=None,
                       dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                       name: str = "sdpa", sliding_window: int = 0, softcap: float = 0.0):
    op = "sdpa_with_kv_cache"
    _check(op, q, k, v, k_cache, v_cache, input_pos, seq_len, attn_mask, dropout_p)
    _, s_max, hq, d = q.shape
    _, cmax, hkv, _ = k_cache.shape

    update_cache(graph, k, k_cache, input_pos, seq_len, name=f"{name}.k_update")
    update_cache(graph, v, v_cache, input_pos, seq_len, name=f"{name}.v_update")
    node = len(graph.dispatches)
    attn = graph.scratch(f"{name}#{node}.attn_weights", (hq, s_max, cmax))  # (Hq, S_max, Cmax) f32, once
    out = graph.scratch(f"{name}#{node}.out", (1, s_max, hq, d))            # (1, S_max, Hq, D) f32
    shapes = {"S_MAX": s_max, "HQ": hq, "HKV": hkv, "D": d, "CMAX": cmax, "WG": WG, "REDUCE": False}
    reduce = graph.kernel_style != "lanes" and REDUCE_WG % d == 0
    shared = {**shapes, "WG": REDUCE_WG, "REDUCE": True} if reduce else shapes
    params = [graph.uniform(f"{name}.{part}", pos=0, ctx=0, s=0) for part in ("qk", "softmax", "av")]
    qk = graph.dispatch("sdpa_compute_attn_weights", shader="sdpa_compute_attn_weights",
                        writes=[attn], reads=[q, k_cache], uniforms=[params[0]],
                        constants={**shapes, "SCALE": 1.0 / sqrt(d) if scale is None else float(scale),
                                   "WINDOW": sliding_window, "SOFTCAP": float(softcap)})
    softmax = graph.dispatch("sdpa_softmax", shader="sdpa_softmax", writes=[attn], uniforms=[params[1]],
                             constants=shared)
    av = graph.dispatch("sdpa_compute_out", shader="sdpa_compute_out", writes=[out], reads=[attn, v_cache],
                        uniforms=[params[2]], constants=shared)

    def resize():
        pos, s = input_pos.value, live(seq_len)
        check_pos(op, pos, s, s_max, cmax)
        for p in params:
            p.set(pos=pos, ctx=pos + s, s=s)
        qk.set_workgroups(workgroups(hq * s * (pos + s), WG))
        softmax.set_workgroups(hq * s if reduce else workgroups(hq * s, WG))
        av.set_workgroups(s * hq if reduce else workgroups(s * hq * d, WG))

    on_change(graph, (input_pos, seq_len), resize)
    return out
