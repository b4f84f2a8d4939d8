"""The exporter: every supported GGUF type round-trips against gguf's own dequantization,
unsupported inputs are refused by name, and a whole (tiny) llama GGUF exports."""

import json

import numpy as np
import pytest
import tiny_llama
from gguf import GGMLQuantizationType as Q
from gguf.quants import dequantize, quantize

from pyapp import export
from pyapp.runtime.model.config import ModelConfig
from pyapp.runtime.ops.formats import HALF_TABLES


@pytest.mark.parametrize("qtype, fmt", [(Q.Q4_0, "q4gsw"), (Q.Q4_1, "q4gaw"), (Q.Q8_0, "q8gsw"),
                                        (Q.F16, "f32"), (Q.F32, "f32")])
def test_each_type_roundtrips_exactly(qtype, fmt):
    rng = np.random.default_rng(int(qtype))
    w = rng.standard_normal((24, 96)).astype(np.float32)
    raw = w.astype(np.float16) if qtype == Q.F16 else w if qtype == Q.F32 else quantize(w, qtype)
    want = dequantize(raw, qtype) if qtype not in (Q.F16, Q.F32) else raw.astype(np.float32)
    stored, entry = export.convert("blk.0.attn_q.weight", qtype.name, raw, (24, 96))
    assert entry["format"] == fmt
    got = export.dequantize_stored(stored, "blk.0.attn_q.weight", entry)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


KINDS = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS"]


def gguf_blocks(kind: str, rng, n: int, k: int) -> np.ndarray:
    """A tensor of this type as GGUF stores it: quantized by gguf, or random K-quant blocks."""
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import quantize

    qtype = Q[kind]
    if qtype in tiny_llama.K_BYTES:
        return tiny_llama.kquant(rng, n, k, qtype)
    return quantize(rng.standard_normal((n, k)).astype(np.float32), qtype)


@pytest.mark.parametrize("kind", KINDS)
def test_every_type_converts_to_the_same_weights_as_gguf_dequantizes(kind):
    """No requantization: our stored layout, dequantized, equals gguf's own dequantization."""
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import dequantize

    from pyapp.convert.gguf_types import convert

    rng = np.random.default_rng(KINDS.index(kind))
    n, k = 13, 512
    data = gguf_blocks(kind, rng, n, k)
    stored, entry = convert("w", kind, data, (n, k))
    ours = export.dequantize_stored(stored, "w", entry)
    theirs = dequantize(data, Q[kind]).astype(np.float64).reshape(n, k)
    np.testing.assert_allclose(ours, theirs, rtol=2e-7, atol=1e-7 * np.abs(theirs).max())
    assert np.abs(theirs).max() > 0


def test_bf16_converts_exactly():
    from pyapp.convert.gguf_types import convert

    w = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    bf16 = (w.view(np.uint32) >> 16).astype(np.uint16)
    stored, entry = convert("w", "BF16", bf16, (3, 8))
    np.testing.assert_array_equal(stored["w"], (bf16.astype(np.uint32) << 16).view(np.float32))
    assert entry["format"] == "f32"


def test_unsupported_types_are_all_named_at_once(tmp_path):
    from gguf import GGMLQuantizationType as Q

    path = tiny_llama.write(tmp_path / "iq.gguf", dim=256, ffn=256,
                            types={"attn_q": Q.IQ3_S, "ffn_up": Q.IQ2_XS, "ffn_gate": Q.IQ2_XS})
    with pytest.raises(export.ExportError) as e:
        export.export(path, cache=tmp_path / "cache")
    message = str(e.value)
    assert "IQ3_S (2 tensors, e.g. blk.0.attn_q.weight)" in message and "IQ2_XS (4 tensors" in message
    assert "supported: F32, F16, BF16, Q4_0" in message and "\n" not in message


