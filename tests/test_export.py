"""The exporter: every supported GGUF type round-trips against gguf's own dequantization,
unsupported inputs are refused by name, and a whole (tiny) llama GGUF exports."""

import json

import numpy as np
import pytest
import tiny_llama
from gguf import GGMLQuantizationType as Q
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


def test_stored_shapes_match_the_exported_file(tmp_path):
    """The layout module's sizes (ModelConfig.stored, used for speed runs) agree with what export writes."""
    from safetensors import safe_open

    from pyapp.runtime.config import ModelConfig

    out = export.export(tiny_llama.write(tmp_path / "mixed.gguf", types=tiny_llama.MIXED), cache=tmp_path / "c")
    config = json.loads((out / "config.json").read_text())
    with safe_open(str(out / "model.safetensors"), "np") as f:
        written = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    dtypes = {"F32": "f32", "U8": "u8"}
    assert {k: (s, dtypes[d]) for k, (s, d) in written.items()} == ModelConfig.from_json(config).stored()
