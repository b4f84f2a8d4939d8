"""Write small llama GGUFs with gguf's own writer: every tensor type we run, in one model.

Used by the exporter's unit tests and by tests_e2e/make_goldens.py (the "your own model" e2e).
"""

from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter
from gguf.quants import quantize

# Every supported type somewhere, and an untied F16 LM head.
MIXED = {"token_embd": Q.Q8_0, "attn_q": Q.Q4_0, "attn_k": Q.Q4_1, "attn_v": Q.Q8_0, "attn_output": Q.F16,
         "ffn_gate": Q.Q4_1, "ffn_up": Q.Q4_0, "ffn_down": Q.F32, "output": Q.F16}


def write(path, *, arch="llama", layers=2, dim=64, heads=4, kv=2, ffn=96, vocab=48, types=None, seed=0):
    types = {**{k: Q.Q8_0 for k in MIXED if k != "output"}, **(types or {})}
    rng = np.random.default_rng(seed)
    wr = GGUFWriter(str(path), arch)
    wr.add_block_count(layers)
    wr.add_context_length(128)
    wr.add_embedding_length(dim)
    wr.add_feed_forward_length(ffn)
    wr.add_head_count(heads)
    wr.add_head_count_kv(kv)
    wr.add_rope_freq_base(10000.0)
    wr.add_layer_norm_rms_eps(1e-5)
    wr.add_tokenizer_model("gpt2")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    letters = [chr(ord("a") + i) for i in range(26)] + [" "]
    tokens = specials + letters + [a + b for a, b in zip("etaoinshrdlu", "hnrestaledro")]
    tokens = (tokens + [f"t{i}" for i in range(vocab)])[:vocab]
    wr.add_token_list(tokens)
    wr.add_token_types([3] * len(specials) + [1] * (vocab - len(specials)))
    wr.add_token_merges([f"{t[0]} {t[1]}" for t in tokens[len(specials) + 27:] if len(t) == 2 and t[0] != "t"])
    wr.add_bos_token_id(0)
    wr.add_eos_token_id(2)

    def tensor(name, shape, qtype):
        w = (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)
        if len(shape) == 1:
            w = (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)  # norm weights near 1
        if qtype == Q.F32:
            wr.add_tensor(name, w)
        elif qtype == Q.F16:
            wr.add_tensor(name, w.astype(np.float16))
        else:  # quantized bytes; gguf infers the element shape from them
            wr.add_tensor(name, quantize(w, qtype), raw_dtype=qtype)

    hd = dim // heads
    tensor("token_embd.weight", (vocab, dim), types["token_embd"])
    tensor("output_norm.weight", (dim,), Q.F32)
    if "output" in types:
        tensor("output.weight", (vocab, dim), types["output"])
    for i in range(layers):
        for name, shape in [("attn_q", (dim, dim)), ("attn_k", (kv * hd, dim)), ("attn_v", (kv * hd, dim)),
                            ("attn_output", (dim, dim)), ("ffn_gate", (ffn, dim)), ("ffn_up", (ffn, dim)),
                            ("ffn_down", (dim, ffn))]:
            tensor(f"blk.{i}.{name}.weight", shape, types[name])
        tensor(f"blk.{i}.attn_norm.weight", (dim,), Q.F32)
        tensor(f"blk.{i}.ffn_norm.weight", (dim,), Q.F32)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return path
