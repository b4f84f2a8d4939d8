"""Write the e2e goldens: inputs and expected outputs, computed on the host ahead of time.

    python tests_e2e/make_goldens.py                        # the committed goldens (needs torch)
    python tests_e2e/make_goldens.py --only large --out DIR # LLM-sized linears and the fused
                                                            # kernels' cases (numpy only)

References, independent of the runtime: numpy fp64 for the infrastructure kernels and for the
linears (dequantize, then matmul in fp64) and for the model's fused kernels (norms, RoPE,
softmax written out in numpy); torch's F.scaled_dot_product_attention (fp64) for the sdpa op. Files are safetensors (see goldens/README.md); the tests only read them. Seeds are
fixed, so a rerun reproduces the files. `make test` writes the large linears (about 70 MB,
too big to commit) into .cache/goldens once, before the browser runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from pyapp import quant
from vocab_models import vocab_models

OUT = Path(__file__).resolve().parent / "goldens"
out_dir = OUT


def save(name: str, tensors: dict, **meta):
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items() if v is not None}
    save_file(tensors, str(out_dir / f"{name}.safetensors"), metadata={k: str(v) for k, v in meta.items()})
    print(f"wrote {name}.safetensors ({sum(v.nbytes for v in tensors.values()) / 1e6:.2f} MB)")


def axpb(x, scale, pos, times=1):
    y = x.astype(np.float64)
    for _ in range(times):
        y = y * scale + pos
    return y.astype(np.float32)


def infra():
    rng = np.random.default_rng(2)
    scale = 2.5
    x = rng.standard_normal(1009).astype(np.float32)  # prime length: no multiple-of-64 luck
    save("infra_axpb", {"x": x, "pos0": axpb(x, scale, 0), "pos7": axpb(x, scale, 7),
                        "pos5": axpb(x, scale, 5), "chain4_pos3": axpb(x, scale, 3, times=4)},
         scale=scale)
    big = rng.standard_normal(70001).astype(np.float32)  # one workgroup each: 70001 > 65535
    save("infra_grid", {"x": big, "pos1": axpb(big, scale, 1)}, scale=scale)


# --- linears: fp64 dequantize-then-matmul ---

QUANTIZERS = {
    "linear_q4gsw": (quant.quantize_q4gsw, quant.dequantize_q4gsw),
    "linear_q4gaw": (quant.quantize_q4gaw, quant.dequantize_q4gaw),
    "linear_q8gsw": (quant.quantize_q8gsw, quant.dequantize_q8gsw),
    "linear_q8gaw": (quant.quantize_q8gaw, quant.dequantize_q8gaw),
}


def linear_case(op: str, lead: tuple, k: int, n: int, gs: int, bias: bool, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, k)).astype(np.float32)
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    q, dq = QUANTIZERS[op]
    packed = q(w, gs)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    ref = x.reshape(-1, k).astype(np.float64) @ dq(packed).T + (0 if b is None else b.astype(np.float64))
    name = f"{op}_m{'x'.join(map(str, lead))}_k{k}_n{n}_g{gs}{'_bias' if bias else ''}"
    save(name, {"x": x, "weight": packed.weight, "scales": packed.scales,
                "offsets": getattr(packed, "offsets", None), "bias": b,
                "expected": ref.reshape(*lead, n).astype(np.float32)}, op=op, group_size=gs)


def linears():
    seed = 10
    for op in QUANTIZERS:
        for lead, k, n, gs, bias in [
            ((1,), 576, 1536, 32, False),     # SmolLM2 FFN up, decode
            ((128,), 576, 1536, 64, True),    # prefill
            ((1,), 1536, 576, 128, False),    # FFN down
            ((7,), 97, 13, 32, True),         # odd K (unaligned rows), N not a multiple of 8
            ((7,), 200, 29, 64, False),       # K not a multiple of the group
            ((2, 3), 100, 17, 32, True),      # 3-D x
        ]:
            linear_case(op, lead, k, n, gs, bias, seed)
            seed += 1
    for i, (lead, k, n, bias) in enumerate([((1,), 576, 192, False), ((5,), 67, 11, True), ((2, 3), 64, 9, False)]):
        rng = np.random.default_rng(300 + i)  # fp32 weights (GGUF F32/F16): plain fp64 matmul
        x = rng.standard_normal((*lead, k)).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32) if bias else None
        ref = x.reshape(-1, k).astype(np.float64) @ w.T.astype(np.float64) + (0 if b is None else b)
        save(f"linear_f32_m{'x'.join(map(str, lead))}_k{k}_n{n}{'_bias' if bias else ''}",
             {"x": x, "weight": w, "bias": b, "expected": ref.reshape(*lead, n).astype(np.float32)}, op="linear_f32")
    for i, op in enumerate(QUANTIZERS):  # the decode path (M == 1, aligned K) at its edges
        linear_case(op, (1,), 64, 13, 32, True, 200 + 2 * i)     # N not a multiple of 4 columns
        linear_case(op, (1,), 200, 29, 64, False, 201 + 2 * i)   # last group partial


def linears_large():
    for i, (op, lead, k, n, gs) in enumerate([
        ("linear_q4gsw", (1,), 2048, 8192, 32),
        ("linear_q4gsw", (128,), 2048, 8192, 128),
        ("linear_q4gsw", (1,), 8192, 2048, 64),
        ("linear_q4gsw", (1,), 576, 49152, 32),   # LM-head rows
        ("linear_q4gaw", (1,), 2048, 8192, 32),
        ("linear_q8gsw", (1,), 576, 49152, 32),   # SmolLM2's tied Q8_0 LM head
        ("linear_q8gsw", (128,), 2048, 8192, 32),
    ]):
        linear_case(op, lead, k, n, gs, False, 100 + i)


# --- attention: torch F.scaled_dot_product_attention in fp64 ---

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


def sdpa_case(name, s, hq, hkv, d, cmax, pos, seed, big_logits=False, keep_caches=True):
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
    save(f"sdpa_{name}", {"q": q, "k": k, "v": v, "k_cache": k_cache, "v_cache": v_cache, "expected": expected,
                          "expected_k_cache": new_k if keep_caches else None,
                          "expected_v_cache": new_v if keep_caches else None},
         op="sdpa_with_kv_cache", input_pos=pos)


def sdpas():
    sdpa_case("gqa3_decode", s=1, hq=9, hkv=3, d=64, cmax=128, pos=37, seed=40)      # SmolLM2 heads
    sdpa_case("gqa2_prefill", s=13, hq=8, hkv=4, d=32, cmax=64, pos=5, seed=41)
    sdpa_case("mha", s=7, hq=4, hkv=4, d=16, cmax=32, pos=0, seed=42)
    sdpa_case("odd_ctx", s=3, hq=6, hkv=2, d=24, cmax=61, pos=44, seed=43)
    sdpa_case("big_logits", s=4, hq=2, hkv=1, d=8, cmax=16, pos=3, seed=44, big_logits=True)


def sdpas_large():
    sdpa_case("decode_pos4095", s=1, hq=9, hkv=3, d=64, cmax=4096, pos=4095, seed=50, keep_caches=False)
    # QK has 32 * 128 * 1128 invocations = 72192 workgroups of 64: past 65535 in a 1-D grid
    sdpa_case("prefill128_hq32", s=128, hq=32, hkv=8, d=64, cmax=1152, pos=1000, seed=51, keep_caches=False)


def replay(name, steps, hq, hkv, d, cmax, seed):
    """One sequence of steps on growing caches (start empty); each step's golden sees all before it."""
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
    save(f"replay_{name}", tensors, op="sdpa_replay", steps=",".join(map(str, steps)),
         hq=hq, hkv=hkv, d=d, cmax=cmax)


