"""The graph runtime in a real browser, driven by a user WGSL kernel (kernels/axpb_pos.wgsl).

Expected values come from goldens/infra_*.safetensors (numpy fp64, make_goldens.py).
"""

from pathlib import Path

import pytest

from conftest import assert_close, decode

KERNEL = (Path(__file__).parent / "kernels" / "axpb_pos.wgsl").read_text()
SCALE = 2.5


def test_custom_kernel_and_symint_change_reuse_every_gpu_object(app):
    r = app.py("""
        from e2e import golden, axpb_graph, b64, created
        f = await golden("goldens/infra_axpb")
        g = axpb_graph(ARGS["wgsl"], f["x"].shape[0], float(f.metadata["scale"]))
        await g.prepare()
        pos = g.symints["pos"]
        out0 = (await g.execute({"x": f["x"].view}))["out"]
        before = created()
        pos.set(7)
        out7 = (await g.execute({"x": f["x"].view}))["out"]
        pos.set(7)  # unchanged: nothing to rewrite
        again = (await g.execute())["out"]
        RESULT = {"out0": b64(out0), "out7": b64(out7), "again": b64(again),
                  "before": before, "after": created()}
    """, wgsl=KERNEL)
    from safetensors.numpy import load_file
    gold = load_file(Path(__file__).parent / "goldens" / "infra_axpb.safetensors")
    assert_close(decode(r["out0"]), gold["pos0"], what="pos=0")
    assert_close(decode(r["out7"]), gold["pos7"], what="pos=7")
    assert_close(decode(r["again"]), gold["pos7"], what="pos=7 again")
    assert r["before"] == r["after"], "a step created GPU objects"
    assert r["after"]["pipeline"] >= 1 and r["after"]["bind_group"] >= 1


def test_symint_fed_from_an_input_element(app):
    r = app.py("""
        import struct
        from e2e import golden, axpb_graph, b64
        f = await golden("goldens/infra_axpb")
        g = axpb_graph(ARGS["wgsl"], f["x"].shape[0], 2.5)
        g.input("input_pos", (1,), "i64")
        g.symints["pos"].source = "input_pos"
        await g.prepare()
        outs = []
        for p in (0, 7, 5):
            outs.append(b64((await g.execute({"x": f["x"].view, "input_pos": struct.pack("<q", p)}))["out"]))
        RESULT = outs
    """, wgsl=KERNEL)
    from safetensors.numpy import load_file
    gold = load_file(Path(__file__).parent / "goldens" / "infra_axpb.safetensors")
    for got, key in zip(r, ("pos0", "pos7", "pos5")):
        assert_close(decode(got), gold[key], what=key)


def test_grid_folds_past_65535_workgroups(app):
    r = app.py("""
        from e2e import golden, b64, device
        from pyapp.runtime.graph import Graph
        f = await golden("goldens/infra_grid")
        n = f["x"].shape[0]
        g = Graph(device(), "grid")
        x = g.input("x", (n,))
        out = g.output(g.scratch("out", (n,)))
        pos = g.symint("pos", 1)
        d = g.dispatch("axpb_pos", source=ARGS["wgsl"], writes=[out], reads=[x],
                       uniforms=[pos, g.uniform("n", n=n)], workgroups=n, constants={"WG": 1, "SCALE": 2.5})
        await g.prepare()
        RESULT = {"grid": d.grid, "out": b64((await g.execute({"x": f["x"].view}))["out"])}
    """, wgsl=KERNEL)
    assert r["grid"][1] > 1 and r["grid"][0] <= 65535
    from safetensors.numpy import load_file
    gold = load_file(Path(__file__).parent / "goldens" / "infra_grid.safetensors")
    assert_close(decode(r["out"]), gold["pos1"], what="70001 one-invocation workgroups")


def test_resize_hook_runs_once_per_change_and_patches_workgroups(app):
    r = app.py("""
        from math import ceil
        from e2e import golden, axpb_graph, b64
        f = await golden("goldens/infra_axpb")
        full = f["x"].shape[0]
        g = axpb_graph(ARGS["wgsl"], full, 2.5)
        live = g.symint("live", 1)          # how many elements this step computes
        d = g.dispatches[0]
        calls = []
        def hook(value):                     # rewrites a uniform and the workgroup count
            calls.append(value)
            g.params[0].set(n=value)
            d.set_workgroups(ceil(value / 64))
        g.on_resize(live, hook)
        await g.prepare()
        steps = []
        for value in (3, 3, full, full, 5):
            live.set(value)
            out = (await g.execute({"x": f["x"].view}))["out"]
            steps.append({"value": value, "calls": len(calls), "grid": d.grid, "out": b64(out)})
        RESULT = steps
    """, wgsl=KERNEL)
    from safetensors.numpy import load_file
    gold = load_file(Path(__file__).parent / "goldens" / "infra_axpb.safetensors")["pos0"]
    assert [s["calls"] for s in r] == [1, 1, 2, 2, 3], "hook must run once per change, never for an unchanged value"
    assert [s["grid"][0] for s in r] == [1, 1, 16, 16, 1]
    for s in r:
        out = decode(s["out"])
        assert_close(out[: s["value"]], gold[: s["value"]], what=f"first {s['value']}")
    # the first step ran one workgroup over a zeroed buffer: the rest must still be zero
    assert not decode(r[0]["out"])[64:].any()


