"""qk_norm_rope: Qwen3's RMSNorm of each query and key head, then RoPE, in place.

q (S, Hq*D) f32 and k_cache (Cmax, Hkv*D) f32 at rows input_pos + m, as qkv_rope(apply_rope=False)
wrote them; the arena holds each norm's weight (D,) f32 (their word offsets); rope as qkv_rope's.
rows and input_pos are SymInts the kernel reads.
"""

from .._checks import OpError, expect_tensor, on_change, workgroups

SHADERS = {"qk_norm_rope": ("HQ", "HKV", "D", "CMAX", "EPS", "QW", "KW", "WG")}
WG = 64


def qk_norm_rope(graph, q, k_cache, arena, q_weight: int, k_weight: int, rope, input_pos, rows, *,
                 n_heads: int, n_kv_heads: int, head_dim: int, eps: float):
    op = "qk_norm_rope"
    expect_tensor(op, "q", q, "f32", 2)
    expect_tensor(op, "k_cache", k_cache, "f32", 2)
    s = q.shape[0]
    cmax = k_cache.shape[0]
    if q.shape[1] != n_heads * head_dim or k_cache.shape[1] != n_kv_heads * head_dim or head_dim % 2:
        raise OpError(f"{op}: q {q!r} and k_cache {k_cache!r} are not {n_heads} and {n_kv_heads} heads of an "
                      f"even head dim {head_dim}")
    if rope.shape != (2, cmax, head_dim // 2):
        raise OpError(f"{op}: rope {rope!r} must be (2, {cmax}, {head_dim // 2})")
    d = graph.dispatch(op, shader=op, writes=[q, k_cache], reads=[arena, rope], uniforms=[input_pos, rows],
                       constants={"HQ": n_heads, "HKV": n_kv_heads, "D": head_dim, "CMAX": cmax, "EPS": float(eps),
                                  "QW": q_weight, "KW": k_weight, "WG": WG})

    def resize():
        if not 0 <= rows.value <= s:
            raise OpError(f"{op}: rows {rows.value} must be within 0..{s}")
        d.set_workgroups(max(1, workgroups(rows.value * (n_heads + n_kv_heads), WG)))

    on_change(graph, (rows,), resize)
    return q
