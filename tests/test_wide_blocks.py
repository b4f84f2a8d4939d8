"""The fused path at a real model's widths, on the GGUF's own Q4_K and Q6_K blocks: a layer of
Llama-3.2-1B's shapes (width 2,048, 32 query and 8 kv heads of 64, FFN 8,192) in real Q4_K_M
blocks of random codes and scales, exported with --blocks, greedy on the native host
(wgpu-native on SwiftShader) against the numpy reference on the same file. The widths are what
turn the kernels' wide reads (64 k a lane) and four-column teams on; subgroup teams decode, and
the prefill runs teams of one (the lanes path); tests_e2e/test_model.py runs every style on the
tiny blocks model. The whole 16-layer model would take this machine's CI minutes; one layer
takes about a minute.
"""

import json

import pytest
import tiny_llama
from gguf import GGMLQuantizationType as Q
from native_golden import ICD, check_natively, reference_golden

Q4_K_M = {"token_embd": Q.Q4_K, "attn_q": Q.Q4_K, "attn_k": Q.Q4_K, "attn_v": Q.Q6_K, "attn_output": Q.Q4_K,
          "ffn_gate": Q.Q4_K, "ffn_up": Q.Q4_K, "ffn_down": Q.Q6_K, "output": Q.Q6_K}


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """(bundle, golden file, golden) of a one-layer model of Llama-3.2-1B's widths."""
    from pyapp.export import export

    tmp = tmp_path_factory.mktemp("wide")
    gguf = tiny_llama.write(tmp / "wide.gguf", layers=1, dim=2048, heads=32, kv=8, ffn=8192, vocab=512,
                            types=Q4_K_M, seed=5)
    golden = reference_golden(gguf, [1, 17, 200, 33, 450, 7, 91, 300], 6, tmp / "model_wide.safetensors", 1e-3)
    return export(gguf, cache=tmp, blocks=True), tmp / "model_wide.safetensors", golden


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
@pytest.mark.parametrize("style", ["subgroups"])
def test_a_1b_wide_layer_of_q4_k_m_blocks_matches_the_reference(wide, style):
    pytest.importorskip("wgpu")
    bundle, golden_file, golden = wide
    config = json.loads((bundle / "config.json").read_text())
    formats = {e["format"] for n, e in config["tensors"].items() if n != "token_embd.weight" and "norm" not in n}
    assert formats == {"q4k", "q6k"}
    check_natively(bundle, golden_file, golden, style, steps=2, prompt_tokens=4, context=64)
