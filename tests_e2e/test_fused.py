"""The model's fused kernels (qkv_rope, attention, residual_linear, swiglu, norm_linear) in
headless Chromium against numpy fp64 goldens, each case (op_tests/fused.py) in every kernel
style it names: "lanes" (SwiftShader's own), "subgroups" and "workgroups" (real GPUs')."""

import pytest
from safetensors.numpy import load_file

from conftest import assert_close, decode, golden_path, op_cases

FUSED_OPS = ("attention", "residual_linear", "swiglu", "qkv_rope", "norm_linear")
STYLES = ("lanes", "subgroups", "workgroups")


@pytest.mark.parametrize("case,style", [(c, s) for s in STYLES for op in FUSED_OPS for c in op_cases(op, s)])
def test_fused_kernel_matches_golden(app, case, style):
    got = app.py('from fused_cases import run_fused\nRESULT = await run_fused(ARGS["case"], ARGS["style"])',
                 case=case, style=style)
    gold = load_file(golden_path(case))
    assert got, f"{case}: no outputs"
    for key, value in got.items():
        assert_close(decode(value), gold[key], what=f"{case} [{style}] {key}")
