"""A llama-family forward pass as a graph, two ways over the same weights, caches and outputs.

`fused_graph` is the model's fast path: per layer qkv_rope, attention (2 dispatches),
residual_linear, swiglu, residual_linear; a decode step is 6 dispatches a layer plus 4, and its
last kernel feeds the next token and advances input_pos on the GPU. `ops_graph` is the same
model on ExecuTorch's ops (linear_q4gsw & co., sdpa_with_kv_cache: 19 dispatches a layer), kept
as the reference path the fused one is measured and checked against. Gemma adds on both a
RMSNorm of each projection before its residual add (`project`, `add_normed`: 4 dispatches more a
layer on the fused path), GeGLU, and sliding-window layers (Gemma 3's with RoPE tables of their
own); Gemma 2 soft-caps the attention scores and the logits.

Every graph has the SymInts input_pos (first position of this step), rows (live rows) and
last_row (the row whose logits are wanted), the input "tokens" (on the fused decode graph the
slot next_token writes, fed by the host for a step's first token), and the outputs "next_token"
(u32: the argmax id, then its logit's bits) and "logits" (1, vocab) f32. A `sampled` graph ends
in the sampler (ops/fused/sample.py) instead of the argmax: the same outputs, the id drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops
from .config import ModelConfig
from ..graph.graph import Graph
from ..ops.fused.sample import HIST, SETTINGS_BYTES
from .weights import Weights

LINEARS = {"q4gsw": ops.linear_q4gsw, "q4gaw": ops.linear_q4gaw, "q8gsw": ops.linear_q8gsw,
           "q8gaw": ops.linear_q8gaw}  # + "f32"
RING = 64  # decode steps one submit may run (the ring of their tokens)


@dataclass
class Shared:
    """Buffers every graph of a model binds: KV caches, RoPE tables, the decode step's token."""

    caches: list          # per layer (k, v) buffers of (Cmax, Hkv*D) f32, zeroed by WebGPU
    rope: object          # (2, Cmax, D/2) f32: cos, then sin (fused path)
    rope_pair: tuple      # cos and sin as two buffers of (Cmax, D/2) f32 (ops path)
    token: object         # (4,) u32: the next decode step's token id, its logit bits
    cmax: int
    settings: object = None  # (SETTINGS_BYTES / 4,) u32: the sampler's, written per generation
    history: object = None   # (HIST,) u32: token ids by position % HIST, for the penalties
    local: object = None     # Gemma 3's local layers' tables, as rope (fused) or rope_pair (ops)


def layer_attention(c: ModelConfig, i: int) -> tuple[int, int]:
    """(RoPE table, window) of layer i: Gemma's sliding-window layers (Gemma 3's have their own tables)."""
    local = i in c.local_layers
    return int(local and c.rope_theta_local is not None), c.sliding_window if local else 0