def test_tiny_llama_exports(tmp_path):
    gguf = tiny_llama.write(tmp_path / "tiny.gguf")
    out = export.export(gguf, cache=tmp_path / "cache")
    config = json.loads((out / "config.json").read_text())
    assert (config["n_layers"], config["dim"], config["n_heads"], config["n_kv_heads"], config["head_dim"]) == (2, 64, 4, 2, 16)
    assert config["tied_embeddings"] and config["tensors"]["blk.1.ffn_down.weight"] == {
        "format": "q8gsw", "shape": [64, 96], "group_size": 32}
    from safetensors.numpy import load_file
    stored = load_file(out / "model.safetensors")
    assert stored["blk.0.ffn_down.weight.qweight"].shape == (64, 96)
    assert stored["blk.0.ffn_down.weight.scales"].shape == (3, 64)
    assert json.loads((out / "tokenizer.json").read_text())["eos_id"] == 2
    assert export.export(gguf, cache=tmp_path / "cache") == out  # cached by content hash


def test_other_architectures_are_refused(tmp_path):
    gguf = tiny_llama.write(tmp_path / "gpt2.gguf", arch="gpt2")
    with pytest.raises(export.ExportError, match="architecture 'gpt2' is not supported"):
        export.read_gguf(gguf)


def test_cli_reports_a_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        export.main(["--model", str(tmp_path / "nope.gguf")])
    assert "no such file" in str(e.value)


def test_every_type_in_one_model(tmp_path):
    gguf = tiny_llama.write(tmp_path / "mixed.gguf", types=tiny_llama.MIXED)
    tensors, config, _ = export.read_gguf(gguf)
    formats = {name.split(".")[-2]: e["format"] for name, e in config["tensors"].items() if name.startswith("blk.0.")}
    assert formats == {"attn_q": "q4gsw", "attn_k": "q4gaw", "attn_v": "q8gsw", "attn_output": "f32",
                       "ffn_gate": "q4gaw", "ffn_up": "q4gsw", "ffn_down": "f32", "attn_norm": "f32", "ffn_norm": "f32"}
    assert not config["tied_embeddings"] and config["tensors"]["output.weight"]["format"] == "f32"


