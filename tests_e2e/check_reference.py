"""Check pyapp.reference against an independent implementation, once (not part of `make test`).

    pip install torch transformers tokenizers accelerate && python tests_e2e/check_reference.py

Hugging Face transformers loads the same GGUF with its own loader (it un-permutes Q/K for its
rotate-half RoPE) and runs the model in fp32. For SmolLM2 this prints, per prompt, both greedy
continuations and the largest logit difference, with the tokenizer compared on the same text.
For the tiny GGUFs in goldens/ (one per architecture and a K-quant mix) it compares transformers
with the committed goldens the e2e tests assert against: the same greedy tokens, and logits
within TOLERANCE. Llama 3's `rope_freqs.weight` has no place in transformers' GGUF config, so
its rotary frequencies are divided by the file's factors by hand, as llama.cpp applies them.
"""

import sys
from pathlib import Path

import numpy as np
from gguf import GGUFReader

from pyapp.export import default_model
from pyapp.reference import Reference

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time, in a small village,"]
GOLDENS = Path(__file__).parent / "goldens"
TINY = ["mixed", "kquant", "lowbit", "llama3", "qwen2", "qwen3", "phi3", "gemma3", "gemma2"]
TOLERANCE = 1e-4


def load(gguf: Path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    reader = GGUFReader(gguf)
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    key_length = reader.fields.get(f"{arch}.attention.key_length")
    if key_length is not None:  # transformers' GGUF config leaves Qwen3's head size at its default
        config.head_dim = int(key_length.parts[-1][0])
    hf = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, config=config,
                                              dtype=torch.float32)
    factors = [t for t in reader.tensors if t.name == "rope_freqs.weight"]
    if factors:  # divide every rotary frequency by its factor (the buffers transformers keeps)
        rotary = hf.model.rotary_emb
        for name in ("inv_freq", "original_inv_freq"):
            if hasattr(rotary, name):
                setattr(rotary, name, getattr(rotary, name) / torch.from_numpy(np.array(factors[0].data, np.float32)))
    return hf.eval()


def hf_greedy(hf, ids: list[int], n: int):
    import torch

    with torch.no_grad():
        out = hf.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, output_logits=True,
                          return_dict_in_generate=True, pad_token_id=0)
    return out.sequences[0, len(ids):].tolist(), [x[0].numpy() for x in out.logits]


def check_smollm2(n_tokens: int = 12) -> float:
    from transformers import AutoTokenizer

    gguf = default_model()
    hf_tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    hf, ref = load(gguf), Reference(gguf)
    worst = 0.0
    for prompt in PROMPTS:
        ids = hf_tok(prompt)["input_ids"]
        ours, our_logits = ref.greedy(ids, n_tokens)
        theirs, their_logits = hf_greedy(hf, ids, n_tokens)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(our_logits, their_logits))
        worst = max(worst, diff)
        print(f"{prompt!r}\n  ids     {ids}\n  pyapp   {ours} {hf_tok.decode(ours)!r}\n"
              f"  hf      {theirs} {hf_tok.decode(theirs)!r}\n  max |logit diff| {diff:.2e}")
        if ours != theirs:
            raise SystemExit(f"{prompt!r}: greedy tokens differ")
    return worst


def check_tiny(name: str) -> float:
    from safetensors.numpy import load_file

    gold = load_file(GOLDENS / f"model_tiny_{name}.safetensors")
    ids, want = gold["prompt_ids"].tolist(), gold["generated_ids"].tolist()
    theirs, logits = hf_greedy(load(GOLDENS / f"tiny_{name}.gguf"), ids, len(want))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(gold["logits"], logits))
    print(f"tiny_{name}: golden {want}\n  hf     {theirs}\n  max |logit diff| {diff:.2e}")
    if theirs != want or diff > TOLERANCE:
        raise SystemExit(f"tiny_{name}: transformers disagrees with the golden")
    return diff


def main() -> int:
    names = sys.argv[1:] or ["smollm2", *TINY]
    worst = max(check_smollm2() if n == "smollm2" else check_tiny(n) for n in names)
    print(f"reference agrees with transformers on {', '.join(names)}; worst logit difference {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
