"""Write the e2e goldens: inputs and expected outputs, computed on the host ahead of time.

    python tests_e2e/make_goldens.py                        # the committed goldens (needs torch)
    python tests_e2e/make_goldens.py --only large --out DIR # LLM-sized linears and the fused
                                                            # kernels' cases (numpy only)

References, independent of the runtime: numpy fp64 for the infrastructure kernels and for the
model's fused kernels (norms, RoPE, softmax written out in numpy); each op's own in op_tests/
(the linears: dequantize, then matmul in fp64; sdpa: torch's F.scaled_dot_product_attention in
fp64). Files are safetensors (see goldens/README.md); the tests only read them. Seeds are
fixed, so a rerun reproduces the files. `make test` writes the large linears (about 70 MB,
too big to commit) into .cache/goldens once, before the browser runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from op_tests import write_family
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
    F16 head; a Q4_K_M-style mix of K-quants and 5-bit types (rows of 256 and more); the 2- and
    3-bit K-quants with the I-quants; and the architectures: Llama 3 RoPE factors, Qwen2, Qwen3, Phi-3,
    Gemma 3 and Gemma 2 (their prompt and answer run past the local layers' window of 5)."""
    import sys

    sys.path.insert(0, str(OUT.parent.parent / "tests"))
    import tiny_llama

    from pyapp.reference import Reference

    types = {"kquant": tiny_llama.KQUANT, "lowbit": tiny_llama.LOWBIT}
    for name, shape in (("mixed", {}), ("kquant", {"dim": 256, "ffn": 512}), ("lowbit", {"dim": 256, "ffn": 512}),
                        ("llama3", {"rope_freqs": True}),                          # RoPE scaled by factors
                        ("qwen2", {"arch": "qwen2", "qkv_bias": True}),            # biases on Q, K, V
                        ("qwen3", {"arch": "qwen3", "qk_norm": True, "head_dim": 32}),   # head norms, D != dim/H
                        ("phi3", {"arch": "phi3", "dim": 96, "ffn": 128}),   # fused Q/K/V, gate/up; LongRoPE; D 24
                        ("gemma3", {"arch": "gemma3", "layers": 6, "qk_norm": True,  # 5 local, 1 global; as the
                                    "heads": 4, "kv": 1, "head_dim": 256}),          # 1B: 4 heads of 256, 1 kv head
                        ("gemma2", {"arch": "gemma2", "layers": 4})):  # soft-capped scores and logits
        gguf = tiny_llama.write(out_dir / f"tiny_{name}.gguf", types=types.get(name, tiny_llama.MIXED), seed=7, **shape)
        ids = [5, 17, 30, 8, 12, 44, 3]
        out, logits = Reference(gguf, max_context=64).greedy(ids, 12)
        margins = [float(np.sort(step)[-1] - np.sort(step)[-2]) for step in logits]
        print(f"tiny_{name}: smallest top-1/top-2 logit margin {min(margins):.4f}")  # greedy is safe above ~1e-3
        save(f"model_tiny_{name}", {"prompt_ids": np.array(ids, np.int32), "generated_ids": np.array(out, np.int32),
                                    "logits": np.stack(logits).astype(np.float32)}, gguf=f"tiny_{name}.gguf")


def prefill_models():
    """Tiny GGUFs whose GPU prefill runs on subgroup matrices where Chrome offers them (heads of 64
    or 128, the matrix kernels' sizes) and their goldens after a 480-token prompt, long enough for
    chunks past the first 128-row tile: 4 query heads of 128 to one kv head (as Llama-3.1-8B's
    groups), the Q4_K_M-style K-quant mix, and a Gemma 2 with windows and soft caps. They are what
    pyapp.runtime.bench.golden_check runs on a lent GPU (README, "Prefill on subgroup matrices")."""
    import sys

    sys.path.insert(0, str(OUT.parent.parent / "tests"))
    import tiny_llama

    from pyapp.reference import Reference

    prompt = [1, *np.random.default_rng(4).integers(3, 48, 479).tolist()]
    for name, shape in (("heads128", {"types": tiny_llama.MIXED, "dim": 512, "heads": 4, "kv": 1}),
                        ("kquant", {"types": tiny_llama.KQUANT, "dim": 256, "ffn": 512}),
                        ("gemma2", {"arch": "gemma2", "types": tiny_llama.MIXED, "seed": 13, "dim": 256, "kv": 2})):
        gguf = tiny_llama.write(out_dir / f"prefill_{name}.gguf", **{"seed": 11, **shape}, context=1024)
        out, logits = Reference(gguf).greedy(prompt, 4)
        margins = [float(np.sort(step)[-1] - np.sort(step)[-2]) for step in logits]
        print(f"prefill_{name}: smallest top-1/top-2 logit margin {min(margins):.4f}")
        save(f"model_prefill_{name}", {"prompt_ids": np.array(prompt, np.int32), "generated_ids": np.array(out, np.int32),
                                       "logits": np.stack(logits).astype(np.float32)}, gguf=f"prefill_{name}.gguf")


# The ops' goldens: each op's cases and reference live in op_tests/ (registered by family).
FAMILIES = {"infra": [infra],
            "linear": [lambda: write_family("linear", save)],
            "sdpa": [lambda: write_family("sdpa", save)],
            "large": [lambda: write_family("large", save), lambda: vocab_models(out_dir)],
            "tokenizer": [tokenizer_goldens],
            "model": [model_goldens, tiny_model],
            "prefill": [prefill_models]}


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