def test_blocks_keep_the_files_k_quant_bytes(tmp_path):
    """export --blocks: each Q4_K and Q5_K matrix's stored codes are the file's bytes (gguf's reader), each
    Q6_K's its blocks but their last 2 bytes, its d (those bytes as f16) an f32 a block beside
    them (the token embedding's too); rows reordered into pairs where Qwen's are; the types of
    f16 tables (test_blocks_keep_the_files_f16_scales) with the same shapes and codes."""
    from gguf import GGUFReader

    from pyapp.runtime.gguf.describe import pair_order
    from pyapp.runtime.model.config import ModelConfig

    gguf = tiny_llama.write(tmp_path / "q.gguf", arch="qwen2", qkv_bias=True, dim=256, ffn=512, heads=4, kv=2,
                            types={**tiny_llama.KQUANT, "token_embd": Q.Q4_K, "attn_k": Q.Q6_K, "attn_output": Q.Q5_K})
    plain, plain_config, _ = export.read_gguf(gguf)
    tensors, config, _ = export.read_gguf(gguf, blocks=True)
    kept, file_bytes = {Q.Q4_K: 0, Q.Q5_K: 0, Q.Q6_K: 0}, 0
    for t in GGUFReader(gguf).tensors:
        entry, raw = config["tensors"].get(t.name), np.asarray(t.data).view(np.uint8).reshape(int(t.shape[-1]), -1)
        if t.tensor_type not in kept:
            plain_entry = plain_config["tensors"].get(entry and t.name)
            half = bool(entry) and entry["format"] in HALF_TABLES
            assert entry == ({**plain_entry, "format": HALF_FORMATS[t.tensor_type]} if half else plain_entry), t.name
            continue
        fmt, group = {Q.Q4_K: ("q4k", 32), Q.Q5_K: ("q5k", 32), Q.Q6_K: ("q6k", 16)}[t.tensor_type]
        assert entry == {"format": fmt, "shape": plain_config["tensors"][t.name]["shape"], "group_size": group}
        if t.name.endswith(("attn_q.weight", "attn_k.weight")):  # Qwen: heads' halves -> pairs, whole rows
            raw = raw.reshape(-1, 256 // 4, raw.shape[1])[:, pair_order(256 // 4)].reshape(raw.shape)
        if fmt != "q6k":
            np.testing.assert_array_equal(tensors[f"{t.name}.qweight"], raw)
        else:
            blocks = raw.reshape(raw.shape[0], -1, 210)
            np.testing.assert_array_equal(tensors[f"{t.name}.qweight"], blocks[:, :, :208].reshape(raw.shape[0], -1))
            d = blocks[:, :, 208:].copy().view(np.float16)[..., 0].astype(np.float32)
            np.testing.assert_array_equal(tensors[f"{t.name}.scales"], d)
        assert {k for k in tensors if k.startswith(f"{t.name}.")} == {f"{t.name}.qweight", *([f"{t.name}.scales"] * (fmt == "q6k"))}
        kept[t.tensor_type] += 1
        file_bytes += int(t.n_bytes)
    assert kept[Q.Q4_K] >= 3 and kept[Q.Q5_K] == 2 and kept[Q.Q6_K] >= 3 and config["tensors"]["token_embd.weight"]["format"] == "q4k"
    stored = ModelConfig.from_json(config).stored()
    assert {k: (tuple(v.shape), DTYPES[v.dtype.str]) for k, v in tensors.items()} == stored
    gpu_bytes = sum(v.nbytes for k, v in tensors.items() if config["tensors"].get(k.rsplit(".", 1)[0], {}).get("format", "").endswith("k"))
    assert file_bytes < gpu_bytes < 1.01 * file_bytes  # Q6_K's d: 4 bytes instead of 2 a block of 210


DTYPES = {"|u1": "u8", "<u4": "u32", "<f4": "f32"}
HALF_FORMATS = {Q.Q4_0: "q4gsw_f16", Q.Q4_1: "q4gaw_f16", Q.Q5_0: "q5gsw_f16", Q.Q5_1: "q5gaw_f16",
                Q.Q8_0: "q8gsw_f16", Q.IQ4_NL: "q8gsw_f16"}


def test_blocks_keep_the_files_f16_scales(tmp_path):
    """export --blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL keep our codes and the file's own f16
    scales (and Q4_1/Q5_1's m), read here from the blocks' bytes (gguf's reader): two groups' d a
    u32 word (the last word of an odd count half empty), or a group's d and m; Q5_0/Q5_1 the low
    nibbles of their codes and the file's qh words beside them. The weights they give are the
    plain bundle's, and all but IQ4_NL take exactly the file's bytes."""
    from gguf import GGUFReader

    gguf = tiny_llama.write(tmp_path / "h.gguf", types=tiny_llama.HALF)
    plain, plain_config, _ = export.read_gguf(gguf)
    tensors, config, _ = export.read_gguf(gguf, blocks=True)
    block_bytes, exact = {Q.Q4_0: 18, Q.Q4_1: 20, Q.Q5_0: 22, Q.Q5_1: 24, Q.Q8_0: 34, Q.IQ4_NL: 18}, set()
    for t in GGUFReader(gguf).tensors:
        if t.tensor_type not in block_bytes:
            continue
        entry, plain_entry = config["tensors"][t.name], plain_config["tensors"][t.name]
        assert entry == {**plain_entry, "format": HALF_FORMATS[t.tensor_type]}
        raw = np.asarray(t.data).view(np.uint8).reshape(int(t.shape[-1]), -1, block_bytes[t.tensor_type])
        d = raw[:, :, 0:2].copy().view("<u2")[..., 0].astype(np.uint32)  # (N, G) f16 bits
        if t.tensor_type in (Q.Q4_1, Q.Q5_1):
            want = d | (raw[:, :, 2:4].copy().view("<u2")[..., 0].astype(np.uint32) << 16)
        else:
            d = np.pad(d, ((0, 0), (0, d.shape[1] % 2)))
            want = d[:, 0::2] | (d[:, 1::2] << 16)
        np.testing.assert_array_equal(tensors[f"{t.name}.scales"], want)
        assert f"{t.name}.offsets" not in tensors
        if t.tensor_type in (Q.Q5_0, Q.Q5_1):
            at = 2 if t.tensor_type == Q.Q5_0 else 4
            np.testing.assert_array_equal(tensors[f"{t.name}.highs"], raw[:, :, at:at + 4].copy().view("<u4")[..., 0])
        else:
            np.testing.assert_array_equal(tensors[f"{t.name}.qweight"], plain[f"{t.name}.qweight"])
        np.testing.assert_array_equal(export.dequantize_stored(tensors, t.name, entry),
                                      export.dequantize_stored(plain, t.name, plain_entry))
        if t.tensor_type != Q.IQ4_NL and raw.shape[1] % 2 == 0:
            assert sum(v.nbytes for k, v in tensors.items() if k.startswith(f"{t.name}.")) == int(t.n_bytes)
            exact.add(t.tensor_type)
    assert exact == {Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0}
    assert config["tensors"]["blk.0.ffn_down.weight"]["format"] == "q4gsw_f16"
    stored = ModelConfig.from_json(config).stored()
    assert {k: (tuple(v.shape), DTYPES[v.dtype.str]) for k, v in tensors.items()} == stored


@pytest.mark.parametrize("types", ["MIXED", "KQUANT"])
def test_the_config_knows_the_files_tensor_bytes(tmp_path, types):
    """What the GPU copy's size is measured against (pyapp.bench --report: weights_file_bytes):
    the GGUF's bytes of the model's tensors, as gguf's reader counts them."""
    from gguf import GGUFReader

    gguf = tiny_llama.write(tmp_path / "t.gguf", types=getattr(tiny_llama, types), dim=256, ffn=512)
    _, config, _ = export.read_gguf(gguf)
    want = sum(int(t.n_bytes) for t in GGUFReader(gguf).tensors if t.name != "rope_freqs.weight")
    assert config["file_tensor_bytes"] == want > 0


def test_stored_shapes_match_the_exported_file(tmp_path):
    """The formats module's sizes (ModelConfig.stored, used for speed runs) agree with what export writes."""
    from safetensors import safe_open

    from pyapp.runtime.model.config import ModelConfig

    out = export.export(tiny_llama.write(tmp_path / "mixed.gguf", types=tiny_llama.MIXED), cache=tmp_path / "c")
    config = json.loads((out / "config.json").read_text())
    with safe_open(str(out / "model.safetensors"), "np") as f:
        written = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    dtypes = {"F32": "f32", "U8": "u8"}
    assert {k: (s, dtypes[d]) for k, (s, d) in written.items()} == ModelConfig.from_json(config).stored()


# --- metadata that disagrees with the tensors: refused at export, naming the key and the tensor ---

def rewrite(src, dst, changes: dict):
    """src's GGUF through gguf's own reader and writer, with keys changed (key: value) or dropped (key: None).

    A changed key keeps its GGUF value type; a new one gets gguf's default type for the Python value.
    """
    from gguf import GGUFReader, GGUFValueType, GGUFWriter

    reader = GGUFReader(str(src))
    writer = GGUFWriter(str(dst), reader.fields["general.architecture"].contents())
    for key, field in reader.fields.items():
        value = changes.get(key, field.contents())
        if key.startswith("GGUF.") or key == "general.architecture" or value is None:
            continue
        sub_type = field.types[-1] if field.types[0] == GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, field.types[0], sub_type)
    for key in changes.keys() - reader.fields.keys():
        writer.add_key_value(key, changes[key], GGUFValueType.get_type(changes[key]))
    for t in reader.tensors:
        writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


