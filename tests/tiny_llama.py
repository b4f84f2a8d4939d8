"""Write small llama GGUFs with gguf's own writer: every tensor type we run, in one model.

Used by the exporter's unit tests and by tests_e2e/make_goldens.py (the "your own model" e2e).
gguf quantizes the simple types itself; the K-quants and I-quants (which it only dequantizes) get
seeded random blocks whose scales give weights of about the same size as the others.
"""

from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGML_QUANT_SIZES, GGUFWriter, RopeScalingType
from gguf.quants import quantize

# Every supported type somewhere, and an untied F16 LM head.
MIXED = {"token_embd": Q.Q8_0, "attn_q": Q.Q4_0, "attn_k": Q.Q4_1, "attn_v": Q.Q8_0, "attn_output": Q.F16,
         "ffn_gate": Q.Q4_1, "ffn_up": Q.Q4_0, "ffn_down": Q.F32, "output": Q.F16}
# As llama.cpp's Q4_K_M mixes them (Q6_K for the embedding, V and down), plus the 5-bit types.
KQUANT = {"token_embd": Q.Q6_K, "attn_q": Q.Q4_K, "attn_k": Q.Q5_K, "attn_v": Q.Q6_K, "attn_output": Q.Q4_K,
          "ffn_gate": Q.Q5_0, "ffn_up": Q.Q5_1, "ffn_down": Q.Q6_K, "output": Q.Q4_K}
# Every type whose --blocks tables are the file's f16s (formats.HALF_TABLES); ffn_down's K = 96: 3 groups a row.
HALF = {"token_embd": Q.Q5_1, "attn_q": Q.Q4_0, "attn_k": Q.Q4_1, "attn_v": Q.Q5_0, "attn_output": Q.Q5_1,
        "ffn_gate": Q.Q8_0, "ffn_up": Q.IQ4_NL, "ffn_down": Q.Q4_0, "output": Q.Q8_0}
# Types gguf only dequantizes: their bytes a block (of 256, or 32 for IQ4_NL).
K_BYTES = {Q.Q4_K: 144, Q.Q5_K: 176, Q.Q6_K: 210, Q.Q2_K: 84, Q.Q3_K: 110, Q.IQ4_NL: 18, Q.IQ4_XS: 136}
# The low-bit K-quants and the I-quants, with Q4_K and Q6_K (as a Q3_K_M or IQ4_XS file mixes them).
LOWBIT = {"token_embd": Q.Q6_K, "attn_q": Q.Q3_K, "attn_k": Q.Q2_K, "attn_v": Q.IQ4_XS, "attn_output": Q.IQ4_NL,
          "ffn_gate": Q.Q2_K, "ffn_up": Q.Q3_K, "ffn_down": Q.IQ4_XS, "output": Q.IQ4_NL}


def _f16_field(blocks, at: int, value: float):
    blocks[..., at:at + 2] = np.full((*blocks.shape[:2], 1), value, np.float16).view(np.uint8)