def replays():
    replay("a", [3, 1, 1, 5, 1, 1, 2], hq=9, hkv=3, d=64, cmax=32, seed=60)
    replay("b", [111, 1, 1, 1, 57, 1, 1], hq=4, hkv=2, d=32, cmax=192, seed=61)
    replay("decode", [4, 1, 1, 1, 1, 1, 1, 1], hq=6, hkv=2, d=16, cmax=16, seed=62)


# --- tokenizer and model: Hugging Face tokenizers (reference tokenizer), pyapp.reference ---

TOKENIZER_TEXTS = [
    "Hello world", "The capital of France is", "  leading spaces and trailing   ", "tabs\tand\nnewlines\n\n\nend",
    "don't stop: I'll, we've, they're, she'd, it's", "Numbers 12345 and 3.14159, 1st 2nd", "½ ² ٣ digits",
    "naïve café über straße", "中文字符和标点。", "emoji 🤗🚀 and ✓", "def f(x):\n    return x**2  # square",
    "<|im_start|>user\nHi<|im_end|>\n", "Mixed CASE and camelCaseWords", "a  b   c    d", "  \n  ",
    "punctuation!!! ??? ... ---", "'quoted' \"double\" `back`", "",
]
MODEL_PROMPTS = ["The capital of France is", "Once upon a time, in a small village,"]
MODEL_STEPS = 10
CHAT_QUESTION = "What is the capital of France?"