# The tiny model: dim 64, 4 heads of 16, 2 kv heads, ffn 96, 48 tokens, 2 layers, 21 tensors.
INCONSISTENT = {
    "heads not dividing the width": ({"llama.attention.head_count": 6},
                                     "llama.embedding_length=64 is not a multiple of llama.attention.head_count=6"),
    "kv heads not dividing heads": ({"llama.attention.head_count_kv": 3}, "llama.attention.head_count=4 "
                                    "is not a multiple of llama.attention.head_count_kv=3"),
    "q rows": ({"llama.rope.dimension_count": 32}, "tensor blk.0.attn_q.weight has shape [64, 64], but "
               "llama.attention.head_count=4 x head size 32 and llama.embedding_length=64 give [128, 64]"),
    "kv rows": ({"llama.attention.head_count_kv": 4}, "tensor blk.0.attn_k.weight has shape [32, 64], but "
                "llama.attention.head_count_kv=4 x head size 16"),
    "kv rows, from the head size": ({"llama.attention.head_count": 8}, "tensor blk.0.attn_k.weight has shape "
                                    "[32, 64], but llama.attention.head_count_kv=2 x head size 8"),
    "ffn rows": ({"llama.feed_forward_length": 128},
                 "tensor blk.0.ffn_gate.weight has shape [96, 64], but llama.feed_forward_length=128"),
    "width": ({"llama.embedding_length": 32}, "tensor token_embd.weight has shape [48, 64], but the 48 tokens of "
              "tokenizer.ggml.tokens and llama.embedding_length=32 give [48, 32]"),
    "odd head size": ({"llama.rope.dimension_count": 15}, "the head size 15"),
    "rope base 0": ({"llama.rope.freq_base": 0.0}, "llama.rope.freq_base=0.0 is not a positive finite number"),
    "rope base inf": ({"llama.rope.freq_base": float("inf")}, "llama.rope.freq_base=inf is not a positive finite"),
    "rope base nan": ({"llama.rope.freq_base": float("nan")}, "llama.rope.freq_base=nan is not a positive finite"),
    "eps nan": ({"llama.attention.layer_norm_rms_epsilon": float("nan")},
                "llama.attention.layer_norm_rms_epsilon=nan is not a positive finite number"),
    "eps 0": ({"llama.attention.layer_norm_rms_epsilon": 0.0}, "llama.attention.layer_norm_rms_epsilon=0.0"),
    "eps negative": ({"llama.attention.layer_norm_rms_epsilon": -1.0}, "llama.attention.layer_norm_rms_epsilon=-1.0"),
    "no layers": ({"llama.block_count": 0}, "llama.block_count=0 is not a positive integer"),
    "more layers than tensors": ({"llama.block_count": 3}, "llama.block_count=3, but the file holds only 21 tensors"),
    "fewer layers than tensors": ({"llama.block_count": 1},
                                  "tensor blk.1.attn_q.weight lies beyond llama.block_count=1"),
    "no context": ({"llama.context_length": 0}, "llama.context_length=0 is not a positive integer"),
    "no merges": ({"tokenizer.ggml.merges": None}, "missing key tokenizer.ggml.merges"),
    "token types": ({"tokenizer.ggml.token_type": [1] * 47}, "tokenizer.ggml.token_type has 47 entries for 48 tokens"),
    "eos out of range": ({"tokenizer.ggml.eos_token_id": 48},
                         "tokenizer.ggml.eos_token_id=48 is not a token id: the vocabulary has 48 tokens"),
    "bos out of range": ({"tokenizer.ggml.bos_token_id": 1000}, "tokenizer.ggml.bos_token_id=1000 is not a token id"),
    "another tokenizer": ({"tokenizer.ggml.model": "bert"}, "tokenizer.ggml.model='bert' is not supported (byte-level BPE 'gpt2', SentencePiece BPE 'llama')"),
}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return tiny_llama.write(tmp_path_factory.mktemp("mixed") / "mixed.gguf", types=tiny_llama.MIXED)


