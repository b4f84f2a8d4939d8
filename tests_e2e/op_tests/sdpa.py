"""sdpa_with_kv_cache (with its update_cache steps) against torch's
F.scaled_dot_product_attention in fp64: GQA, causal from input_pos, caches updated in place.
Writing these needs torch (`make goldens`); the tests only read the files."""

from __future__ import annotations

import numpy as np

from . import register_op_test


def attention(q, k_cache, v_cache, pos: int, scale=None):
    """q (1,S,Hq,D); caches (1,Cmax,Hkv,D) already updated -> (1,S,Hq,D), causal with input_pos."""
    import torch
    import torch.nn.functional as F

    s, hq = q.shape[1], q.shape[2]
    hkv = k_cache.shape[2]
    ctx = pos + s
    Q = torch.from_numpy(q[0].astype(np.float64)).transpose(0, 1)
    K = torch.from_numpy(k_cache[0, :ctx].astype(np.float64)).transpose(0, 1).repeat_interleave(hq // hkv, 0)
    V = torch.from_numpy(v_cache[0, :ctx].astype(np.float64)).transpose(0, 1).repeat_interleave(hq // hkv, 0)
    mask = torch.arange(ctx)[None, :] <= (torch.arange(s)[:, None] + pos)
    out = F.scaled_dot_product_attention(Q, K, V, attn_mask=mask, scale=scale)
    return out.transpose(0, 1)[None].numpy().astype(np.float32)


def write_step(save, name, *, s, hq, hkv, d, cmax, pos, seed, big_logits=False, keep_caches=True):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((1, s, hq, d)).astype(np.float32)
    k = rng.standard_normal((1, s, hkv, d)).astype(np.float32)
    v = rng.standard_normal((1, s, hkv, d)).astype(np.float32)
    k_cache = rng.standard_normal((1, cmax, hkv, d)).astype(np.float32)
    v_cache = rng.standard_normal((1, cmax, hkv, d)).astype(np.float32)
    if big_logits:  # q.k * scale near 177: exp() overflows fp32 unless the row max is subtracted
        a = np.sqrt(177 * np.sqrt(d) / d)
        q = (a + 0.05 * rng.standard_normal(q.shape)).astype(np.float32)
        k = (a + 0.05 * rng.standard_normal(k.shape)).astype(np.float32)
        k_cache = (a + 0.05 * rng.standard_normal(k_cache.shape)).astype(np.float32)
    new_k, new_v = k_cache.copy(), v_cache.copy()
    new_k[0, pos:pos + s], new_v[0, pos:pos + s] = k[0], v[0]
    expected = attention(q, new_k, new_v, pos)
    save(name, {"q": q, "k": k, "v": v, "k_cache": k_cache, "v_cache": v_cache, "expected": expected,
                "expected_k_cache": new_k if keep_caches else None,
                "expected_v_cache": new_v if keep_caches else None},
         op="sdpa_with_kv_cache", input_pos=pos)


# The real-GPU softmax and AV (a workgroup per row) are forced on the committed cases too.
register_op_test("sdpa_with_kv_cache", family="sdpa", styles=("workgroups",), cases={
    "sdpa_gqa3_decode": dict(s=1, hq=9, hkv=3, d=64, cmax=128, pos=37, seed=40),      # SmolLM2 heads
    "sdpa_gqa2_prefill": dict(s=13, hq=8, hkv=4, d=32, cmax=64, pos=5, seed=41),
    "sdpa_mha": dict(s=7, hq=4, hkv=4, d=16, cmax=32, pos=0, seed=42),
    "sdpa_odd_ctx": dict(s=3, hq=6, hkv=2, d=24, cmax=61, pos=44, seed=43),
    "sdpa_big_logits": dict(s=4, hq=2, hkv=1, d=8, cmax=16, pos=3, seed=44, big_logits=True),
})(write_step)
register_op_test("sdpa_with_kv_cache", family="sdpa", styles=("workgroups",), cases={
    "sdpa_decode_pos4095": dict(s=1, hq=9, hkv=3, d=64, cmax=4096, pos=4095, seed=50, keep_caches=False),
    # QK has 32 * 128 * 1128 invocations = 72192 workgroups of 64: past 65535 in a 1-D grid
    "sdpa_prefill128_hq32": dict(s=128, hq=32, hkv=8, d=64, cmax=1152, pos=1000, seed=51, keep_caches=False),
})(write_step)


@register_op_test("sdpa_replay", family="sdpa", cases={
    "replay_a": dict(steps=[3, 1, 1, 5, 1, 1, 2], hq=9, hkv=3, d=64, cmax=32, seed=60),
    "replay_b": dict(steps=[111, 1, 1, 1, 57, 1, 1], hq=4, hkv=2, d=32, cmax=192, seed=61),
    "replay_decode": dict(steps=[4, 1, 1, 1, 1, 1, 1, 1], hq=6, hkv=2, d=16, cmax=16, seed=62),
})
def write_replay(save, name, *, steps, hq, hkv, d, cmax, seed):
    """One sequence of steps on growing caches (start empty); each step's golden sees all before it.
    test_ops.py replays them on one graph (live seq_len, input_pos fed or pinned, fresh graphs)."""
    rng = np.random.default_rng(seed)
    k_cache = np.zeros((1, cmax, hkv, d), np.float32)
    v_cache = np.zeros_like(k_cache)
    tensors, pos = {}, 0
    for i, s in enumerate(steps):
        q = rng.standard_normal((1, s, hq, d)).astype(np.float32)
        k = rng.standard_normal((1, s, hkv, d)).astype(np.float32)
        v = rng.standard_normal((1, s, hkv, d)).astype(np.float32)
        k_cache[0, pos:pos + s], v_cache[0, pos:pos + s] = k[0], v[0]
        tensors.update({f"q{i}": q, f"k{i}": k, f"v{i}": v, f"expected{i}": attention(q, k_cache, v_cache, pos)})
        pos += s
    save(name, tensors, op="sdpa_replay", steps=",".join(map(str, steps)), hq=hq, hkv=hkv, d=d, cmax=cmax)