def tokenizer_goldens():
    import json

    from transformers import AutoTokenizer

    from pyapp.export import default_model

    gguf = default_model()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    cases = [{"text": t, "ids": tok(t, add_special_tokens=False)["input_ids"]} for t in TOKENIZER_TEXTS]
    path = OUT.parent.parent / "tests" / "data" / "tokenizer_smollm2.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"reference": f"transformers {__import__('transformers').__version__} "
                                             f"AutoTokenizer from {gguf.name}", "cases": cases},
                               ensure_ascii=False, indent=1))
    print(f"wrote {path.name} ({len(cases)} cases)")


def model_goldens():
    """Greedy ids and logits of each step, from the fp64 reference (checked against transformers)."""
    from pyapp.export import default_model
    from pyapp.reference import Reference
    from pyapp.runtime.tokenizer import Tokenizer
    from pyapp.export import read_gguf

    gguf = default_model()
    _, _, spec = read_gguf(gguf)
    tok = Tokenizer(spec)
    ref = Reference(gguf)
    for i, prompt in enumerate(MODEL_PROMPTS):
        ids = tok.encode(prompt)
        out, logits = ref.greedy(ids, MODEL_STEPS)
        save(f"model_smollm2_{i}", {"prompt_ids": np.array(ids, np.int32), "generated_ids": np.array(out, np.int32),
                                    "logits": np.stack(logits).astype(np.float32)},
             prompt=prompt, text=tok.decode(out), gguf_sha256="b179c9523d0e6a0f")
    # A chat turn, its prompt rendered by Jinja2 from the GGUF's own template; greedy up to <|im_end|>.
    import jinja2

    text = jinja2.Template(spec["chat_template"]).render(
        messages=[{"role": "user", "content": CHAT_QUESTION}], add_generation_prompt=True)
    ids = tok.encode(text)
    out, logits = ref.greedy(ids, 16)
    out = out[: out.index(spec["eos_id"]) + 1] if spec["eos_id"] in out else out
    save("model_smollm2_chat", {"prompt_ids": np.array(ids, np.int32), "generated_ids": np.array(out, np.int32),
                                "logits": np.stack(logits[: len(out)]).astype(np.float32)},
         question=CHAT_QUESTION, prompt=text, text=tok.decode(out, skip_control=True), gguf_sha256="b179c9523d0e6a0f")


def tiny_model():
    """Tiny GGUFs (tests/tiny_llama.py) and their greedy goldens: every simple type with an untied
    F16 head; a Q4_K_M-style mix of K-quants and 5-bit types (rows of 256 and more); and the
    architectures: Llama 3 RoPE factors, Qwen2, Qwen3."""
    import sys

    sys.path.insert(0, str(OUT.parent.parent / "tests"))
    import tiny_llama

    from pyapp.reference import Reference

    for name, shape in (("mixed", {}), ("kquant", {"dim": 256, "ffn": 512}),
                        ("llama3", {"rope_freqs": True}),                          # RoPE scaled by factors
                        ("qwen2", {"arch": "qwen2", "qkv_bias": True}),            # biases on Q, K, V
                        ("qwen3", {"arch": "qwen3", "qk_norm": True, "head_dim": 32})):  # head norms, D != dim/H
        types = tiny_llama.KQUANT if name == "kquant" else tiny_llama.MIXED
        gguf = tiny_llama.write(out_dir / f"tiny_{name}.gguf", types=types, seed=7, **shape)
        ids = [5, 17, 30, 8, 12, 44, 3]
        out, logits = Reference(gguf, max_context=64).greedy(ids, 12)
        margins = [float(np.sort(step)[-1] - np.sort(step)[-2]) for step in logits]
        print(f"tiny_{name}: smallest top-1/top-2 logit margin {min(margins):.4f}")  # greedy is safe above ~1e-3
        save(f"model_tiny_{name}", {"prompt_ids": np.array(ids, np.int32), "generated_ids": np.array(out, np.int32),
                                    "logits": np.stack(logits).astype(np.float32)}, gguf=f"tiny_{name}.gguf")


# --- the model's fused kernels: numpy fp64 references, written at test time (like the large linears) ---

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


