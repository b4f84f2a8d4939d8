"""The in-page golden check (pyapp.runtime.bench.golden_check), the one a lent GPU runs over the
prefill on subgroup matrices, here on SwiftShader: each tiny GGUF of the prefill goldens
(tests_e2e/make_goldens.py, fp64 by pyapp.reference; 480-token prompts) opened in the page, its
greedy tokens and logits against the golden; and a golden put off on purpose is reported off.
"""

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import HERE

PREFILL = ("heads128", "kquant", "gemma2")


@pytest.fixture(scope="module")
def checks(model_page):
    models = {name: {"gguf": f"/files/goldens/prefill_{name}.gguf", "golden": f"/files/goldens/model_prefill_{name}.safetensors"}
              for name in PREFILL}
    models["smollm2_chat"] = {"golden": "/files/goldens/model_smollm2_chat.safetensors"}  # the page's own model
    return model_page.py("""
        from pyapp.runtime.bench import golden_check
        RESULT = await golden_check.report({"models": ARGS["models"]})
    """, timeout_ms=900_000, models=models)


@pytest.mark.parametrize("name", [*PREFILL, "smollm2_chat"])
def test_golden_check_passes_the_page_models(model_app, checks, name):
    (row,) = checks[name].values()  # the one variant, "as is"
    assert row["tokens_match"], row
    assert row["rel_err"] < 1e-3, row  # the house tolerance: the f32 paths measure ~1e-5 of the largest logit
    assert row["matrix_error"] is None and row["kernels"], row


def test_golden_check_fails_a_wrong_golden(model_app, tmp_path):
    """A golden whose logits are off by 1% of their largest is reported as such, not passed."""
    from safetensors.numpy import save_file

    gold = load_file(HERE / "goldens" / "model_prefill_kquant.safetensors")
    logits = gold["logits"].copy()
    logits[-1, 3] += 0.01 * np.abs(logits).max()
    save_file({**gold, "logits": logits}, str(tmp_path / "bad.safetensors"))
    model_app.site.mounts["bad_golden"] = tmp_path
    r = model_app.py("""
        from pyapp.runtime.bench import golden_check
        RESULT = await golden_check.report({"models": {"kquant": {
            "gguf": "/files/goldens/prefill_kquant.gguf", "golden": "/files/bad_golden/bad.safetensors"}}})
    """, timeout_ms=600_000)
    row = r["kquant"]["as is"]
    assert row["tokens_match"] and 0.009 < row["rel_err"] < 0.011, row
