"""What a GGUF's header says about its model, in plain Python: the config, the tokenizer, and how
each tensor is stored for our kernels. One description for the host exporter (pyapp/export.py,
which converts the data with numpy) and the page (which repacks it on the GPU: repack.py),
so the two cannot drift.

`describe(header, read)` checks the metadata against the tensors and returns (config, tokenizer):
config is what a bundle's config.json holds (runtime/model/config.py parses it), with an entry per
tensor (format, shape, group size); tokenizer is what runtime/tokenizer/tokenizer.py takes. Anything we do
not run is refused with UnsupportedModel, in one line naming the key or tensor; all the
unsupported tensor types of a file are named at once.

Qwen2/Qwen3 and Phi-3 rotate the halves of each head (i, i + D/2) where our kernels rotate adjacent
pairs (2i, 2i+1): their Q/K rows (and biases and head norms) are stored reordered into pairs
(`pair_order`), which leaves every attention score unchanged.

Phi-3 fuses Q/K/V into attn_qkv and gate/up into ffn_up. A GGUF stores a matrix row after row, so
each part is a range of the fused tensor's bytes: describe() replaces the fused entries of
header.tensors by their parts (`unfuse`), and both paths go on as for a llama file.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import replace

from ..model.config import lacks
from ..tokenizer.pretokenize import PRETOKENIZERS  # the pre-tokenizers the page implements

# GGUF type -> (our stored format, group size): the codes stay as they are (pyapp/convert/gguf_types.py)
STORED_AS = {"F32": ("f32", 0), "F16": ("f32", 0), "BF16": ("f32", 0),
           "Q4_0": ("q4gsw", 32), "Q4_1": ("q4gaw", 32), "Q5_0": ("q8gsw", 32), "Q5_1": ("q8gaw", 32),
           "Q8_0": ("q8gsw", 32), "Q4_K": ("q4gaw", 32), "Q5_K": ("q8gaw", 32), "Q6_K": ("q8gsw", 16),
           "Q2_K": ("q4gaw", 16), "Q3_K": ("q4gsw", 16), "IQ4_NL": ("q8gsw", 32), "IQ4_XS": ("q8gsw", 32)}
SUPPORTED = tuple(STORED_AS)
# ... or, for the fused kernels (and the embedding op), as the file's own blocks (formats.GGUF_BLOCKS):
# a copy of the bytes (Q6_K's d moved beside them as f32); the types whose scales (and offsets) are
# the file's f16s themselves keep those as f16 beside our codes (formats.HALF_TABLES).
AS_BLOCKS = {"Q4_K": ("q4k", 32), "Q5_K": ("q5k", 32), "Q6_K": ("q6k", 16),
             **{t: (f"{STORED_AS[t][0]}_f16", 32) for t in ("Q4_0", "Q4_1", "Q8_0", "IQ4_NL")},
             "Q5_0": ("q5gsw_f16", 32), "Q5_1": ("q5gaw_f16", 32)}  # 5-bit codes: nibbles and the file's qh
ARCHITECTURES = ("llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3")  # Mistral-style files are "llama"
ROTATES_HALVES = ("qwen2", "qwen3", "phi3", "gemma2", "gemma3")  # llama.cpp's LLAMA_ROPE_TYPE_NEOX ones among ours
GEMMAS = ("gemma2", "gemma3")
# Gemma as llama.cpp runs it: (sliding-window period, default window, local layers' RoPE base;
# None: the global layers' tables). Gemma 2 alternates local and global layers; Gemma 3 has five
# local layers to a global one, those at base 10,000 without the file's RoPE scaling.
GEMMA = {"gemma2": (2, 4096, None), "gemma3": (6, None, 10000.0)}
# layer counts of the 27B models, which scale scores by 1/sqrt(dim / heads), not by the head size
GEMMA_27B_LAYERS = {"gemma2": 46, "gemma3": 62}
HEAD_ROWS = re.compile(r"blk\.\d+\.attn_(q|k)(\.weight|\.bias|_norm\.weight)")
LAYER_TENSORS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")
TOKENIZER_MODELS = {"gpt2": "byte-level BPE", "llama": "SentencePiece BPE"}  # tokenizer.ggml.model values we run
NOT_A_WEIGHT = "rope_freqs.weight"  # llama3 RoPE factors: they go into the config
SHORT_FACTORS = "rope_factors_short.weight"  # Phi-3's LongRoPE factors up to the original context
LONG_FACTORS = "rope_factors_long.weight"    # ... and beyond it (not run: the context stops there)
FACTORS = (NOT_A_WEIGHT, SHORT_FACTORS, LONG_FACTORS)

_REQUIRED = object()


class UnsupportedModel(ValueError):
    """A GGUF whose metadata we cannot run or that disagrees with its tensors; one line."""


def _show(value) -> str:
    """A value from the file, short and on one line, for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """A header's key-values, read with checks that name the key."""

    def __init__(self, fields: dict):
        self.fields = fields

    def get(self, key, default=_REQUIRED):
        if key not in self.fields:
            if default is _REQUIRED:
                raise UnsupportedModel(f"missing key {key}")
            return default
        return self.fields[key]

    def count(self, key, default=_REQUIRED) -> int:
        """A positive integer (a size or a count); default when the key is absent and a default is given."""
        if key not in self.fields and default is not _REQUIRED:
            return default
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UnsupportedModel(f"{key}={_show(value)} is not a positive integer")
        return value

    def positive(self, key, default=_REQUIRED) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise UnsupportedModel(f"{key}={_show(value)} is not a positive finite number")
        return float(value)

    def text(self, key, default="") -> str:
        value = self.get(key, default)
        if not isinstance(value, str):
            raise UnsupportedModel(f"{key}={_show(value)} is not a string")
        return value

    def items(self, key, item_type, default=_REQUIRED) -> list:
        """A non-empty array whose items are all item_type."""
        value = self.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, item_type) and not isinstance(v, bool) for v in value):
            raise UnsupportedModel(f"{key}={_show(value)} is not an array of {item_type.__name__}")
        if not value:
            raise UnsupportedModel(f"{key} is empty")
        return value

    def token_id(self, key, vocab: int) -> int | None:
        value = self.get(key, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < vocab):
            raise UnsupportedModel(f"{key}={_show(value)} is not a token id: the vocabulary has {vocab} tokens")
        return value