def fused_attention_case(name, s, hq, hkv, d, cmax, pos, seed, big_logits=False):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((s, hq * d)).astype(np.float32)
    k_cache = rng.standard_normal((cmax, hkv * d)).astype(np.float32)
    v_cache = rng.standard_normal((cmax, hkv * d)).astype(np.float32)
    if big_logits:  # q.k * scale near 177: exp() overflows fp32 unless the max is subtracted
        a = np.sqrt(177 * np.sqrt(d) / d)
        q = (a + 0.05 * rng.standard_normal(q.shape)).astype(np.float32)
        k_cache = (a + 0.05 * rng.standard_normal(k_cache.shape)).astype(np.float32)
    save(f"fused_attention_{name}", {"q": q, "k_cache": k_cache, "v_cache": v_cache,
                                     "expected": np_attention(q, k_cache, v_cache, pos, hq, hkv)},
         op="attention", input_pos=pos, hq=hq, hkv=hkv)


def fused_attentions():
    fused_attention_case("decode_pos1899", s=1, hq=9, hkv=3, d=64, cmax=2048, pos=1899, seed=70)  # 32 splits
    fused_attention_case("decode_d128_g8", s=1, hq=16, hkv=2, d=128, cmax=1536, pos=1400, seed=71)
    fused_attention_case("prefill13", s=13, hq=8, hkv=2, d=32, cmax=256, pos=100, seed=72)
    fused_attention_case("odd_d24", s=3, hq=6, hkv=2, d=24, cmax=61, pos=44, seed=73)
    fused_attention_case("big_logits", s=4, hq=2, hkv=1, d=8, cmax=64, pos=40, seed=74, big_logits=True)
    fused_attention_case("first_token", s=1, hq=4, hkv=4, d=16, cmax=32, pos=0, seed=75)


class Arena:
    """Weights packed into one buffer at 256-byte offsets, as runtime/weights.py places them."""

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


def fused_linear_case(op, name, rows, seed, **shape):
    import json

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
    save(f"fused_{op}_{name}", tensors, op=op, spec=json.dumps(meta))


def fused_linears():
    for rows in (1, 5):  # decode (teams by kernel style) and prefill (rows per item)
        fused_linear_case("residual_linear", f"q4gaw_r{rows}", rows, 80 + rows, n=29, k=96, fmt="q4gaw")
        fused_linear_case("residual_linear", f"q4gsw_r{rows}", rows, 82 + rows, n=576, k=576, fmt="q4gsw")
        fused_linear_case("residual_linear", f"f32_r{rows}", rows, 84 + rows, n=37, k=64, fmt="f32")
        fused_linear_case("swiglu", f"mixed_r{rows}", rows, 86 + rows, n=37, k=64, gate="q4gsw", up="q8gsw")
        fused_linear_case("qkv_rope", f"mixed_r{rows}", rows, 88 + rows, k=64, d=16, hq=4, hkv=2, cmax=32, pos=9,
                          theta=10000.0, q_fmt="f32", k_fmt="q4gaw", v_fmt="q8gsw")
    fused_linear_case("residual_linear", "q4gsw_k2048_r1", 1, 92, n=67, k=2048, fmt="q4gsw")  # Llama-sized K
    # GGUF's K-quants as they are exported: Q4_K -> q4gaw/32, Q5_K -> q8gaw/32, Q6_K -> q8gsw/16
    for rows in (1, 5):
        fused_linear_case("residual_linear", f"q8gaw_r{rows}", rows, 93 + rows, n=31, k=96, fmt="q8gaw")
        fused_linear_case("swiglu", f"kquant_r{rows}", rows, 95 + rows, n=37, k=64, gate="q4gaw", up="q8gsw/16")
        fused_linear_case("qkv_rope", f"kquant_r{rows}", rows, 97 + rows, k=64, d=16, hq=4, hkv=2, cmax=32, pos=3,
                          theta=500000.0, q_fmt="q4gaw", k_fmt="q8gaw", v_fmt="q8gsw/16")
    fused_linear_case("norm_linear", "q8gsw", 4, 90, n=301, k=96, fmt="q8gsw", first=2)
    fused_linear_case("norm_linear", "q4gaw_vocab", 1, 91, n=49152, k=576, fmt="q4gaw", first=0)


FAMILIES = {"infra": [infra], "linear": [linears], "sdpa": [sdpas, sdpas_large, replays],
            "large": [linears_large, fused_attentions, fused_linears, lambda: vocab_models(out_dir)], "tokenizer": [tokenizer_goldens],
            "model": [model_goldens, tiny_model]}


def main():
    global out_dir
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=sorted(FAMILIES), help="write one family of goldens")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output directory (default {OUT})")
    args = ap.parse_args()
    out_dir = args.out
    for family, makers in FAMILIES.items():
        if args.only == family or (args.only is None and family != "large"):
            for make in makers:
                make()


if __name__ == "__main__":
    main()