def sampler_inputs(g: Graph, sh: Shared):
    return (g.external("sample.settings", (SETTINGS_BYTES // 4,), "u32", sh.settings),
            g.external("sample.history", (HIST,), "u32", sh.history))


def embed(g: Graph, c: ModelConfig, w: Weights, tokens, rows):
    emb = c.tensors["token_embd.weight"]
    table, tables = w.parts(g, "token_embd.weight")
    return ops.embedding(g, tokens, table, emb.format, c.dim, **tables,  # (S, dim) residual stream
                         group_size=emb.group_size, rows=rows, name="x", scale=c.embed_scale)


def add_normed(g: Graph, c: ModelConfig, w: Weights, x, y, norm: str, rows):
    """x += RMSNorm(y) (Gemma's norms after attention and after the FFN)."""
    ops.add(g, x, ops.rms_norm(g, y, w.tensor(g, norm), c.norm_eps, rows=rows, name=f"{norm}.out"), rows)


def project(g: Graph, c: ModelConfig, w: Weights, x, a, arena, weight: str, post_norm: str, rows):
    """x += a @ W^T in the projection's epilogue, or x += RMSNorm(a @ W^T) (Gemma)."""
    if not c.post_norms:
        return ops.residual_linear(g, x, a, arena, w.placed(weight), rows)
    o = ops.residual_linear(g, g.scratch(f"{weight}.out", (a.shape[0], c.dim)), a, arena, w.placed(weight), rows,
                            accumulate=False)
    add_normed(g, c, w, x, o, post_norm, rows)


def fused_graph(g: Graph, c: ModelConfig, w: Weights, sh: Shared, s: int, sampled: bool = False) -> Graph:
    d, nkv = c.head_dim, c.n_kv_heads * c.head_dim
    pos, rows = g.symint("input_pos", 0), g.symint("rows", s)   # rows: real rows this step
    last, one = g.symint("last_row", s - 1), g.symint("one", 1)
    token = g.external("next_token", (4,), "u32", sh.token, offset=0)  # where the next step reads
    tokens = (g.input("tokens", (s,), "i32", dynamic=True) if s > 1 else    # (S,) i32
              g.external("tokens", (1,), "i32", sh.token, offset=0, fed=True))  # the slot next_token writes
    ropes = [g.external("rope", (2, sh.cmax, d // 2), "f32", sh.rope)]
    if sh.local is not None:
        ropes.append(g.external("rope_local", (2, sh.cmax, d // 2), "f32", sh.local))
    x = embed(g, c, w, tokens, rows)
    for i in range(c.n_layers):
        p = f"blk.{i}."
        local, window = layer_attention(c, i)
        rope = ropes[local]
        arena = w.arena(g, f"blk.{i}")
        kc, vc = (g.external(f"{n}_cache.{i}", (sh.cmax, nkv), "f32", b) for n, b in zip("kv", sh.caches[i]))
        gamma = w.placed(p + "attn_norm.weight").codes
        # attention: norm + q/k/v (+ biases) + RoPE + cache write at input_pos (Qwen3 norms each head
        # first), split-context attention, output + residual
        biases = tuple(w.placed(p + f"attn_{t}.bias").codes for t in "qkv") if c.qkv_bias else None
        q = ops.qkv_rope(g, x, arena, gamma, w.placed(p + "attn_q.weight"), w.placed(p + "attn_k.weight"),
                         w.placed(p + "attn_v.weight"), kc, vc, rope, pos, rows, head_dim=d, eps=c.norm_eps,
                         name=f"layer{i}", biases=biases, apply_rope=not c.qk_norm)  # (S, Hq*D)
        if c.qk_norm:
            ops.qk_norm_rope(g, q, kc, arena, w.placed(p + "attn_q_norm.weight").codes,
                             w.placed(p + "attn_k_norm.weight").codes, rope, pos, rows, n_heads=c.n_heads,
                             n_kv_heads=c.n_kv_heads, head_dim=d, eps=c.norm_eps)
        a = ops.attention(g, q, kc, vc, pos, rows, n_heads=c.n_heads, n_kv_heads=c.n_kv_heads, scale=c.attn_scale,
                          window=window, softcap=c.attn_softcap, name=f"attn{i}")
        project(g, c, w, x, a, arena, p + "attn_output.weight", p + "post_attention_norm.weight", rows)
        # feed-forward: norm + gate/up + SiLU (GELU: Gemma), down + residual
        h = ops.swiglu(g, x, arena, w.placed(p + "ffn_norm.weight").codes, w.placed(p + "ffn_gate.weight"),
                       w.placed(p + "ffn_up.weight"), rows, eps=c.norm_eps, name=f"ffn{i}", act=c.ffn_act)  # (S, ffn)
        project(g, c, w, x, h, arena, p + "ffn_down.weight", p + "post_ffw_norm.weight", rows)
    # logits of one row: final norm of the last real row and the (tied) LM head, then the next token
    head = w.placed(c.head)
    logits = g.output(ops.norm_linear(g, x, w.arena(g, head.arena), w.placed("output_norm.weight").codes, head,
                                      last, one, eps=c.norm_eps, name="logits"))  # (1, vocab) f32
    if c.final_softcap:  # Gemma 2
        ops.softcap(g, logits, c.final_softcap)
    if s == 1:  # decode: the token goes where the next step's embedding reads it; the step advances
        ring = g.output(g.scratch("ring", (RING,), "u32"))                  # (RING,) u32 token ids
        if sampled:
            ops.sample(g, logits, token, *sampler_inputs(g, sh), pos, last, ring=ring, step=g.symint("step", 0))
        else:
            ops.next_token(g, logits, token, ring, pos, g.symint("step", 0))
    elif sampled:
        ops.sample(g, logits, token, *sampler_inputs(g, sh), pos, last)
    else:
        ops.argmax(g, logits, out=token)
    g.output(token)
    return g


def ops_graph(g: Graph, c: ModelConfig, w: Weights, sh: Shared, s: int, sampled: bool = False) -> Graph:
    hq, hkv, d = c.n_heads, c.n_kv_heads, c.head_dim
    tokens = g.input("tokens", (s,), "i32", dynamic=True)            # (S,) i32
    pos = g.symint("input_pos", 0)
    rows = g.symint("rows", s) if s > 1 else 1                       # real rows this step
    last = g.symint("last_row", s - 1)                               # the row whose logits we need
    ropes = [tuple(g.external(f"{name}.{n}", (sh.cmax, d // 2), "f32", b) for n, b in zip(("cos", "sin"), pair))
             for name, pair in (("rope", sh.rope_pair), ("rope_local", sh.local)) if pair is not None]

    def linear(x, name: str, rows, bias=None):
        entry = c.tensors[name]
        weight, tables = w.parts(g, name)
        bias = w.tensor(g, bias) if bias else None
        if entry.format == "f32":  # GGUF F32/F16 matrices
            return ops.linear_f32(g, x, weight, bias=bias, rows=rows, name=f"{name}.out")
        return LINEARS[entry.format](g, x, weight, *tables.values(), entry.group_size, bias=bias, rows=rows,
                                     name=f"{name}.out")

    x = embed(g, c, w, tokens, rows)

    def add_out(y, post_norm: str):  # x += y, or x += RMSNorm(y) (Gemma)
        if c.post_norms:
            add_normed(g, c, w, x, y, post_norm, rows)
        else:
            ops.add(g, x, y, rows)

    for i in range(c.n_layers):
        p = f"blk.{i}."
        local, window = layer_attention(c, i)
        cos, sin = ropes[local]
        # attention: norm, q/k/v, RoPE at input_pos, cache update + causal GQA attention, output
        h = ops.rms_norm(g, x, w.tensor(g, p + "attn_norm.weight"), c.norm_eps, rows=rows)
        q, k, v = (linear(h, p + f"attn_{t}.weight", rows, p + f"attn_{t}.bias" if c.qkv_bias else None)
                   for t in "qkv")                                  # (S, Hq*D), (S, Hkv*D) x 2
        if c.qk_norm:  # Qwen3: RMSNorm of each head, its own weight of D
            q, k = (g.view(ops.rms_norm(g, g.view(t, (s * heads, d)), w.tensor(g, p + f"attn_{n}_norm.weight"),
                                        c.norm_eps), (s, heads * d)) for t, n, heads in ((q, "q", hq), (k, "k", hkv)))
        ops.rope(g, g.view(q, (s, hq, d)), cos, sin, pos, rows)
        ops.rope(g, g.view(k, (s, hkv, d)), cos, sin, pos, rows)
        kc, vc = (g.external(f"{n}_cache.{i}", (1, sh.cmax, hkv, d), "f32", b)
                  for n, b in zip("kv", sh.caches[i]))              # (1, Cmax, Hkv, D) f32
        attn = ops.sdpa_with_kv_cache(g, g.view(q, (1, s, hq, d)), g.view(k, (1, s, hkv, d)),
                                      g.view(v, (1, s, hkv, d)), kc, vc, pos, rows, scale=c.attn_scale,
                                      name=f"sdpa.{i}", sliding_window=window, softcap=c.attn_softcap)
        o = linear(g.view(attn, (s, hq * d)), p + "attn_output.weight", rows)
        add_out(o, p + "post_attention_norm.weight")
        # feed-forward: norm, SwiGLU, down, residual
        h = ops.rms_norm(g, x, w.tensor(g, p + "ffn_norm.weight"), c.norm_eps, rows=rows)
        gate = linear(h, p + "ffn_gate.weight", rows)              # (S, ffn)
        up = linear(h, p + "ffn_up.weight", rows)                  # (S, ffn)
        down = linear(ops.silu_mul(g, gate, up, rows, act=c.ffn_act), p + "ffn_down.weight", rows)
        add_out(down, p + "post_ffw_norm.weight")
    # logits of one row: final norm of the last real row, then the (tied) LM head
    hn = ops.rms_norm(g, x, w.tensor(g, "output_norm.weight"), c.norm_eps, rows=1, first=last,
                      out_rows=1, name="x_last")
    g.output(g.view(linear(hn, c.head, 1), (1, c.tensors[c.head].shape[0]), "logits"))  # (1, vocab) f32
    if c.final_softcap:  # Gemma 2
        ops.softcap(g, g.tensors["logits"], c.final_softcap)
    if sampled:
        token = g.scratch("next_token", (2,), "u32")                                    # (2,) u32
        g.output(ops.sample(g, g.tensors["logits"], token, *sampler_inputs(g, sh), pos, last))
    else:
        g.output(ops.argmax(g, g.tensors["logits"], name="next_token"))                 # (2,) u32
    return g