def assert_refused(gguf, cache, fragment):
    with pytest.raises(export.ExportError) as e:
        export.export(gguf, cache=cache)
    message = str(e.value)
    assert message.startswith(f"{gguf}: ") and "\n" not in message and fragment in message, message
    assert not [p for p in (cache / "bundles").iterdir() if p.is_dir()]  # nothing cached


@pytest.mark.parametrize("case", INCONSISTENT)
def test_inconsistent_metadata_is_refused_by_key(case, mixed, tmp_path):
    changes, fragment = INCONSISTENT[case]
    assert_refused(rewrite(mixed, tmp_path / "bad.gguf", changes), tmp_path / "cache", fragment)


def test_the_rewrite_alone_changes_nothing(mixed, tmp_path):
    copy = export.export(rewrite(mixed, tmp_path / "copy.gguf", {}), cache=tmp_path / "cache")
    assert json.loads((copy / "tokenizer.json").read_text()) == export.read_gguf(mixed)[2]


def test_vocabulary_must_match_the_embedding_rows(mixed, tmp_path):
    from gguf import GGUFReader

    tokens = GGUFReader(str(mixed)).fields["tokenizer.ggml.tokens"].contents()
    bad = rewrite(mixed, tmp_path / "bad.gguf",
                  {"tokenizer.ggml.tokens": tokens[:47], "tokenizer.ggml.token_type": [1] * 47})
    assert_refused(bad, tmp_path / "cache", "tensor token_embd.weight has shape [48, 64], but the 47 tokens of "
                                            "tokenizer.ggml.tokens and llama.embedding_length=64 give [47, 64]")