def model_config(f: Fields, tensor_names) -> dict:
    arch = f.get("general.architecture")
    if arch not in ARCHITECTURES:
        raise UnsupportedModel(f"architecture {_show(arch)} is not supported (supported: {', '.join(ARCHITECTURES)})")
    scaling = f.get(f"{arch}.rope.scaling.type", "none")
    if scaling not in ("none", "linear", None) and not {NOT_A_WEIGHT, SHORT_FACTORS} & set(tensor_names):
        raise UnsupportedModel(f"{arch}.rope.scaling.type={_show(scaling)} is not supported (none, linear, llama3 "
                               f"with its {NOT_A_WEIGHT} factors, or Phi-3's LongRoPE with its {SHORT_FACTORS})")
    dim = f.count(f"{arch}.embedding_length")
    heads = f.count(f"{arch}.attention.head_count")
    kv_heads = f.count(f"{arch}.attention.head_count_kv", heads)
    if heads % kv_heads:
        raise UnsupportedModel(f"{arch}.attention.head_count={heads} is not a multiple of "
                               f"{arch}.attention.head_count_kv={kv_heads}")
    rotated = f.count(f"{arch}.rope.dimension_count", None)
    # llama.cpp sizes a head by key_length or dim / heads; older llama files say it by rope.dimension_count
    head_dim = f.count(f"{arch}.attention.key_length", None) or (rotated if arch != "phi3" else None)
    if head_dim is None:
        if dim % heads:
            raise UnsupportedModel(f"{arch}.embedding_length={dim} is not a multiple of "
                                   f"{arch}.attention.head_count={heads}")
        head_dim = dim // heads
    if head_dim % 2:
        raise UnsupportedModel(f"the head size {head_dim} ({arch}.attention.key_length, {arch}.rope.dimension_count, "
                               f"or {arch}.embedding_length / {arch}.attention.head_count) is odd: RoPE rotates pairs")
    if rotated not in (None, head_dim):
        raise UnsupportedModel(f"{arch}.rope.dimension_count={rotated} rotates part of each head of {head_dim} "
                               "(partial rotary, as Phi-4-mini's): not supported")
    config = {
        "arch": arch,
        "name": f.text("general.name"),
        "basename": f.text("general.basename"),
        "n_layers": f.count(f"{arch}.block_count"),
        "dim": dim,
        "n_heads": heads,
        "n_kv_heads": kv_heads,
        "head_dim": head_dim,
        "ffn_dim": f.count(f"{arch}.feed_forward_length"),
        "context_length": f.count(f"{arch}.context_length"),
        "rope_theta": f.positive(f"{arch}.rope.freq_base", 10000.0),
        "norm_eps": f.positive(f"{arch}.attention.layer_norm_rms_epsilon"),
    }
    if scaling == "linear":  # every frequency divided by the factor
        config["rope_freq_factors"] = [f.positive(f"{arch}.rope.scaling.factor")] * (head_dim // 2)
    if SHORT_FACTORS in tensor_names:  # Phi-3 LongRoPE: the short factors hold up to the original context,
        original = f.count(f"{arch}.rope.scaling.original_context_length")  # where llama.cpp uses them too
        config["context_length"] = min(config["context_length"], original)
    mscale = f.positive(f"{arch}.rope.scaling.attn_factor", 1.0)  # Phi-3.5's ~1.19
    if mscale != 1.0:  # llama.cpp scales RoPE's cos and sin by it: every score by its square
        config["attn_scale"] = mscale ** 2 / math.sqrt(head_dim)
    window = f.count(f"{arch}.attention.sliding_window", None)
    if arch in GEMMAS:
        config.update(gemma_config(f, config, window))
    elif window is not None and window < config["context_length"]:  # Phi-3-mini-4k: 2047; no window
        config["context_length"] = window  # a window masks nothing in a context no longer than it
    return config


def gemma_config(f: Fields, config: dict, window: int | None) -> dict:
    """What Gemma 2 and 3 add (llama.cpp's llm_build_gemma2_iswa / gemma3_iswa): embeddings times
    sqrt(dim), a norm after attention and after the FFN, GeGLU, and layers of a sliding window
    (`GEMMA`); Gemma 2 also soft-caps its attention scores and its logits."""
    arch = config["arch"]
    period, default_window, local_theta = GEMMA[arch]
    window = window or default_window
    if window is None:
        raise UnsupportedModel(f"missing key {arch}.attention.sliding_window")
    pattern = f.get(f"{arch}.attention.sliding_window_pattern", period)
    n = config["n_layers"]
    if isinstance(pattern, list):  # a flag a layer, as newer converters write it
        if len(pattern) != n or not all(isinstance(x, bool) for x in pattern):
            raise UnsupportedModel(f"{arch}.attention.sliding_window_pattern={_show(pattern)} is not {n} booleans, "
                                   "one a layer")
        local = [i for i in range(n) if pattern[i]]
    elif isinstance(pattern, int) and not isinstance(pattern, bool) and pattern >= 1:
        local = [i for i in range(n) if i % pattern < pattern - 1]  # llama.cpp's set_swa_pattern
    else:
        raise UnsupportedModel(f"{arch}.attention.sliding_window_pattern={_show(pattern)} is not a period "
                               "nor a flag a layer")
    extra = {"embed_scale": math.sqrt(config["dim"]), "post_norms": True, "ffn_act": "gelu_tanh",
             "sliding_window": window if window < config["context_length"] else 0,
             "local_layers": local, "rope_theta_local": local_theta}
    if arch == "gemma2":  # 50 and 30 in Gemma 2's files; a file without them is not capped
        for key, name in (("attn_logit_softcapping", "attn_softcap"), ("final_logit_softcapping", "final_softcap")):
            if f.get(f"gemma2.{key}", None) is not None:
                extra[name] = f.positive(f"gemma2.{key}")
    if n == GEMMA_27B_LAYERS[arch]:
        extra["attn_scale"] = 1 / math.sqrt(config["dim"] / config["n_heads"])
    return extra


def rope_factors(tensor, read, head_dim: int) -> list[float]:
    """RoPE scaling by a divisor per frequency (llama.cpp's freq_factors): llama3's rope_freqs.weight,
    Phi-3's rope_factors_short.weight (and _long, checked but not used)."""
    if tensor.type != "F32" or tensor.shape != (head_dim // 2,):
        raise UnsupportedModel(f"tensor {tensor.name} is {tensor.type} {list(tensor.shape)}, not {head_dim // 2} F32 "
                               f"factors (one per frequency of a head of {head_dim})")
    factors = list(struct.unpack(f"<{head_dim // 2}f", read(tensor.offset, tensor.nbytes)))
    if not all(math.isfinite(x) and x > 0 for x in factors):
        raise UnsupportedModel(f"tensor {tensor.name} holds factors that are not positive finite numbers")
    return factors


def fused_parts(config: dict, t) -> list[tuple[str, int]] | None:
    """Phi-3's fused tensors as (part name, rows) in the order their rows lie, or None."""
    m = re.fullmatch(r"(blk\.\d+\.)(attn_qkv|ffn_up)\.weight", t.name)
    if config["arch"] != "phi3" or not m:
        return None
    q, kv = config["n_heads"] * config["head_dim"], config["n_kv_heads"] * config["head_dim"]
    if m[2] == "ffn_up" and len(t.shape) == 2 and t.shape[0] == config["ffn_dim"]:
        return None  # not fused (or split already)
    parts = ((("attn_q", q), ("attn_k", kv), ("attn_v", kv)) if m[2] == "attn_qkv"
             else (("ffn_gate", config["ffn_dim"]), ("ffn_up", config["ffn_dim"])))  # gate first, as HF's chunk(2)
    rows = sum(n for _, n in parts)
    if len(t.shape) != 2 or t.shape[0] != rows:
        raise UnsupportedModel(f"tensor {t.name} has shape {list(t.shape)}, but its parts "
                               f"({', '.join(f'{name} {n}' for name, n in parts)}) give {rows} rows")
    return [(f"{m[1]}{name}.weight", n) for name, n in parts]


def unfuse(config: dict, tensors: list) -> list:
    """The tensors with each fused one replaced by its parts: the same bytes, a range of rows each."""
    out = []
    for t in tensors:
        parts = fused_parts(config, t)
        if parts is None:
            out.append(t)
            continue
        row_bytes, start = t.nbytes // t.shape[0], 0
        for name, rows in parts:
            out.append(replace(t, name=name, shape=(rows, t.shape[1]), offset=t.offset + start * row_bytes,
                               nbytes=rows * row_bytes))
            start += rows
    return out


def pair_order(head_dim: int) -> list[int]:
    """Rows of a head, reordered so its (i, i + D/2) become rows (2i, 2i+1): new row r is old row order[r]."""
    return [i // 2 + (i % 2) * (head_dim // 2) for i in range(head_dim)]


def permuted_head(config: dict, name: str) -> int:
    """The head size whose rows tensor `name` is stored reordered by (pair_order), or 0."""
    return config["head_dim"] if config["arch"] in ROTATES_HALVES and HEAD_ROWS.fullmatch(name) else 0


def default_add_bos(model: str, pre: str | None) -> bool:
    """llama.cpp's BOS rule for a file without tokenizer.ggml.add_bos_token (llama-vocab.cpp):
    SentencePiece text gets one, byte-level text only under Llama 3's pre-tokenizer."""
    return model == "llama" or pre == "llama-bpe"


def tokenizer_config(f: Fields) -> dict:
    """The bundle's tokenizer.json: what pyapp.runtime.tokenizer.tokenizer.Tokenizer takes."""
    model = f.get("tokenizer.ggml.model")
    if model not in TOKENIZER_MODELS:
        supported = ", ".join(f"{kind} {name!r}" for name, kind in TOKENIZER_MODELS.items())
        raise UnsupportedModel(f"tokenizer.ggml.model={_show(model)} is not supported ({supported})")
    tokens = f.items("tokenizer.ggml.tokens", str)
    token_type = f.items("tokenizer.ggml.token_type", int, [1] * len(tokens))
    if len(token_type) != len(tokens):
        raise UnsupportedModel(f"tokenizer.ggml.token_type has {len(token_type)} entries for {len(tokens)} tokens")
    if model == "gpt2":
        pre = f.text("tokenizer.ggml.pre", "default")
        if pre not in PRETOKENIZERS:
            raise UnsupportedModel(f"tokenizer.ggml.pre={_show(pre)} is not supported "
                                   f"(supported: {', '.join(PRETOKENIZERS)})")
        vocab = {"pre": pre, "tokens": tokens,
                 "merges": f.items("tokenizer.ggml.merges", str)}  # byte-level BPE is nothing without them
    else:
        scores = f.items("tokenizer.ggml.scores", float)  # SentencePiece merges by score
        if len(scores) != len(tokens):
            raise UnsupportedModel(f"tokenizer.ggml.scores has {len(scores)} entries for {len(tokens)} tokens")
        bad = next((i for i, s in enumerate(scores) if not math.isfinite(s)), None)
        if bad is not None:
            raise UnsupportedModel(f"tokenizer.ggml.scores[{bad}]={scores[bad]} is not a finite number")
        vocab = {"tokens": tokens, "scores": scores,
                 "add_space_prefix": bool(f.get("tokenizer.ggml.add_space_prefix", True))}
    return {
        "model": model,
        **vocab,
        "token_type": token_type,
        "bos_id": f.token_id("tokenizer.ggml.bos_token_id", len(tokens)),
        "eos_id": f.token_id("tokenizer.ggml.eos_token_id", len(tokens)),
        "add_bos": bool(f.get("tokenizer.ggml.add_bos_token", default_add_bos(model, vocab.get("pre")))),
        "chat_template": f.text("tokenizer.chat_template"),
    }


def expected_shapes(config: dict, vocab: int, names) -> dict[str, tuple]:
    """{tensor: ((size, the keys that set it), ...)}, (N, K) or (K,), as the metadata says.
    Q/K/V biases (qwen2) and Q/K norms (qwen3) are expected when the file has the first layer's."""
    c, hd, a = config, config["head_dim"], config["arch"]
    d = (c["dim"], f"{a}.embedding_length={c['dim']}")
    q = (c["n_heads"] * hd, f"{a}.attention.head_count={c['n_heads']} x head size {hd}")
    kv = (c["n_kv_heads"] * hd, f"{a}.attention.head_count_kv={c['n_kv_heads']} x head size {hd}")
    ffn = (c["ffn_dim"], f"{a}.feed_forward_length={c['ffn_dim']}")
    v = (vocab, f"the {vocab} tokens of tokenizer.ggml.tokens")
    head = ((hd, f"head size {hd}"),)
    layer = {"attn_norm.weight": (d,), "attn_q.weight": (q, d), "attn_k.weight": (kv, d), "attn_v.weight": (kv, d),
             "attn_output.weight": (d, q), "ffn_norm.weight": (d,), "ffn_gate.weight": (ffn, d),
             "ffn_up.weight": (ffn, d), "ffn_down.weight": (d, ffn)}
    if "blk.0.attn_q.bias" in names:
        layer.update({"attn_q.bias": (q,), "attn_k.bias": (kv,), "attn_v.bias": (kv,)})
    if "blk.0.attn_q_norm.weight" in names:
        layer.update({"attn_q_norm.weight": head, "attn_k_norm.weight": head})
    if a in GEMMAS:  # norms of the attention's and the FFN's outputs
        layer.update({"post_attention_norm.weight": (d,), "post_ffw_norm.weight": (d,)})
    shapes = {"token_embd.weight": (v, d), "output_norm.weight": (d,), "output.weight": (v, d)}
    shapes.update({f"blk.{i}.{name}": s for i in range(c["n_layers"]) for name, s in layer.items()})
    return shapes


def check_tensors(config: dict, vocab: int, shapes: dict[str, tuple[int, ...]]):
    """The metadata agrees with the tensors: each one needed is there, with the shape the keys give."""
    n_layers, arch = config["n_layers"], config["arch"]
    if n_layers * len(LAYER_TENSORS) > len(shapes):  # also bounds expected_shapes' size
        raise UnsupportedModel(f"{arch}.block_count={n_layers}, but the file holds only {len(shapes)} tensors")
    beyond = [n for n in shapes if (m := re.match(r"blk\.(\d+)\.", n)) and int(m[1]) >= n_layers]
    if beyond:
        raise UnsupportedModel(f"tensor {beyond[0]} lies beyond {arch}.block_count={n_layers}")
    expected = expected_shapes(config, vocab, shapes)
    missing = [n for n in expected if n not in shapes and n != "output.weight"]  # no output: tied to token_embd
    if missing:
        raise UnsupportedModel(lacks("GGUF", missing))
    for name, sizes in expected.items():
        want = tuple(size for size, _ in sizes)
        if name in shapes and shapes[name] != want:
            raise UnsupportedModel(f"tensor {name} has shape {list(shapes[name])}, but "
                                   f"{' and '.join(why for _, why in sizes)} give {list(want)}")


def stored_as(name: str, qtype: str, blocks: bool) -> tuple[str, int]:
    """(format, group size) of a tensor: its GGUF blocks as they are where `blocks` and the
    fused kernels read them, else our layout (STORED_AS)."""
    if blocks and qtype in AS_BLOCKS:
        return AS_BLOCKS[qtype]
    return STORED_AS[qtype]


def tensor_entry(t, blocks: bool = False) -> dict:
    """How a tensor is stored: its format, shape and group size (config.json's entry)."""
    fmt, group = stored_as(t.name, t.type, blocks)
    if fmt == "f32":
        return {"format": "f32", "shape": list(t.shape)}
    if len(t.shape) != 2:
        raise UnsupportedModel(f"tensor {t.name}: {t.type} with shape {list(t.shape)} is not a 2-D weight")
    return {"format": fmt, "shape": list(t.shape), "group_size": group}


def describe(header, read, blocks: bool = False) -> tuple[dict, dict]:
    """(config, tokenizer) of a parsed GGUF (runtime/gguf/reader.py); read(offset, n) reads its bytes
    (only the few of rope_freqs.weight). blocks: keep the types of AS_BLOCKS as the file's own
    blocks (a model for the fused path only)."""
    f = Fields(header.fields)
    config = model_config(f, {t.name for t in header.tensors})
    header.tensors = unfuse(config, header.tensors)  # Phi-3's parts, for every reader of the header
    shapes = {t.name: t.shape for t in header.tensors}
    tokenizer = tokenizer_config(f)
    check_tensors(config, len(tokenizer["tokens"]), shapes)
    unsupported: dict[str, list[str]] = {}
    for t in header.tensors:
        if t.type not in STORED_AS:
            unsupported.setdefault(t.type, []).append(t.name)
    if unsupported:
        found = "; ".join(f"{kind} ({len(names)} tensors, e.g. {names[0]})" for kind, names in sorted(unsupported.items()))
        raise UnsupportedModel(f"tensor types not supported: {found}; supported: {', '.join(SUPPORTED)}")
    weights = [t for t in header.tensors if t.name not in FACTORS]
    factors = {t.name: rope_factors(t, read, config["head_dim"]) for t in header.tensors if t.name in FACTORS}
    if NOT_A_WEIGHT in factors or SHORT_FACTORS in factors:
        config["rope_freq_factors"] = factors.get(NOT_A_WEIGHT) or factors[SHORT_FACTORS]
    config["tensors"] = {t.name: tensor_entry(t, blocks) for t in weights}
    config["file_tensor_bytes"] = sum(t.nbytes for t in weights)  # what the GPU copy is measured against
    config["tied_embeddings"] = "output.weight" not in shapes
    config["qkv_bias"] = "blk.0.attn_q.bias" in shapes      # qwen2
    config["qk_norm"] = "blk.0.attn_q_norm.weight" in shapes  # qwen3
    return config, tokenizer
