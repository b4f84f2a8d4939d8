"""Tiny Q4_K_M-style Llama 3, Qwen2 and Qwen3 models with the real tokenizers and chat templates
(tests/real_tokenizers.py), and their goldens: written by make_goldens.py's "large" family into
.cache/goldens (the models are 27-32 MB each, too big to commit), read by test_real_vocab.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

TESTS = Path(__file__).resolve().parent.parent / "tests"
VOCAB_QUESTION = "What is the capital of France? Answer in one word, café-style: 1234 ½ 中文 🤗."
# Q4_K_M-style, tied head, with a real tokenizer and its chat template (tests/real_tokenizers.py)
VOCAB_MODELS = {"llama3": ("llama3", {"arch": "llama", "rope_freqs": True}),
                "qwen2": ("qwen2.5", {"arch": "qwen2", "qkv_bias": True}),
                "qwen3": ("qwen3", {"arch": "qwen3", "qk_norm": True, "head_dim": 128})}


def vocab_models(out_dir: Path):
    """Tiny Q4_K_M-style Llama 3, Qwen2 and Qwen3 models with the real tokenizers (128,256 and
    151,665 tokens): the GGUF, the chat prompt's ids as the reference tokenizer writes them (Hugging
    Face's for Llama 3, tiktoken for Qwen), and the reference's greedy tokens and logits."""
    import jinja2.sandbox
    from gguf import GGMLQuantizationType as Q

    sys.path.insert(0, str(TESTS))
    import real_tokenizers
    import tiny_llama

    from pyapp.reference import Reference

    out_dir.mkdir(parents=True, exist_ok=True)
    types = {**tiny_llama.KQUANT, "token_embd": Q.Q4_K}
    del types["output"]  # tied, as in Llama 3.2 1B and Qwen2.5 0.5B
    for name, (tokenizer, shape) in VOCAB_MODELS.items():
        spec = real_tokenizers.llama3() if tokenizer == "llama3" else real_tokenizers.qwen(
            26 if tokenizer == "qwen3" else 22)
        gguf = tiny_llama.write(out_dir / f"vocab_{name}.gguf", types=types, seed=11, dim=256, ffn=512,
                                tokenizer=spec, **shape)
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        prompt = env.from_string(spec["chat_template"]).render(
            messages=[{"role": "user", "content": VOCAB_QUESTION}], add_generation_prompt=True,
            bos_token=spec["tokens"][spec["bos_id"]], eos_token=spec["tokens"][spec["eos_id"]])
        if tokenizer == "llama3":
            from tokenizers import Tokenizer

            ids = Tokenizer.from_file(str(real_tokenizers.llama3_json())).encode(prompt, add_special_tokens=False).ids
        else:
            ids = real_tokenizers.qwen_tiktoken(len(spec["tokens"]) - 151643).encode(prompt, allowed_special="all")
        out, logits = Reference(gguf, max_context=128).greedy(ids, 8)
        margins = [float(np.sort(step)[-1] - np.sort(step)[-2]) for step in logits]
        print(f"vocab_{name}: {len(ids)} prompt tokens, smallest top-1/top-2 logit margin {min(margins):.4f}")
        tensors = {"prompt_ids": np.array(ids, np.int32), "generated_ids": np.array(out, np.int32),
                   "logits": np.stack(logits).astype(np.float32)}
        save_file(tensors, str(out_dir / f"model_vocab_{name}.safetensors"),
                  metadata={"gguf": f"vocab_{name}.gguf", "question": VOCAB_QUESTION, "prompt": prompt})
        print(f"wrote model_vocab_{name}.safetensors")