@pytest.mark.parametrize("arch, options, flags", [
    ("llama", {"rope_freqs": True}, {"rope_freq_factors": 8}),
    ("qwen2", {"qkv_bias": True}, {"qkv_bias": True}),
    ("qwen3", {"qk_norm": True, "head_dim": 32}, {"qk_norm": True}),
])
def test_architectures_export_what_the_runtime_needs(tmp_path, arch, options, flags):
    out = export.export(tiny_llama.write(tmp_path / "m.gguf", arch=arch, **options), cache=tmp_path / "c")
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == arch
    for key, value in flags.items():
        got = config[key]
        assert (len(got) == value and got[0] == 1.0) if key == "rope_freq_factors" else got == value
    assert "rope_freqs.weight" not in config["tensors"]  # RoPE factors live in the config, not as a weight
    if arch == "qwen3":
        assert config["head_dim"] == 32 and config["tensors"]["blk.0.attn_q.weight"]["shape"] == [128, 64]


def rotate(x, pos, pairs):
    """RoPE of one head x (D,) at pos: pair i is (2i, 2i+1) or (i, i + D/2), as llama.cpp rotates."""
    d = len(x)
    ang = pos * 10000.0 ** (-np.arange(0, d, 2) / d)
    a, b = (slice(0, d, 2), slice(1, d, 2)) if pairs else (slice(0, d // 2), slice(d // 2, d))
    out = np.empty_like(x)
    out[a] = x[a] * np.cos(ang) - x[b] * np.sin(ang)
    out[b] = x[a] * np.sin(ang) + x[b] * np.cos(ang)
    return out


def test_halves_to_pairs_keeps_every_attention_score():
    """Qwen heads rotate halves; reordered rows rotated in pairs give the same q.k at any positions,
    for quantized rows (bytes) as for floats."""
    rng = np.random.default_rng(3)
    d, heads = 16, 3
    wq, wk, x = rng.standard_normal((heads * d, 8)), rng.standard_normal((heads * d, 8)), rng.standard_normal(8)
    pq, pk = export.halves_to_pairs(wq, d), export.halves_to_pairs(wk, d)
    for h in range(heads):
        rows = slice(h * d, (h + 1) * d)
        want = rotate(wq[rows] @ x, 5, False) @ rotate(wk[rows] @ x, 2, False)
        assert np.isclose(rotate(pq[rows] @ x, 5, True) @ rotate(pk[rows] @ x, 2, True), want)
    raw = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)  # 4 rows of bytes, head size 4
    assert export.halves_to_pairs(raw, 4).tolist() == raw[[0, 2, 1, 3]].tolist()
    assert export.halves_to_pairs(np.arange(4.0), 4).tolist() == [0.0, 2.0, 1.0, 3.0]  # a head norm


def test_other_architectures_and_rope_scalings_are_refused(tmp_path):
    import gguf

    path = tiny_llama.write(tmp_path / "m.gguf", arch="gemma")
    with pytest.raises(export.ExportError, match=r"architecture 'gemma' is not supported \(supported: llama, qwen2, qwen3, phi3, gemma2, gemma3\)"):
        export.export(path, cache=tmp_path / "c")
    reader = gguf.GGUFReader(str(tiny_llama.write(tmp_path / "l.gguf")))
    writer = gguf.GGUFWriter(str(tmp_path / "yarn.gguf"), "llama")
    for field in reader.fields.values():
        if not field.name.startswith(("GGUF.", "general.architecture")):
            writer.add_key_value(field.name, field.contents(), field.types[0],
                                 field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None)
    writer.add_string("llama.rope.scaling.type", "yarn")
    for t in reader.tensors:
        writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
    writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.write_tensors_to_file(); writer.close()
    with pytest.raises(export.ExportError, match=r"llama.rope.scaling.type='yarn' is not supported"):
        export.export(tmp_path / "yarn.gguf", cache=tmp_path / "c")


# --- Phi-3: fused tensors split by rows, LongRoPE's short factors, refusals that name what is out ---

@pytest.fixture(scope="module")
def phi3(tmp_path_factory):
    return tiny_llama.write(tmp_path_factory.mktemp("phi3") / "phi3.gguf", arch="phi3", dim=96, ffn=128,
                            types=tiny_llama.MIXED, seed=7)


def test_phi3_fused_tensors_become_their_parts(phi3):
    """Each part, dequantized from our layout, is its rows of gguf's dequantized fused tensor
    (Q and K rows in pairs order, as every half-rotating architecture's)."""
    from gguf import GGUFReader

    from pyapp.runtime.gguf.describe import pair_order

    tensors, config, _ = export.read_gguf(phi3)
    fused = {t.name: dequantize(t.data, t.tensor_type).reshape(tuple(reversed(t.shape)))
             for t in GGUFReader(str(phi3)).tensors}
    hd, q, kv, ffn = 24, 4 * 24, 2 * 24, 128
    qkv, up = fused["blk.1.attn_qkv.weight"], fused["blk.1.ffn_up.weight"]
    pairs = np.concatenate([h * hd + np.asarray(pair_order(hd)) for h in range(4)])
    parts = {"attn_q": qkv[:q][pairs], "attn_k": qkv[q:q + kv][pairs[:kv]], "attn_v": qkv[q + kv:],
             "ffn_gate": up[:ffn], "ffn_up": up[ffn:]}
    for name, want in parts.items():
        entry = config["tensors"][f"blk.1.{name}.weight"]
        got = export.dequantize_stored(tensors, f"blk.1.{name}.weight", entry)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=name)
    assert not [n for n in config["tensors"] if "attn_qkv" in n or "rope_factors" in n]


