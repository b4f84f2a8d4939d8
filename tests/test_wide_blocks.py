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
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_llama
from gguf import GGMLQuantizationType as Q

HERE = Path(__file__).resolve().parent
ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")
Q4_K_M = {"token_embd": Q.Q4_K, "attn_q": Q.Q4_K, "attn_k": Q.Q4_K, "attn_v": Q.Q6_K, "attn_output": Q.Q4_K,
          "ffn_gate": Q.Q4_K, "ffn_up": Q.Q4_K, "ffn_down": Q.Q6_K, "output": Q.Q6_K}


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """(bundle, golden file, golden) of a one-layer model of Llama-3.2-1B's widths."""
    from safetensors.numpy import save_file

    from pyapp.export import export
    from pyapp.reference import Reference

    tmp = tmp_path_factory.mktemp("wide")
    gguf = tiny_llama.write(tmp / "wide.gguf", layers=1, dim=2048, heads=32, kv=8, ffn=8192, vocab=512,
                            types=Q4_K_M, seed=5)
    prompt = [1, 17, 200, 33, 450, 7, 91, 300]
    ids, logits = Reference(gguf).greedy(prompt, 6)
    margins = [float(np.diff(np.sort(step)[-2:])[0]) for step in logits]
    assert min(margins) > 1e-3, f"a near tie in the reference's top two: {margins}"  # so tokens can be compared
    golden = {"prompt_ids": np.array(prompt, np.int32), "generated_ids": np.array(ids, np.int32),
              "logits": np.stack(logits).astype(np.float32)}
    save_file(golden, str(tmp / "model_wide.safetensors"))
    return export(gguf, cache=tmp, blocks=True), tmp / "model_wide.safetensors", golden


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
@pytest.mark.parametrize("style", ["subgroups"])
def test_a_1b_wide_layer_of_q4_k_m_blocks_matches_the_reference(wide, style):
    pytest.importorskip("wgpu")
    bundle, golden_file, golden = wide
    config = json.loads((bundle / "config.json").read_text())
    formats = {e["format"] for n, e in config["tensors"].items() if n != "token_embd.weight" and "norm" not in n}
    assert formats == {"q4k", "q6k"}
    env = {**os.environ, "VK_ICD_FILENAMES": str(ICD), "LD_LIBRARY_PATH": str(ICD.parent)}
    r = subprocess.run([sys.executable, "-m", "pyapp.native", "model", str(bundle), "--golden", str(golden_file),
                        "--style", style, "--path", "fused", "--steps", "2", "--prompt-tokens", "4", "--context", "64",
                        "--json"], env=env, capture_output=True, text=True, timeout=900, cwd=HERE.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    (row,) = json.loads(r.stdout.splitlines()[-1])
    (check,) = row["golden"]
    scale = float(np.abs(golden["logits"]).max())
    assert check["tokens_match"], (style, check)
    assert check["max_abs_logit_err"] <= 1e-4 + 1e-3 * scale, (style, check, scale)
