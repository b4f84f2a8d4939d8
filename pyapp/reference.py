"""A host-side reference forward of a llama GGUF: numpy fp64, written apart from the runtime.

Weights are dequantized by the `gguf` package's own code (not our exporter), so the e2e
goldens check the exporter's repacking as well as the kernels. RoPE rotates as llama.cpp does:
adjacent pairs (2i, 2i+1) for llama files (its converter permuted the Q/K rows for that pairing),
the halves of each head (i, i + D/2) for Qwen2/Qwen3 and Phi-3, whose rows keep the checkpoint's order.
tests_e2e/check_reference.py compares this against Hugging Face transformers once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .convert.gguf_check import check
from .runtime.gguf.describe import NOT_A_WEIGHT, ROTATES_HALVES, SHORT_FACTORS, Fields, model_config, rope_factors


def off_tolerance(got, want, atol: float = 1e-4, rtol: float = 1e-3):
    """The house's tolerance, per element, as ExecuTorch's tests: an element passes if abs err <= atol
    OR rel err <= rtol (the rel denominator floored at 1e-6). (Mask of elements off, abs err, rel err),
    flat, in float64."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    want = np.asarray(want, dtype=np.float64).reshape(-1)
    err = np.abs(got - want)
    rel = err / np.maximum(np.abs(want), 1e-6)
    return ~((err <= atol) | (rel <= rtol)), err, rel