def test_phi3_runs_longrope_short_factors_within_the_original_context(phi3):
    from gguf import GGUFReader

    _, config, _ = export.read_gguf(phi3)
    short = GGUFReader(str(phi3)).get_tensor(1).data  # tiny_llama writes long, then short
    assert GGUFReader(str(phi3)).get_tensor(1).name == "rope_factors_short.weight"
    np.testing.assert_array_equal(config["rope_freq_factors"], short)
    assert config["context_length"] == 96  # the original context: past it llama.cpp switches to the long factors
    assert config["attn_scale"] == pytest.approx(1.19 ** 2 / np.sqrt(24))


PHI3_REFUSED = {
    "partial rotary": ({"phi3.rope.dimension_count": 16}, "phi3.rope.dimension_count=16 rotates part of each "
                       "head of 24 (partial rotary, as Phi-4-mini's): not supported"),
    "no original context": ({"phi3.rope.scaling.original_context_length": None},
                            "missing key phi3.rope.scaling.original_context_length"),
    "fused rows": ({"phi3.feed_forward_length": 96}, "tensor blk.0.ffn_up.weight has shape [256, 96], but its "
                   "parts (ffn_gate 96, ffn_up 96) give 192 rows"),
    "qkv rows": ({"phi3.attention.head_count_kv": 4}, "tensor blk.0.attn_qkv.weight has shape [192, 96], but "
                 "its parts (attn_q 96, attn_k 96, attn_v 96) give 288 rows"),
}


