"""Check pyapp.reference against an independent implementation, once (not part of `make test`).

    pip install torch transformers tokenizers accelerate && python tests_e2e/check_reference.py

Hugging Face transformers loads the same GGUF with its own dequantizer, un-permutes Q/K for
its rotate-half RoPE and runs LlamaForCausalLM (fp32). This prints, per prompt, both greedy
continuations and the largest logit difference; the tokenizer is compared on the same text.
"""

import sys

import numpy as np

from pyapp.export import default_model
from pyapp.reference import Reference

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time, in a small village,"]


def main(n_tokens: int = 12) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = default_model()
    hf_tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    hf = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    ref = Reference(gguf)
    worst = 0.0
    for prompt in PROMPTS:
        ids = hf_tok(prompt)["input_ids"]
        ours, our_logits = ref.greedy(ids, n_tokens)
        with torch.no_grad():
            out = hf.generate(torch.tensor([ids]), max_new_tokens=n_tokens, do_sample=False,
                              output_logits=True, return_dict_in_generate=True)
        theirs = out.sequences[0, len(ids):].tolist()
        diff = max(float(np.abs(a - b[0].numpy()).max()) for a, b in zip(our_logits, out.logits))
        worst = max(worst, diff)
        print(f"{prompt!r}\n  ids     {ids}\n  pyapp   {ours} {hf_tok.decode(ours)!r}\n"
              f"  hf      {theirs} {hf_tok.decode(theirs)!r}\n  max |logit diff| {diff:.2e}")
        if ours != theirs:
            print("  MISMATCH in greedy tokens")
            return 1
    print(f"reference agrees with transformers; worst logit difference {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
