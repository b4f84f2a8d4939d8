"""When the prefill's shared tiles take their products on subgroup matrices (fused_matrix.wgsl),
and when they keep f32 (fused_tiles.wgsl): the adapter's features, its 16x16x16 f16 config and
subgroups of 32 (Device.half_matrices), the workgroup memory (128 rows a tile where it holds
them), and the MATRIX_TILES setting. The kernel itself runs only where Chrome offers the feature
on a GPU (README, "Prefill on subgroup matrices"); SwiftShader offers neither it nor shader-f16.
"""

import types

import pytest

from pyapp.runtime.gpu import shaders
from pyapp.runtime.gpu.device import HALF_MATRIX, MATRIX_FEATURES, has_half_matrices
from pyapp.runtime.graph.graph import Graph
from pyapp.runtime.model.weights import Placed
from pyapp.runtime.ops import tuning
from pyapp.runtime.ops.fused.swiglu import swiglu

APPLE = {"componentType": "f16", "resultComponentType": "f32", "M": 8, "N": 8, "K": 8}
INT8 = {"componentType": "i8", "resultComponentType": "i32", "M": 16, "N": 16, "K": 32}


@pytest.mark.parametrize("features, configs, sizes, want", [
    (MATRIX_FEATURES, [INT8, HALF_MATRIX], (32, 32), True),
    (MATRIX_FEATURES, [APPLE], (32, 32), False),              # 8x8 only
    (MATRIX_FEATURES[1:], [HALF_MATRIX], (32, 32), False),    # no shader-f16 (NVIDIA without Dawn's toggle)
    (MATRIX_FEATURES, [HALF_MATRIX], (16, 64), False),        # subgroups of varying size
    ((), [], (32, 32), False),
])
def test_half_matrices_need_features_shape_and_subgroups_of_32(features, configs, sizes, want):
    assert has_half_matrices(features, configs, sizes) is want


def device(half_matrices: bool, shared_bytes: int = 48 * 1024):
    return types.SimpleNamespace(kernel_style="subgroups", half_matrices=half_matrices, pipeline_cache=None,
                                 limits={"maxComputeWorkgroupsPerDimension": 65535,
                                         "maxComputeWorkgroupStorageSize": shared_bytes})


def prefill_swiglu(dev, rows: int = 512, k: int = 256, n: int = 1000):
    g = Graph(dev)
    x = g.input("x", (rows, k))
    arena = g.input("arena", (1 << 20,), "u32")
    gate = Placed("a", "q4gsw", n, k, 32, codes=64)
    up = Placed("a", "q4gsw", n, k, 32, codes=1 << 18)
    live = g.symint("rows", rows)
    swiglu(g, x, arena, 0, gate, up, live, eps=1e-5, name="ffn")
    return g.dispatches[-1], live


@pytest.mark.parametrize("half, shared, setting, variant, tile_m", [
    (True, 48 * 1024, 1, "matrix", 128),
    (True, 32 * 1024, 1, "matrix", 64),   # 128 rows of f16 x need 32.2 KiB
    (True, 27 * 1024, 1, "tiles", 64),    # too little workgroup memory for the f16 staging and the drain
    (True, 48 * 1024, 0, "tiles", 64),
    (False, 48 * 1024, 1, "tiles", 64),
])
def test_prefill_tiles_take_matrices_where_the_device_has_them(half, shared, setting, variant, tile_m):
    with tuning.tuned({"MATRIX_TILES": setting}):
        d, live = prefill_swiglu(device(half, shared))
    assert d.variant == variant
    assert d.constants["TILE_M"] == tile_m
    assert ("chromium_experimental_subgroup_matrix" in d.source) == (variant == "matrix")
    # a matrix tile is 32 items of 2 + 2 columns (gate, up): 128 sums, 64 output columns
    across = -(-1000 // (64 if variant == "matrix" else 32))
    assert d.workgroups == across * (512 // tile_m)
    live.set(65)
    for hook in live.hooks:  # as an execute runs them
        hook(65)
    assert d.workgroups == across * -(-65 // tile_m)


def test_matrix_source_puts_its_directives_first():
    text = shaders.load("swiglu", (("common/team.wgsl", "common/team_single.wgsl"),
                                   ("common/fused_entry.wgsl", "common/fused_matrix.wgsl")))
    head = text.splitlines()[:3]
    assert head == ["enable f16;", "enable chromium_experimental_subgroup_matrix;",
                    "diagnostic(off, chromium.subgroup_matrix_uniformity);"]
    assert "override TILE_M" in text

