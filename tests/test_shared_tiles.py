"""The GPU prefill's shared-memory tiles (wgsl/common/fused_tiles.wgsl: 64 rows x 16 items a
workgroup, weights decoded once per tile) and its flash attention (wgsl/flash_attention.wgsl:
a Gemma 2 with windows and soft caps, heads of 128) against the numpy reference, on the native host
(wgpu-native on SwiftShader). A 150-token prompt runs chunks of up to 128 rows: two bands of 64,
a ragged last band, and chunk tails. Every weight format the fused kernels read: our q4/q8 tables
(MIXED, exported without --blocks), the file's Q4_K/Q5_K/Q6_K blocks and Q5_0/Q5_1 (KQUANT), the
f16 tables (HALF). Subgroup teams take tiles as a GPU does (SHARED_TILES=1, the default), also
of 128 rows (TILE_M=128: 8 rows an invocation); teams of one only when told (SHARED_TILES=2,
attention.FLASH_PREFILL=2).
"""

import numpy as np
import pytest
import tiny_llama
from native_golden import ICD, check_natively, reference_golden

MODELS = {"mixed": ({"types": tiny_llama.MIXED}, False),
          "kquant": ({"types": tiny_llama.KQUANT, "dim": 256, "ffn": 512}, True),
          "half": ({"types": tiny_llama.HALF}, True),
          # the flash attention's windows and soft caps, and heads of 128 (4 to a kv head)
          "gemma2": ({"arch": "gemma2", "types": tiny_llama.MIXED, "seed": 13}, False),  # 11 greedily ends at once
          "heads128": ({"types": tiny_llama.MIXED, "dim": 512, "heads": 4, "kv": 1}, False)}
PROMPT = 150


@pytest.fixture(scope="module")
def model(request, tmp_path_factory):
    """(bundle, golden file, golden) of a tiny model of MODELS and a 150-token prompt."""
    from pyapp.export import export

    shape, blocks = MODELS[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    gguf = tiny_llama.write(tmp / "m.gguf", **{"seed": 11, **shape}, context=256)
    prompt = [1, *np.random.default_rng(4).integers(3, 48, PROMPT - 1).tolist()]
    golden = reference_golden(gguf, prompt, 4, tmp / "model.safetensors", 1e-4)
    return export(gguf, cache=tmp, blocks=blocks), tmp / "model.safetensors", golden


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
@pytest.mark.parametrize("model", list(MODELS), indirect=True)
@pytest.mark.parametrize("style, tune", [("subgroups", ()), ("lanes", ("SHARED_TILES=2", "attention.FLASH_PREFILL=2")), ("subgroups", ("TILE_M=128",))])
def test_prefill_by_shared_tiles_matches_the_reference(model, style, tune):
    pytest.importorskip("wgpu")
    bundle, golden_file, golden = model
    check_natively(bundle, golden_file, golden, style, steps=4, prompt_tokens=8, context=256, tune=tune)


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
@pytest.mark.parametrize("model", ["kquant"], indirect=True)
def test_a_device_refusing_the_matrix_kernel_prefills_on_f32_tiles(model):
    """MATRIX_TILES=2 builds the prefill on subgroup matrices, which wgpu-native's compiler does
    not know: Model.prepare rebuilds the prefill graphs on f32 tiles and says why."""
    pytest.importorskip("wgpu")
    bundle, golden_file, golden = model
    row = check_natively(bundle, golden_file, golden, "subgroups", steps=4, prompt_tokens=8, context=256,
                         tune=("MATRIX_TILES=2",))
    assert row["prefill_matrices"] is False and row["matrix_error"], row