def kquant(rng, n: int, k: int, qtype) -> np.ndarray:
    """Valid random blocks of a type gguf cannot write (n, k/block blocks): every code and sub-scale
    random, the f16 scales set so that weights are of scale about 1/sqrt(k)."""
    block = 32 if qtype == Q.IQ4_NL else 256
    blocks = rng.integers(0, 256, (n, k // block, K_BYTES[qtype]), dtype=np.uint8)
    unit = 1 / np.sqrt(k)
    if qtype == Q.Q6_K:  # w = d * sc * (q - 32), sc int8
        blocks[..., 192:208] = rng.integers(-63, 64, (n, k // 256, 16)).astype(np.int8).view(np.uint8)
        _f16_field(blocks, 208, unit / (32 * 40))
    elif qtype in (Q.Q4_K, Q.Q5_K):  # w = d * sc * q - dmin * m, 6-bit sc, m: centred when dmin * m ~ d * sc * 7.5
        top = 15 if qtype == Q.Q4_K else 31
        _f16_field(blocks, 0, unit / (top * 32))
        _f16_field(blocks, 2, unit / 64)
    elif qtype == Q.Q2_K:  # w = d * sc * q - dmin * m, 2-bit q, 4-bit sc and m: centred when dmin ~ 1.5 d
        _f16_field(blocks, 80, unit / 20)
        _f16_field(blocks, 82, unit / 13)
    elif qtype == Q.Q3_K:  # w = d * (sc - 32) * q, q in -4..3, 6-bit sc
        _f16_field(blocks, 108, unit / 64)
    else:  # IQ4_NL: w = d * v, IQ4_XS: d * (sc - 32) * v, v of the codebook (|v| <= 127)
        _f16_field(blocks, 0, unit / 64 if qtype == Q.IQ4_NL else unit / 2000)
    return blocks.reshape(n, -1)


def toy_tokenizer(vocab: int) -> dict:
    """A toy byte-level vocabulary: ChatML's control tokens, letters, a few merges, filler tokens."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    letters = [chr(ord("a") + i) for i in range(26)] + [" "]
    tokens = specials + letters + [a + b for a, b in zip("etaoinshrdlu", "hnrestaledro")]
    tokens = (tokens + [f"t{i}" for i in range(vocab)])[:vocab]
    return {"tokens": tokens, "token_type": [3] * len(specials) + [1] * (vocab - len(specials)),
            "merges": [f"{t[0]} {t[1]}" for t in tokens[len(specials) + 27:] if len(t) == 2 and t[0] != "t"],
            "bos_id": 0, "eos_id": 2}


def add_tokenizer(wr: GGUFWriter, spec: dict):
    """tokenizer.ggml.* from a byte-level BPE or SentencePiece spec (pyapp.export.tokenizer_config's keys)."""
    wr.add_tokenizer_model(spec.get("model", "gpt2"))
    if "pre" in spec:
        wr.add_tokenizer_pre(spec["pre"])
    wr.add_token_list(spec["tokens"])
    wr.add_token_types(spec["token_type"])
    if "merges" in spec:
        wr.add_token_merges(spec["merges"])
    if "scores" in spec:  # SentencePiece
        wr.add_token_scores(spec["scores"])
        wr.add_add_space_prefix(spec["add_space_prefix"])
    wr.add_bos_token_id(spec["bos_id"])
    wr.add_eos_token_id(spec["eos_id"])
    if "add_bos" in spec:
        wr.add_add_bos_token(spec["add_bos"])
    if spec.get("chat_template"):
        wr.add_chat_template(spec["chat_template"])


def write(path, *, arch="llama", layers=2, dim=64, heads=4, kv=2, ffn=96, vocab=48, types=None, seed=0,
          head_dim=None, rope_freqs=False, qkv_bias=False, qk_norm=False, tokenizer=None, context=128):
    """head_dim: a head size other than dim / heads (Qwen3's key_length); rope_freqs: llama3-style
    RoPE factors; qkv_bias: Qwen2's biases on Q, K, V; qk_norm: Qwen3's norms of Q and K heads;
    tokenizer: a real one (tests/real_tokenizers.py), whose size sets the vocabulary. arch "phi3"
    writes Phi-3.5's layout: fused attn_qkv (attn_q's type) and gate/up (ffn_up's), LongRoPE's
    short and long factors with their attention factor, an original context and a sliding window;
    arch "gemma3" Gemma 3's: norms after attention and the FFN, a sliding window of 5 positions,
    RoPE base 10^6 scaled linearly by 8 on the global layers (every sixth); arch "gemma2" Gemma
    2's: the same norms, every other layer local with a window of 5, scores soft-capped at 2 and
    logits at 3 (the real ones' 50 and 30 would hardly bend these small values)."""
    types = {**{k: Q.Q8_0 for k in MIXED if k != "output"}, **(types or {})}
    rng = np.random.default_rng(seed)
    wr = GGUFWriter(str(path), arch)
    wr.add_block_count(layers)
    wr.add_context_length(context)
    wr.add_embedding_length(dim)
    wr.add_feed_forward_length(ffn)
    wr.add_head_count(heads)
    wr.add_head_count_kv(kv)
    wr.add_rope_freq_base(1e6 if arch == "gemma3" else 10000.0 if not rope_freqs else 500000.0)
    if head_dim:
        wr.add_key_length(head_dim)
        wr.add_value_length(head_dim)
    wr.add_layer_norm_rms_eps(1e-5)
    if tokenizer:
        vocab = len(tokenizer["tokens"])
        add_tokenizer(wr, tokenizer)
    else:
        add_tokenizer(wr, toy_tokenizer(vocab))

    def tensor(name, shape, qtype):
        w = (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)
        if len(shape) == 1:
            w = (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)  # norm weights near 1
        if qtype == Q.F32:
            wr.add_tensor(name, w)
        elif qtype == Q.F16:
            wr.add_tensor(name, w.astype(np.float16))
        elif qtype in K_BYTES:
            wr.add_tensor(name, kquant(rng, *shape, qtype), raw_dtype=qtype)
        else:  # quantized bytes; gguf infers the element shape from them
            try:
                data = quantize(w, qtype)
            except NotImplementedError:  # a type gguf cannot write nor we run (IQ2_S ...): zero blocks
                block, size = GGML_QUANT_SIZES[qtype]
                data = np.zeros((shape[0], shape[1] // block * size), np.uint8)
            wr.add_tensor(name, data, raw_dtype=qtype)

    hd = head_dim or dim // heads
    if rope_freqs:  # as llama.cpp writes Llama 3.1's: a divisor per frequency, 1 for the fast ones
        wr.add_tensor("rope_freqs.weight", np.geomspace(1.0, 8.0, hd // 2).astype(np.float32))
    layer = [("attn_q", (heads * hd, dim)), ("attn_k", (kv * hd, dim)), ("attn_v", (kv * hd, dim)),
             ("attn_output", (dim, heads * hd)), ("ffn_gate", (ffn, dim)), ("ffn_up", (ffn, dim)),
             ("ffn_down", (dim, ffn))]
    if arch == "phi3":  # the context stops at the original one (96), inside the window (112)
        wr.add_rope_dimension_count(hd)
        wr.add_rope_scaling_orig_ctx_len(96)
        wr.add_rope_scaling_attn_factors(1.19)
        wr.add_sliding_window(112)
        wr.add_tensor("rope_factors_long.weight", np.geomspace(1.0, 40.0, hd // 2).astype(np.float32))
        wr.add_tensor("rope_factors_short.weight", np.geomspace(1.0, 3.0, hd // 2).astype(np.float32))
        types = {**types, "attn_qkv": types["attn_q"]}
        layer = [("attn_qkv", ((heads + 2 * kv) * hd, dim)), layer[3], ("ffn_up", (2 * ffn, dim)), layer[6]]
    if arch == "gemma2":
        wr.add_sliding_window(5)
        wr.add_float32("gemma2.attn_logit_softcapping", 2.0)
        wr.add_float32("gemma2.final_logit_softcapping", 3.0)
    if arch == "gemma3":
        wr.add_sliding_window(5)
        wr.add_rope_scaling_type(RopeScalingType.LINEAR)
        wr.add_rope_scaling_factor(8.0)
    tensor("token_embd.weight", (vocab, dim), types["token_embd"])
    tensor("output_norm.weight", (dim,), Q.F32)
    if "output" in types:
        tensor("output.weight", (vocab, dim), types["output"])
    for i in range(layers):
        for name, shape in layer:
            tensor(f"blk.{i}.{name}.weight", shape, types[name])
        for t, rows in (("q", heads * hd), ("k", kv * hd), ("v", kv * hd)) if qkv_bias else ():
            wr.add_tensor(f"blk.{i}.attn_{t}.bias", (0.5 * rng.standard_normal(rows)).astype(np.float32))
        for t in ("q", "k") if qk_norm else ():
            tensor(f"blk.{i}.attn_{t}_norm.weight", (hd,), Q.F32)
        tensor(f"blk.{i}.attn_norm.weight", (dim,), Q.F32)
        tensor(f"blk.{i}.ffn_norm.weight", (dim,), Q.F32)
        for name in ("post_attention_norm", "post_ffw_norm") if arch in ("gemma2", "gemma3") else ():
            tensor(f"blk.{i}.{name}.weight", (dim,), Q.F32)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return path
