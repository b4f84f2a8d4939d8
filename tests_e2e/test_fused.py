"""The model's fused kernels (qkv_rope, attention, residual_linear, swiglu, norm_linear) in
headless Chromium against numpy fp64 goldens, in every kernel style a device may get: "lanes"
(SwiftShader's own), "subgroups" and "workgroups" (real GPUs', forced here so CI checks them).

The cases (make_goldens.py, written at test time into .cache/goldens) mix the weight formats in
one arena, use odd widths (29, 37, 301 columns), rows 1 (decode: teams split K) and 5 (prefill:
rows per item), and attention past 32 splits of the context, head dims 24 to 128, GQA 1 to 8.
"""

import pytest
from safetensors.numpy import load_file

from conftest import assert_close, decode, golden_cases, golden_path

STYLES = ["lanes", "subgroups", "workgroups"]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("case", golden_cases("fused_"))
def test_fused_kernel_matches_golden(app, case, style):
    got = app.py('from fused_cases import run_fused\nRESULT = await run_fused(ARGS["case"], ARGS["style"])',
                 case=case, style=style)
    gold = load_file(golden_path(case))
    assert got, f"{case}: no outputs"
    for key, value in got.items():
        assert_close(decode(value), gold[key], what=f"{case} [{style}] {key}")
