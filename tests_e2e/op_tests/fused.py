"""The model's fused kernels (attention, residual_linear, swiglu, norm_linear, qkv_rope) against
numpy fp64 references on weights packed as runtime/model/weights.py packs them, in every kernel
style a device may get: "lanes" (SwiftShader's own), "subgroups" and "workgroups" (real GPUs',
forced so that CI checks them). Written at test time into .cache/goldens ("large", like the
LLM-sized linears). The cases mix the weight formats in one arena, use odd widths (29, 37, 301,
2,051 columns), rows 1 (decode: teams split K) and 5 (prefill: rows per item), and attention
past 32 splits of the context, head dims 24 to 128, GQA 1 to 8."""

from __future__ import annotations

import json

import numpy as np

from pyapp.convert import quant

from . import register_op_test

STYLES = ("lanes", "subgroups", "workgroups")


def np_attention(q, k_cache, v_cache, pos: int, hq: int, hkv: int):
    """q (S, Hq*D); caches (Cmax, Hkv*D) holding keys 0 .. pos+S-1 -> (S, Hq*D), causal, GQA, fp64."""
    s = q.shape[0]
    d = q.shape[1] // hq
    ctx = pos + s
    Q = q.astype(np.float64).reshape(s, hq, d)
    K = k_cache[:ctx].astype(np.float64).reshape(ctx, hkv, d)
    V = v_cache[:ctx].astype(np.float64).reshape(ctx, hkv, d)
    out = np.zeros((s, hq, d))
    for h in range(hq):
        logits = Q[:, h] @ K[:, h // (hq // hkv)].T / np.sqrt(d)           # (S, ctx)
        logits[np.arange(ctx)[None, :] > (np.arange(s)[:, None] + pos)] = -np.inf
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        out[:, h] = (p / p.sum(axis=1, keepdims=True)) @ V[:, h // (hq // hkv)]
    return out.reshape(s, hq * d).astype(np.float32)


def write_attention(save, name, *, s, hq, hkv, d, cmax, pos, seed, big_logits=False):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((s, hq * d)).astype(np.float32)
    k_cache = rng.standard_normal((cmax, hkv * d)).astype(np.float32)
    v_cache = rng.standard_normal((cmax, hkv * d)).astype(np.float32)
    if big_logits:  # q.k * scale near 177: exp() overflows fp32 unless the max is subtracted
        a = np.sqrt(177 * np.sqrt(d) / d)
        q = (a + 0.05 * rng.standard_normal(q.shape)).astype(np.float32)
        k_cache = (a + 0.05 * rng.standard_normal(k_cache.shape)).astype(np.float32)
    save(name, {"q": q, "k_cache": k_cache, "v_cache": v_cache,
                "expected": np_attention(q, k_cache, v_cache, pos, hq, hkv)},
         op="attention", input_pos=pos, hq=hq, hkv=hkv)


register_op_test("attention", family="large", styles=STYLES, cases={
    "fused_attention_decode_pos1899": dict(s=1, hq=9, hkv=3, d=64, cmax=2048, pos=1899, seed=70),  # 32 splits
    "fused_attention_decode_d128_g8": dict(s=1, hq=16, hkv=2, d=128, cmax=1536, pos=1400, seed=71),
    "fused_attention_prefill13": dict(s=13, hq=8, hkv=2, d=32, cmax=256, pos=100, seed=72),
    "fused_attention_odd_d24": dict(s=3, hq=6, hkv=2, d=24, cmax=61, pos=44, seed=73),
    "fused_attention_big_logits": dict(s=4, hq=2, hkv=1, d=8, cmax=64, pos=40, seed=74, big_logits=True),
    "fused_attention_first_token": dict(s=1, hq=4, hkv=4, d=16, cmax=32, pos=0, seed=75),
})(write_attention)


class Arena:
    """Weights packed into one buffer at 256-byte offsets, as runtime/model/weights.py places them."""

    FORMATS = {"q4gsw": quant.quantize_q4gsw, "q4gaw": quant.quantize_q4gaw, "q8gsw": quant.quantize_q8gsw,
               "q8gaw": quant.quantize_q8gaw}

    def __init__(self):
        self.parts, self.size, self.mats = [], 0, {}

    def put(self, data: np.ndarray) -> int:
        at = self.size
        self.parts.append((at, np.ascontiguousarray(data).view(np.uint8).reshape(-1)))
        self.size = -(-(at + data.nbytes) // 256) * 256
        return at // 4

    def matrix(self, name, fmt, w, gs=32):
        """Place w (N, K) in format fmt; returns its fp64 dequantized values (the reference's weights)."""
        n, k = w.shape
        if fmt == "f32":
            self.mats[name] = {"fmt": fmt, "n": n, "k": k, "group_size": gs, "codes": self.put(w.astype(np.float32))}
            return w.astype(np.float64)
        p = self.FORMATS[fmt](w, gs)
        spec = {"fmt": fmt, "n": n, "k": k, "group_size": gs, "codes": self.put(p.weight),
                "scales": self.put(p.scales), "pn": p.scales.shape[1]}
        if p.offsets is not None:
            spec["offsets"] = self.put(p.offsets)
        self.mats[name] = spec
        return quant.DEQUANTIZE[fmt](p)

    def vector(self, name, v) -> np.ndarray:
        self.mats[name] = {"codes": self.put(v.astype(np.float32))}
        return v.astype(np.float64)

    def bytes(self) -> np.ndarray:
        out = np.zeros(self.size, np.uint8)
        for at, data in self.parts:
            out[at:at + data.size] = data
        return out


def rms(x, gamma, eps):
    x = x.astype(np.float64)
    return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + eps) * gamma


def rope_np(t, pos0, theta, d):
    """Rotate adjacent pairs (2i, 2i+1) of each head of t (S, H*D) by (pos0 + s) * theta^(-2i/D)."""
    s, width = t.shape
    out = t.copy().reshape(s, width // d, d // 2, 2)
    ang = (pos0 + np.arange(s))[:, None] * theta ** (-2.0 * np.arange(d // 2) / d)  # (S, D/2)
    c, sn = np.cos(ang)[:, None], np.sin(ang)[:, None]
    a, b = out[..., 0].copy(), out[..., 1].copy()
    out[..., 0], out[..., 1] = a * c - b * sn, a * sn + b * c
    return out.reshape(s, width)


def write_linear(save, name, *, op, rows, seed, **shape):

    rng = np.random.default_rng(seed)
    arena = Arena()
    eps = 1e-5
    tensors, meta = {}, {"op": op, "rows": rows, "eps": eps}

    def weights(label, fmt, n, k):
        fmt, _, gs = fmt.partition("/")  # "q8gsw/16": a group size other than 32
        return arena.matrix(label, fmt, (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32), int(gs or 32))

    if op == "residual_linear":
        n, k, fmt = shape["n"], shape["k"], shape["fmt"]
        a = rng.standard_normal((rows, k)).astype(np.float32)
        res = rng.standard_normal((rows, n)).astype(np.float32)
        w = weights("W", fmt, n, k)
        tensors.update(a=a, res=res, expected=(res + a.astype(np.float64) @ w.T).astype(np.float32))
    elif op in ("swiglu", "norm_linear"):
        n, k = shape["n"], shape["k"]
        x = (3 * rng.standard_normal((rows, k))).astype(np.float32)
        gamma = arena.vector("gamma", 1 + 0.1 * rng.standard_normal(k))
        h = rms(x, gamma, eps)
        if op == "swiglu":
            g, u = weights("gate", shape["gate"], n, k), weights("up", shape["up"], n, k)
            hg, hu = h @ g.T, h @ u.T
            expected = hg / (1 + np.exp(-hg)) * hu
        else:
            meta["first"] = shape["first"]
            expected = h[shape["first"]:shape["first"] + 1] @ weights("W", shape["fmt"], n, k).T
        tensors.update(x=x, expected=expected.astype(np.float32))
    elif op == "qkv_rope":
        k, d, hq, hkv, cmax, pos, theta = (shape[f] for f in ("k", "d", "hq", "hkv", "cmax", "pos", "theta"))
        x = (3 * rng.standard_normal((rows, k))).astype(np.float32)
        gamma = arena.vector("gamma", 1 + 0.1 * rng.standard_normal(k))
        h = rms(x, gamma, eps)
        q, kk, v = (h @ weights(label, shape[f"{label}_fmt"], n, k).T
                    for label, n in (("q", hq * d), ("k", hkv * d), ("v", hkv * d)))
        k_cache = np.zeros((cmax, hkv * d), np.float32)
        v_cache = np.zeros((cmax, hkv * d), np.float32)
        k_cache[pos:pos + rows], v_cache[pos:pos + rows] = rope_np(kk, pos, theta, d), v
        meta.update(head_dim=d, pos=pos, theta=theta)
        tensors.update(x=x, expected=rope_np(q, pos, theta, d).astype(np.float32), expected_k_cache=k_cache,
                       expected_v_cache=v_cache)
    tensors["arena"] = arena.bytes()
    meta["mats"] = arena.mats
    save(name, tensors, op=op, spec=json.dumps(meta))


LINEARS = [  # (op, name, rows, seed, shape)
    *((op, name, rows, seed + rows, shape) for rows in (1, 5) for op, name, seed, shape in (
        # decode (teams by kernel style) and prefill (rows per item)
        ("residual_linear", f"q4gaw_r{rows}", 80, dict(n=29, k=96, fmt="q4gaw")),
        ("residual_linear", f"q4gsw_r{rows}", 82, dict(n=576, k=576, fmt="q4gsw")),
        ("residual_linear", f"f32_r{rows}", 84, dict(n=37, k=64, fmt="f32")),
        ("swiglu", f"mixed_r{rows}", 86, dict(n=37, k=64, gate="q4gsw", up="q8gsw")),
        ("qkv_rope", f"mixed_r{rows}", 88, dict(k=64, d=16, hq=4, hkv=2, cmax=32, pos=9, theta=10000.0,
                                                 q_fmt="f32", k_fmt="q4gaw", v_fmt="q8gsw")))),
    ("residual_linear", "q4gsw_k2048_r1", 1, 92, dict(n=67, k=2048, fmt="q4gsw")),  # Llama-sized K
    ("residual_linear", "q4gaw_n2051_r1", 1, 99, dict(n=2051, k=64, fmt="q4gaw")),  # four columns a team
    # GGUF's K-quants as they are exported: Q4_K -> q4gaw/32, Q5_K -> q8gaw/32, Q6_K -> q8gsw/16
    *((op, name, rows, seed + rows, shape) for rows in (1, 5) for op, name, seed, shape in (
        ("residual_linear", f"q8gaw_r{rows}", 93, dict(n=31, k=96, fmt="q8gaw")),
        ("swiglu", f"kquant_r{rows}", 95, dict(n=37, k=64, gate="q4gaw", up="q8gsw/16")),
        ("qkv_rope", f"kquant_r{rows}", 97, dict(k=64, d=16, hq=4, hkv=2, cmax=32, pos=3, theta=500000.0,
                                                  q_fmt="q4gaw", k_fmt="q8gaw", v_fmt="q8gsw/16")))),
    # Q2_K -> q4gaw/16, Q3_K -> q4gsw/16, IQ4_NL/IQ4_XS -> q8gsw/32: 4-bit codes in groups of 16
    *((op, name, rows, seed + rows, shape) for rows in (1, 5) for op, name, seed, shape in (
        ("residual_linear", f"q4gaw16_r{rows}", 101, dict(n=29, k=96, fmt="q4gaw/16")),
        ("swiglu", f"lowbit_r{rows}", 103, dict(n=37, k=64, gate="q4gaw/16", up="q4gsw/16")),
        ("qkv_rope", f"lowbit_r{rows}", 105, dict(k=64, d=16, hq=4, hkv=2, cmax=32, pos=5, theta=10000.0,
                                                  q_fmt="q4gsw/16", k_fmt="q4gaw/16", v_fmt="q8gsw")))),
    ("residual_linear", "q4gsw16_k2048_r1", 1, 109, dict(n=67, k=2048, fmt="q4gsw/16")),
    ("norm_linear", "q4gaw16", 4, 107, dict(n=301, k=96, fmt="q4gaw/16", first=2)),
    ("norm_linear", "q8gsw", 4, 90, dict(n=301, k=96, fmt="q8gsw", first=2)),
    ("norm_linear", "q4gaw_vocab", 1, 91, dict(n=49152, k=576, fmt="q4gaw", first=0)),
]
for fused_op in ("residual_linear", "swiglu", "qkv_rope", "norm_linear"):
    register_op_test(fused_op, family="large", styles=STYLES, cases={
        f"fused_{op}_{name}": dict(op=op, rows=rows, seed=seed, **shape)
        for op, name, rows, seed, shape in LINEARS if op == fused_op})(write_linear)