@pytest.mark.parametrize("case", PHI3_REFUSED)
def test_phi3_metadata_that_we_do_not_run_is_refused_by_name(case, phi3, tmp_path):
    changes, fragment = PHI3_REFUSED[case]
    assert_refused(rewrite(phi3, tmp_path / "bad.gguf", changes), tmp_path / "cache", fragment)


def test_a_sliding_window_shorter_than_the_context_bounds_it(phi3, tmp_path):
    _, config, _ = export.read_gguf(rewrite(phi3, tmp_path / "w.gguf", {"phi3.attention.sliding_window": 40}))
    assert config["context_length"] == 40  # the window then masks nothing


def test_gemma3_exports_what_llama_cpp_runs(tmp_path):
    """Five sliding-window layers to a global one; the global ones alone at the file's RoPE base
    with its linear scaling; embeddings times sqrt(dim); the norms after attention and the FFN."""
    path = tiny_llama.write(tmp_path / "g.gguf", arch="gemma3", layers=7, qk_norm=True, head_dim=32)
    _, config, _ = export.read_gguf(path)
    assert config["local_layers"] == [0, 1, 2, 3, 4, 6] and config["sliding_window"] == 5
    assert (config["rope_theta"], config["rope_theta_local"], config["rope_freq_factors"][0]) == (1e6, 1e4, 8.0)
    assert config["embed_scale"] == 8.0 and config["ffn_act"] == "gelu_tanh" and config["post_norms"]
    assert config["tensors"]["blk.6.post_ffw_norm.weight"]["shape"] == [64]
    assert_refused(rewrite(path, tmp_path / "w.gguf", {"gemma3.attention.sliding_window": None}), tmp_path / "c",
                   "missing key gemma3.attention.sliding_window")


def test_gemma3_sliding_window_pattern_as_a_period_or_a_flag_a_layer(tmp_path):
    path = tiny_llama.write(tmp_path / "g.gguf", arch="gemma3", layers=4, qk_norm=True, head_dim=32)
    period = rewrite(path, tmp_path / "p.gguf", {"gemma3.attention.sliding_window_pattern": 2})
    assert export.read_gguf(period)[1]["local_layers"] == [0, 2]
    flags = rewrite(path, tmp_path / "f.gguf", {"gemma3.attention.sliding_window_pattern": [True, False, False, True]})
    assert export.read_gguf(flags)[1]["local_layers"] == [0, 3]
    bad = rewrite(path, tmp_path / "b.gguf", {"gemma3.attention.sliding_window_pattern": [True]})
    assert_refused(bad, tmp_path / "c", "gemma3.attention.sliding_window_pattern=[True] is not 4 booleans")


def test_gemma2_alternates_windows_and_caps_scores_and_logits(tmp_path):
    _, config, _ = export.read_gguf(tiny_llama.write(tmp_path / "g.gguf", arch="gemma2", layers=4))
    assert config["local_layers"] == [0, 2] and config["sliding_window"] == 5
    assert config["rope_theta_local"] is None  # the local layers rotate as the global ones
    assert (config["attn_softcap"], config["final_softcap"]) == (2.0, 3.0)
    assert config["embed_scale"] == 8.0 and config["post_norms"] and not config["qk_norm"]