@pytest.mark.parametrize("single_pass", [False, True])
def test_chain_with_shared_scratch_matches_golden(app, single_pass):
    r = app.py("""
        from e2e import golden, axpb_graph, b64
        from pyapp.runtime.graph import plan_scratch
        f = await golden("goldens/infra_axpb")
        g = axpb_graph(ARGS["wgsl"], f["x"].shape[0], 2.5, chain=4, single_pass=ARGS["single_pass"])
        slots, sizes = plan_scratch(g.dispatches)
        g.symints["pos"].set(3)
        await g.prepare()
        RESULT = {"slots": len(sizes), "passes": len(g._passes),
                  "out": b64((await g.execute({"x": f["x"].view}))["out"])}
    """, wgsl=KERNEL, single_pass=single_pass)
    from safetensors.numpy import load_file
    gold = load_file(Path(__file__).parent / "goldens" / "infra_axpb.safetensors")
    assert_close(decode(r["out"]), gold["chain4_pos3"], what="4 chained dispatches")
    assert r["slots"] == 2, "three intermediates with short lifetimes fit in two buffers"
    assert r["passes"] == (1 if single_pass else 4)


def test_profiler_gives_one_record_per_dispatch(app):
    r = app.py("""
        from e2e import golden, axpb_graph
        from pyapp.runtime.profiler import summarize, format_table
        f = await golden("goldens/infra_axpb")
        g = axpb_graph(ARGS["wgsl"], f["x"].shape[0], 2.5, chain=4, profile=True)
        await g.prepare()
        await g.execute({"x": f["x"].view})
        recs = g.last_profile
        RESULT = {"status": g.profile_status, "table": format_table(summarize(recs)),
                  "records": [[r.idx, r.kernel_name, r.start_ns, r.end_ns, r.duration_ns, list(r.global_wg)] for r in recs]}
    """, wgsl=KERNEL)
    assert r["status"] == "on"
    recs = r["records"]
    assert [x[0] for x in recs] == [0, 1, 2, 3]
    assert [x[1] for x in recs] == [f"axpb_pos#{i}" for i in range(4)]
    for _, _, start, end, dur, grid in recs:
        assert 0 <= start <= end and dur == end - start
        assert grid == [16, 1, 1]
    assert "axpb_pos" in r["table"] and "     4" in r["table"]


def test_device_without_timestamp_query_runs_untimed(app):
    r = app.py("""
        from e2e import golden, axpb_graph, b64
        from pyapp.runtime.device import Device
        dev = await Device.open(exclude_features=["timestamp-query"])
        f = await golden("goldens/infra_axpb")
        g = axpb_graph(ARGS["wgsl"], f["x"].shape[0], 2.5, chain=4, dev=dev, profile=True)
        g.symints["pos"].set(3)
        await g.prepare()
        out = (await g.execute({"x": f["x"].view}))["out"]
        RESULT = {"features": sorted(dev.features), "status": g.profile_status,
                  "records": len(g.last_profile), "queries": dev.created["query_set"], "out": b64(out)}
        dev.raw.destroy()
    """, wgsl=KERNEL)
    from safetensors.numpy import load_file
    gold = load_file(Path(__file__).parent / "goldens" / "infra_axpb.safetensors")
    assert "timestamp-query" not in r["features"]
    assert r["status"] == "unavailable" and r["records"] == 0 and r["queries"] == 0
    assert_close(decode(r["out"]), gold["chain4_pos3"], what="untimed chain")


def test_errors_name_the_culprit(app):
    r = app.py("""
        from e2e import axpb_graph, device
        from pyapp.runtime.graph import Graph
        from pyapp.runtime.device import GPUError
        errors = {}
        g = axpb_graph(ARGS["wgsl"], 100, 2.5)
        await g.prepare()
        try:
            await g.execute({"x": bytes(12)})
        except ValueError as e:
            errors["size"] = str(e)
        try:
            await g.execute({"y": bytes(400)})
        except KeyError as e:
            errors["name"] = str(e)
        bad = Graph(device(), "broken")
        t = bad.output(bad.scratch("t", (4,)))
        bad.dispatch("typo_kernel", source="@compute @workgroup_size(1) fn main() { let a: u32 = oops; }", writes=[t])
        try:
            await bad.prepare()
        except GPUError as e:
            errors["wgsl"] = str(e)
        RESULT = errors
    """, wgsl=KERNEL)
    assert "x[100]:f32" in r["size"] and "400 bytes" in r["size"] and "12" in r["size"]
    assert "'y' is not an input" in r["name"]
    assert "typo_kernel#0" in r["wgsl"] and "oops" in r["wgsl"]
