"""ExecuTorch's ops in headless Chromium against goldens computed ahead of time: every case
registered in op_tests/ (one module per op: its cases as data and its reference), in the
device's kernel style and in each style a case forces.

Linears: numpy fp64 dequantize-then-matmul. Attention: torch F.scaled_dot_product_attention.
Tolerance everywhere: abs 1e-4 OR rel 1e-3 per element.
"""

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import assert_close, decode, golden_path, op_cases


def expected(case: str) -> dict:
    return load_file(golden_path(case))


@pytest.mark.parametrize("case", op_cases("linear_"))
def test_linear_matches_golden(app, case):
    got = app.py('from e2e import run_linear\nRESULT = await run_linear(ARGS["case"])', case=case)
    assert_close(decode(got), expected(case)["expected"], what=case)


@pytest.mark.parametrize("case", op_cases("linear_", "workgroups"))
def test_linear_workgroups_style_matches_golden(app, case):
    """The real-GPU kernel choice (a workgroup per column, shared-memory reduction), forced here
    so that Chrome's compiler and SwiftShader check it too; a real GPU picks it by itself.
    The committed decode cases; not the LLM-sized ones, whose barriers SwiftShader runs too
    slowly (the lanes test covers them)."""
    got = app.py('from e2e import run_linear\nRESULT = await run_linear(ARGS["case"], "workgroups")', case=case)
    assert_close(decode(got), expected(case)["expected"], what=case)


@pytest.mark.parametrize("case", op_cases("sdpa_with_kv_cache"))
def test_sdpa_matches_golden(app, case):
    r = app.py('from e2e import run_sdpa\nRESULT = await run_sdpa(ARGS["case"])', case=case)
    gold = expected(case)
    assert_close(decode(r["out"]), gold["expected"], what=case)
    for name, got in r["caches"].items():  # caches updated in place at input_pos
        np.testing.assert_array_equal(decode(got), gold[f"expected_{name}"].reshape(-1), err_msg=name)


@pytest.mark.parametrize("case", op_cases("sdpa_with_kv_cache", "workgroups"))
def test_sdpa_workgroups_style_matches_golden(app, case):
    """The real-GPU softmax and AV (a workgroup per row), forced here so CI checks them too.
    AV splits a workgroup of 256 into stripes of D threads, so a head dim that does not divide
    256 (24 here, 80 in some models) keeps the lanes softmax and AV even on a real GPU."""
    r = app.py('from e2e import run_sdpa\nRESULT = await run_sdpa(ARGS["case"], kernel_style="workgroups")', case=case)
    assert_close(decode(r["out"]), expected(case)["expected"], what=case)
    head_dim = expected(case)["q"].shape[-1]
    assert r["reduce"] == (256 % head_dim == 0), f"{case}: D={head_dim} took the wrong path"


def test_sdpa_with_caches_as_graph_inputs(app):
    case = "goldens/sdpa_gqa2_prefill"
    r = app.py('from e2e import run_sdpa\nRESULT = await run_sdpa(ARGS["case"], caches_as_inputs=True)', case=case)
    gold = expected(case)
    assert_close(decode(r["out"]), gold["expected"], what=case)
    for name, got in r["caches"].items():
        np.testing.assert_array_equal(decode(got), gold[f"expected_{name}"].reshape(-1), err_msg=name)


def replay_goldens(case):
    gold = expected(case)
    return [gold[f"expected{i}"] for i in range(sum(k.startswith("expected") for k in gold))]


def steps_match(outs, golds) -> list[bool]:
    ok = []
    for got, want in zip(outs, golds):
        try:
            assert_close(decode(got), want)
            ok.append(True)
        except AssertionError:
            ok.append(False)
    return ok


@pytest.mark.parametrize("case", op_cases("sdpa_replay"))
def test_replay_on_one_graph(app, case):
    r = app.py('from e2e import run_replay\nRESULT = await run_replay(ARGS["case"])', case=case)
    golds = replay_goldens(case)
    for i, (got, want) in enumerate(zip(r["outs"], golds)):
        assert_close(decode(got), want, what=f"{case} step {i}")
    assert r["graphs"] == 1
    assert all(v == 0 for v in r["new_objects"].values()), f"steps created GPU objects: {r['new_objects']}"


def test_dynamic_decode_with_input_pos_fed_at_run_time(app):
    case = "goldens/replay_decode"
    golds = replay_goldens(case)
    assert len(golds) >= 7
    live = app.py('from e2e import run_replay\nRESULT = await run_replay(ARGS["case"], fed=True)', case=case)
    assert all(steps_match(live["outs"], golds))
    # Negative control: the same steps with input_pos pinned to 0 must diverge, or the oracle has no teeth.
    pinned = app.py('from e2e import run_replay\nRESULT = await run_replay(ARGS["case"], fed=True, pin=0)', case=case)
    assert not all(steps_match(pinned["outs"], golds)[1:])


def test_in_graph_caches_persist_across_executes(app):
    case = "goldens/replay_a"
    golds = replay_goldens(case)
    kept = app.py('from e2e import run_replay\nRESULT = await run_replay(ARGS["case"])', case=case)
    assert all(steps_match(kept["outs"], golds))
    # Static control: a fresh graph per step starts from empty caches and must diverge.
    fresh = app.py('from e2e import run_replay\nRESULT = await run_replay(ARGS["case"], fresh=True)', case=case)
    assert fresh["graphs"] == len(golds)
    assert steps_match(fresh["outs"], golds)[0] and not any(steps_match(fresh["outs"], golds)[1:])


def test_profiler_shows_the_sdpa_dispatches(app):
    r = app.py('from e2e import run_sdpa\nRESULT = await run_sdpa("goldens/sdpa_mha", profile=True)')
    assert [label.split("#")[0] for label in r["labels"]] == [
        "update_cache", "update_cache", "sdpa_compute_attn_weights", "sdpa_softmax", "sdpa_compute_out"]


def test_input_pos_past_the_cache_is_refused_before_the_submit(app):
    r = app.py("""
        from e2e import device
        from pyapp.runtime import ops
        from pyapp.runtime.graph.graph import Graph
        g = Graph(device(), "tight")
        q = g.input("q", (1, 2, 2, 4)); k = g.input("k", (1, 2, 1, 4)); v = g.input("v", (1, 2, 1, 4))
        kc, vc = g.state("kc", (1, 8, 1, 4)), g.state("vc", (1, 8, 1, 4))
        pos = g.symint("pos", 0)
        g.output(ops.sdpa_with_kv_cache(g, q, k, v, kc, vc, pos, 2))
        await g.prepare()
        pos.set(7)
        try:
            await g.execute()
            RESULT = "no error"
        except ValueError as e:
            RESULT = str(e)
    """)
    assert "input_pos 7 + seq_len 2 does not fit the cache of 8" in r


def test_op_benchmark_runs_in_the_page(app):
    """pyapp.bench_ops' in-page half (pyapp.runtime.bench.op_bench): timed rows with GPU times."""
    r = app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.bench import op_bench
        RESULT = {"rows": await op_bench.run(app.page.device, 2, "sdpa"),
                  "passes": await op_bench.pass_modes(app.page.device, 2)}
    """)
    assert [row["dispatches"] for row in r["rows"]] == [5, 5]
    for row in r["rows"]:
        assert row["wall_ms"] > 0 and row["gpu_ms"] > 0
        assert set(row["kernels"]) == {"update_cache", "sdpa_compute_attn_weights", "sdpa_softmax", "sdpa_compute_out"}
    assert r["passes"]["single_pass"] > 0 and r["passes"]["pass_per_dispatch"] > 0
