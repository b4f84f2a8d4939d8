"""The exporter: every supported GGUF type round-trips against gguf's own dequantization,
unsupported inputs are refused by name, and a whole (tiny) llama GGUF exports."""

import json

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter
from gguf.quants import dequantize, quantize

from pyapp import export


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


def test_unsupported_type_is_named():
    with pytest.raises(export.ExportError, match=r"tensor blk\.3\.ffn_up\.weight has type Q5_K"):
        export.convert("blk.3.ffn_up.weight", "Q5_K", np.zeros((4, 176), np.uint8), (4, 256))


def tiny_gguf(path, arch="llama", layers=2, dim=64, heads=4, kv=2, ffn=96, vocab=40, qtype=Q.Q8_0):
    rng = np.random.default_rng(0)
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
    wr.add_token_list([chr(ord("a") + i % 26) * (1 + i // 26) for i in range(vocab)])
    wr.add_token_merges(["a a"])
    wr.add_bos_token_id(0)
    wr.add_eos_token_id(1)

    def t(name, shape, q=qtype):
        w = rng.standard_normal(shape).astype(np.float32)
        if q == Q.F32:
            wr.add_tensor(name, w)
        else:  # quantized bytes; gguf infers the element shape from them
            wr.add_tensor(name, quantize(w, q), raw_dtype=q)

    t("token_embd.weight", (vocab, dim))
    t("output_norm.weight", (dim,), Q.F32)
    hd = dim // heads
    for i in range(layers):
        for name, shape in [("attn_q", (dim, dim)), ("attn_k", (kv * hd, dim)), ("attn_v", (kv * hd, dim)),
                            ("attn_output", (dim, dim)), ("ffn_gate", (ffn, dim)), ("ffn_up", (ffn, dim)),
                            ("ffn_down", (dim, ffn))]:
            t(f"blk.{i}.{name}.weight", shape)
        t(f"blk.{i}.attn_norm.weight", (dim,), Q.F32)
        t(f"blk.{i}.ffn_norm.weight", (dim,), Q.F32)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return path


def test_tiny_llama_exports(tmp_path):
    gguf = tiny_gguf(tmp_path / "tiny.gguf")
    out = export.export(gguf, cache=tmp_path / "cache")
    config = json.loads((out / "config.json").read_text())
    assert (config["n_layers"], config["dim"], config["n_heads"], config["n_kv_heads"], config["head_dim"]) == (2, 64, 4, 2, 16)
    assert config["tied_embeddings"] and config["tensors"]["blk.1.ffn_down.weight"] == {
        "format": "q8gsw", "shape": [64, 96], "group_size": 32}
    from safetensors.numpy import load_file
    stored = load_file(out / "model.safetensors")
    assert stored["blk.0.ffn_down.weight.qweight"].shape == (64, 96)
    assert stored["blk.0.ffn_down.weight.scales"].shape == (3, 64)
    assert json.loads((out / "tokenizer.json").read_text())["eos_id"] == 1
    assert export.export(gguf, cache=tmp_path / "cache") == out  # cached by content hash


def test_other_architectures_are_refused(tmp_path):
    gguf = tiny_gguf(tmp_path / "gpt2.gguf", arch="gpt2")
    with pytest.raises(export.ExportError, match="architecture 'gpt2' is not supported"):
        export.read_gguf(gguf)


def test_cli_reports_a_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        export.main(["--model", str(tmp_path / "nope.gguf")])
    assert "no such file" in str(e.value)
