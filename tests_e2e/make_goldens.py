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

from fused_goldens import fused_attentions, fused_linears
from pyapp.convert import quant
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
    from pyapp.runtime.tokenizer.tokenizer import Tokenizer
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


FAMILIES = {"infra": [infra], "linear": [linears], "sdpa": [sdpas, sdpas_large, replays],
            "large": [linears_large, lambda: fused_attentions(save), lambda: fused_linears(save),
              lambda: vocab_models(out_dir)],
    "tokenizer": [tokenizer_goldens],
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