class Reference:
    """Llama (and Mistral-style) files, Qwen2 (Q/K/V biases), Qwen3 (a RMSNorm of each Q and K
    head), Phi-3 (fused Q/K/V and gate/up) and Gemma 2/3 (scaled embeddings, norms after attention
    and FFN, GeGLU, sliding-window local layers; Gemma 2's soft-capping), with RoPE scaling by per-frequency factors (llama3's
    rope_freqs, linear, or Phi-3's short LongRoPE factors with their attention factor)."""

    def __init__(self, gguf_path: Path, max_context: int = 512):
        from gguf import GGUFReader
        from gguf.quants import dequantize

        header, reader = check(gguf_path), GGUFReader(str(gguf_path))
        self.cfg = model_config(Fields(header.fields), {t.name for t in header.tensors})
        data = np.memmap(gguf_path, np.uint8, mode="r")
        factors = [rope_factors(t, lambda at, n: data[at:at + n].tobytes(), self.cfg["head_dim"])
                   for t in header.tensors if t.name in (NOT_A_WEIGHT, SHORT_FACTORS)]
        self.factors = np.asarray(factors[0] if factors else
                                  self.cfg.get("rope_freq_factors") or [1.0] * (self.cfg["head_dim"] // 2))
        self.w = {t.name: dequantize(t.data, t.tensor_type).astype(np.float64).reshape(tuple(reversed(t.shape)))
                  for t in reader.tensors}
        c = self.cfg
        for i in range(c["n_layers"]) if c["arch"] == "phi3" else ():  # Phi-3's fused Q/K/V and gate/up
            p, q, kv = f"blk.{i}.", c["n_heads"] * c["head_dim"], c["n_kv_heads"] * c["head_dim"]
            qkv = self.w.pop(p + "attn_qkv.weight")
            self.w.update({p + "attn_q.weight": qkv[:q], p + "attn_k.weight": qkv[q:q + kv],
                           p + "attn_v.weight": qkv[q + kv:]})
            self.w[p + "ffn_gate.weight"], self.w[p + "ffn_up.weight"] = np.split(self.w[p + "ffn_up.weight"], 2)
        # llama.cpp multiplies RoPE's cos and sin (of Q and K) by attn_factor
        mscale = header.fields.get(f"{c['arch']}.rope.scaling.attn_factor", 1.0)
        self.scale = mscale ** 2 / np.sqrt(c["head_dim"])
        # Gemma 2 and 3 as llama.cpp's llm_build_gemma2_iswa and gemma3_iswa run them
        a, fields = c["arch"], header.fields
        self.gemma = a in ("gemma2", "gemma3")
        if self.gemma:
            self.window = fields.get(f"{a}.attention.sliding_window", 4096)  # Gemma 2's default
            pattern = fields.get(f"{a}.attention.sliding_window_pattern", 2 if a == "gemma2" else 6)
            self.local = (list(pattern) if isinstance(pattern, list) else
                          [i % pattern < pattern - 1 for i in range(c["n_layers"])])
            self.local_theta = 10000.0 if a == "gemma3" else None  # None: as the global layers
        self.attn_cap = fields.get("gemma2.attn_logit_softcapping", 0.0) if a == "gemma2" else 0.0
        self.final_cap = fields.get("gemma2.final_logit_softcapping", 0.0) if a == "gemma2" else 0.0
        shape = (c["n_layers"], max_context, c["n_kv_heads"], c["head_dim"])
        self.k_cache = np.zeros(shape)  # (layers, ctx, n_kv_heads, head_dim) f64
        self.v_cache = np.zeros(shape)
        self.pos = 0

    def reset(self):
        self.k_cache[:] = 0
        self.v_cache[:] = 0
        self.pos = 0

    def _norm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.cfg["norm_eps"]) * weight

    def _rope(self, x, positions, local=False):
        """x (S, H, D): rotate pair i, (2i, 2i+1) or (i, i + D/2), by pos * theta^(-2i/D) (Gemma 3's
        local layers: base 10,000, unscaled)."""
        d = x.shape[-1]
        own = local and self.local_theta is not None
        theta, factors = (self.local_theta, 1.0) if own else (self.cfg["rope_theta"], self.factors)
        freqs = theta ** (-np.arange(0, d, 2) / d) / factors
        ang = positions[:, None, None] * freqs[None, None, :]
        cos, sin = np.cos(ang), np.sin(ang)
        first, second = ((slice(0, d // 2), slice(d // 2, d)) if self.cfg["arch"] in ROTATES_HALVES
                         else (slice(0, d, 2), slice(1, d, 2)))
        x0, x1 = x[..., first], x[..., second]
        out = np.empty_like(x)
        out[..., first] = x0 * cos - x1 * sin
        out[..., second] = x0 * sin + x1 * cos
        return out

    def forward(self, tokens) -> np.ndarray:
        """Run tokens at positions pos..pos+S-1, append them to the caches; logits (S, vocab) f64."""
        c, w = self.cfg, self.w
        s, hq, hkv, d = len(tokens), c["n_heads"], c["n_kv_heads"], c["head_dim"]
        pos = np.arange(self.pos, self.pos + s)
        ctx = self.pos + s
        x = w["token_embd.weight"][np.asarray(tokens)]  # (S, dim)
        if self.gemma:
            x = x * np.sqrt(c["dim"])
        causal = np.arange(ctx)[None, :] <= pos[:, None]   # (S, ctx)
        for i in range(c["n_layers"]):
            p = f"blk.{i}."
            local = self.gemma and self.local[i]
            mask = causal & (pos[:, None] - np.arange(ctx)[None, :] < self.window) if local else causal
            h = self._norm(x, w[p + "attn_norm.weight"])
            q, k, v = ((h @ w[p + f"attn_{t}.weight"].T + w.get(p + f"attn_{t}.bias", 0)).reshape(s, -1, d)
                       for t in "qkv")                          # Qwen2 has biases
            if p + "attn_q_norm.weight" in w:                   # Qwen3 norms each head
                q, k = self._norm(q, w[p + "attn_q_norm.weight"]), self._norm(k, w[p + "attn_k_norm.weight"])
            q, k = self._rope(q, pos, local), self._rope(k, pos, local)
            self.k_cache[i, self.pos:ctx] = k
            self.v_cache[i, self.pos:ctx] = v
            keys = np.repeat(self.k_cache[i, :ctx], hq // hkv, axis=1)    # (ctx, Hq, D)
            vals = np.repeat(self.v_cache[i, :ctx], hq // hkv, axis=1)
            scores = np.einsum("shd,chd->hsc", q, keys) * self.scale
            if self.attn_cap:  # Gemma 2
                scores = self.attn_cap * np.tanh(scores / self.attn_cap)
            scores = np.where(mask[None], scores, -np.inf)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attn = scores / scores.sum(axis=-1, keepdims=True)
            o = np.einsum("hsc,chd->shd", attn, vals).reshape(s, hq * d)
            o = o @ w[p + "attn_output.weight"].T
            x = x + (self._norm(o, w[p + "post_attention_norm.weight"]) if self.gemma else o)
            h = self._norm(x, w[p + "ffn_norm.weight"])
            gate, up = h @ w[p + "ffn_gate.weight"].T, h @ w[p + "ffn_up.weight"].T
            if self.gemma:  # GeGLU, GELU's tanh form
                act = 0.5 * gate * (1 + np.tanh(np.sqrt(2 / np.pi) * (gate + 0.044715 * gate ** 3)))
            else:
                act = gate / (1 + np.exp(-gate))
            down = (act * up) @ w[p + "ffn_down.weight"].T
            x = x + (self._norm(down, w[p + "post_ffw_norm.weight"]) if self.gemma else down)
        self.pos = ctx
        head = w.get("output.weight", w["token_embd.weight"])
        logits = self._norm(x, w["output_norm.weight"]) @ head.T
        return self.final_cap * np.tanh(logits / self.final_cap) if self.final_cap else logits

    def greedy(self, prompt_ids, n: int) -> tuple[list[int], list[np.ndarray]]:
        """Greedy continuation of n tokens: (token ids, logits of each step's last row)."""
        self.reset()
        logits = [self.forward(prompt_ids)[-1]]
        ids = [int(np.argmax(logits[-1]))]
        while len(ids) < n:
            logits.append(self.forward([ids[-1]])[-1])
            ids.append(int(np.argmax(logits[-1])))
        return ids, logits
