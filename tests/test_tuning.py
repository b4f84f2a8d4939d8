"""Tuning constants by name (pyapp/runtime/ops/tuning.py): what `pyapp.native --tune` and
model_bench.shapes_report's variants set."""

import pytest

from pyapp.runtime.ops import tuning
from pyapp.runtime.ops.fused import _fused, residual_linear, sample


def test_names_resolve_to_their_module():
    assert tuning.resolve("WIDE_LOADS") == (_fused, "WIDE_LOADS")
    assert tuning.resolve("residual_linear.WIDE_N") == (residual_linear, "WIDE_N")


def test_tuned_sets_with_the_constants_type_and_restores():
    before = (_fused.WIDE_LOADS, residual_linear.WIDE_N, sample.CANDIDATES)
    with tuning.tuned({"WIDE_LOADS": 0, "residual_linear.WIDE_N": "64", "sample.CANDIDATES": 0}):
        assert (_fused.WIDE_LOADS, residual_linear.WIDE_N, sample.CANDIDATES) == (0, 64, False)
    assert (_fused.WIDE_LOADS, residual_linear.WIDE_N, sample.CANDIDATES) == before


@pytest.mark.parametrize("name", ["NO_SUCH", "residual_linear.NO_SUCH", "nomodule.WG", "residual_linear.residual_linear"])
def test_unknown_names_are_refused(name):
    with pytest.raises(ValueError, match="no tuning constant"):
        tuning.resolve(name)
