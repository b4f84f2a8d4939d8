"""The graph runtime in a real browser, driven by a user WGSL kernel (kernels/axpb_pos.wgsl).

Expected values come from goldens/infra_*.safetensors (numpy fp64, make_goldens.py).
"""

import pytest
from safetensors.numpy import load_file

from conftest import HERE, assert_close, decode

KERNEL = (HERE / "kernels" / "axpb_pos.wgsl").read_text()


def infra(name: str) -> dict:
    return load_file(HERE / "goldens" / f"infra_{name}.safetensors")


def run(app, call: str, **args):
    """Run one case of inpage/graph_cases.py in the page with the user kernel."""
    return app.py(f"from graph_cases import *\nRESULT = await {call}", wgsl=KERNEL, **args)


def test_custom_kernel_and_symint_change_reuse_every_gpu_object(app):
    r = run(app, 'symint_change_reuses_every_object(ARGS["wgsl"])')
    gold = infra("axpb")
    assert_close(decode(r["out0"]), gold["pos0"], what="pos=0")
    assert_close(decode(r["out7"]), gold["pos7"], what="pos=7")
    assert_close(decode(r["again"]), gold["pos7"], what="pos=7 again")
    assert r["before"] == r["after"], "a step created GPU objects"
    assert r["after"]["pipeline"] >= 1 and r["after"]["bind_group"] >= 1


def test_symint_fed_from_an_input_element(app):
    r = run(app, 'symint_fed_from_an_input(ARGS["wgsl"])')
    gold = infra("axpb")
    for got, key in zip(r, ("pos0", "pos7", "pos5")):
        assert_close(decode(got), gold[key], what=key)


def test_grid_folds_past_65535_workgroups(app):
    r = run(app, 'grid_folding(ARGS["wgsl"])')
    assert r["grid"][1] > 1 and r["grid"][0] <= 65535
    gold = infra("grid")
    assert_close(decode(r["out"]), gold["pos1"], what="70001 one-invocation workgroups")


def test_resize_hook_runs_once_per_change_and_patches_workgroups(app):
    r = run(app, 'resize_hook_steps(ARGS["wgsl"])')
    gold = infra("axpb")["pos0"]
    assert [s["calls"] for s in r] == [1, 1, 2, 2, 3], "hook must run once per change, never for an unchanged value"
    assert [s["grid"][0] for s in r] == [1, 1, 16, 16, 1]
    for s in r:
        out = decode(s["out"])
        assert_close(out[: s["value"]], gold[: s["value"]], what=f"first {s['value']}")
    # the first step ran one workgroup over a zeroed buffer: the rest must still be zero
    assert not decode(r[0]["out"])[64:].any()


@pytest.mark.parametrize("single_pass", [False, True])
def test_chain_with_shared_scratch_matches_golden(app, single_pass):
    r = run(app, 'chain_with_shared_scratch(ARGS["wgsl"], ARGS["single_pass"])', single_pass=single_pass)
    gold = infra("axpb")
    assert_close(decode(r["out"]), gold["chain4_pos3"], what="4 chained dispatches")
    assert r["slots"] == 2, "three intermediates with short lifetimes fit in two buffers"
    assert r["passes"] == (1 if single_pass else 4)


def test_profiler_gives_one_record_per_dispatch(app):
    r = run(app, 'profiled_chain(ARGS["wgsl"])')
    assert r["status"] == "on"
    assert r["ticks"] == 8 and r["zero_ticks"] == 0, "the adapter has timestamp-query: every pass wrote its two"
    recs = r["records"]
    assert [x[0] for x in recs] == [0, 1, 2, 3]
    assert [x[1] for x in recs] == [f"axpb_pos#{i}" for i in range(4)]
    for _, _, start, end, dur, grid in recs:
        assert 0 <= start <= end and dur == end - start
        assert grid == [16, 1, 1]
    assert "axpb_pos" in r["table"] and "     4" in r["table"]


def test_device_without_timestamp_query_runs_untimed(app):
    r = run(app, 'untimed_without_timestamp_query(ARGS["wgsl"])')
    gold = infra("axpb")
    assert "timestamp-query" not in r["features"]
    assert r["status"] == "unavailable" and r["records"] == 0 and r["queries"] == 0
    assert_close(decode(r["out"]), gold["chain4_pos3"], what="untimed chain")


def test_errors_name_the_culprit(app):
    r = run(app, 'errors_that_name_the_culprit(ARGS["wgsl"])')
    assert "x[100]:f32" in r["size"] and "400 bytes" in r["size"] and "12" in r["size"]
    assert "'y' is not an input" in r["name"]
    assert "typo_kernel#0" in r["wgsl"] and "oops" in r["wgsl"]
