"""The fused path on the file's own bytes beyond Q4_K/Q6_K: our codes with the file's f16 scales
(formats.HALF_TABLES; Q5_0/Q5_1's with the file's fifth bits) and Q5_K's blocks. Two tiny llamas exported with --blocks, greedy on the
native host (wgpu-native on SwiftShader) against the numpy reference on the same file: "half",
Q4_0, Q4_1, Q5_0, Q5_1 (the embedding), Q8_0 and IQ4_NL (tiny_llama.HALF; a down projection of 3
groups a row, so a table row ends in half a word), and "q5k", the same at width 256 with a Q5_K
embedding and LM head. Teams of one (the lanes path, which every prefill runs) and
subgroup teams (the wide reads; "half" only); "half" also with the prefill's
tiles of rows set otherwise. tests/test_export.py checks the stored bytes against the file's;
tests/test_gguf_upload.py the GPU repack against the exporter.
"""

import json

import pytest
import tiny_llama
from gguf import GGMLQuantizationType as Q
from native_golden import ICD, check_natively, reference_golden

HALVES = {"q4gsw_f16", "q4gaw_f16", "q5gsw_f16", "q5gaw_f16", "q8gsw_f16"}
MODELS = {"half": ({}, HALVES),
          "q5k": ({"dim": 256, "ffn": 544, "types": {**tiny_llama.HALF, "token_embd": Q.Q5_K, "output": Q.Q5_K}},
                  {"q5k", *HALVES})}


@pytest.fixture(scope="module")
def model(request, tmp_path_factory):
    """(bundle, golden file, golden, its formats) of a tiny model of MODELS."""
    from pyapp.export import export

    shape, formats = MODELS[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    gguf = tiny_llama.write(tmp / "m.gguf", **{"types": tiny_llama.HALF, **shape}, seed=3)
    golden = reference_golden(gguf, [1, 17, 20, 33, 45, 7, 9, 30], 8, tmp / "model.safetensors", 1e-4)
    return export(gguf, cache=tmp, blocks=True), tmp / "model.safetensors", golden, formats


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
# q5k's subgroup teams: tests_e2e/test_model.py runs Q5_K blocks in every style (tiny_kquant); CI's minutes
@pytest.mark.parametrize("model, style", [("half", "lanes"), ("half", "subgroups"), ("q5k", "lanes")], indirect=["model"])
def test_the_fused_path_reads_the_files_own_bytes(model, style):
    pytest.importorskip("wgpu")
    bundle, golden_file, golden, formats = model
    config = json.loads((bundle / "config.json").read_text())
    assert {e["format"] for n, e in config["tensors"].items() if "norm" not in n} == formats
    check_natively(bundle, golden_file, golden, style, steps=8, prompt_tokens=8, context=64)


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
# the prefill's tiles (fused/_fused.py PREFILL_TILE_ROWS): one row a workgroup, as matrices too wide
# to tile run, and a tile of 16 rows taller than the 8-token prompt (dead rows, short chunk tails)
@pytest.mark.parametrize("tune", ["TILE_X_BYTES=0", "PREFILL_TILE_ROWS=16"])
@pytest.mark.parametrize("model", ["half"], indirect=True)
def test_prefill_tiles_of_any_height_match_the_reference(model, tune):
    pytest.importorskip("wgpu")
    bundle, golden_file, golden, _ = model
    check_natively(bundle, golden_file, golden, "lanes", steps=8, prompt_tokens=8, context=64, tune=(tune,))
