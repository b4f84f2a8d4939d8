"""The graph runtime's cases, run inside the page by tests_e2e/test_graph.py.

Each function builds graphs with the user kernel tests_e2e/kernels/axpb_pos.wgsl (its source
comes in as `wgsl`) over the golden infra_* inputs and returns what the test asserts on.
"""

from math import ceil

from e2e import axpb_graph, b64, created, device, golden

from pyapp.runtime.graph.graph import Graph, plan_scratch
from pyapp.runtime.gpu.profiler import format_table, summarize


async def symint_change_reuses_every_object(wgsl: str) -> dict:
    f = await golden("goldens/infra_axpb")
    g = axpb_graph(wgsl, f["x"].shape[0], float(f.metadata["scale"]))
    await g.prepare()
    pos = g.symints["pos"]
    out0 = (await g.execute({"x": f["x"].view}))["out"]
    before = created()
    pos.set(7)
    out7 = (await g.execute({"x": f["x"].view}))["out"]
    pos.set(7)  # unchanged: nothing to rewrite
    again = (await g.execute())["out"]
    return {"out0": b64(out0), "out7": b64(out7), "again": b64(again), "before": before, "after": created()}


async def symint_fed_from_an_input(wgsl: str) -> list:
    import struct

    f = await golden("goldens/infra_axpb")
    g = axpb_graph(wgsl, f["x"].shape[0], 2.5)
    g.input("input_pos", (1,), "i64")
    g.symints["pos"].source = "input_pos"
    await g.prepare()
    outs = []
    for p in (0, 7, 5):
        outs.append(b64((await g.execute({"x": f["x"].view, "input_pos": struct.pack("<q", p)}))["out"]))
    return outs


async def grid_folding(wgsl: str) -> dict:
    f = await golden("goldens/infra_grid")
    n = f["x"].shape[0]
    g = Graph(device(), "grid")
    x = g.input("x", (n,))
    out = g.output(g.scratch("out", (n,)))
    pos = g.symint("pos", 1)
    d = g.dispatch("axpb_pos", source=wgsl, writes=[out], reads=[x],
                   uniforms=[pos, g.uniform("n", n=n)], workgroups=n, constants={"WG": 1, "SCALE": 2.5})
    await g.prepare()
    return {"grid": d.grid, "out": b64((await g.execute({"x": f["x"].view}))["out"])}


async def resize_hook_steps(wgsl: str) -> list:
    f = await golden("goldens/infra_axpb")
    full = f["x"].shape[0]
    g = axpb_graph(wgsl, full, 2.5)
    live = g.symint("live", 1)  # how many elements this step computes
    d = g.dispatches[0]
    calls = []

    def hook(value):  # rewrites a uniform and the workgroup count
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
    return steps


async def chain_with_shared_scratch(wgsl: str, single_pass: bool) -> dict:
    f = await golden("goldens/infra_axpb")
    g = axpb_graph(wgsl, f["x"].shape[0], 2.5, chain=4, single_pass=single_pass)
    slots, sizes = plan_scratch(g.dispatches)
    g.symints["pos"].set(3)
    await g.prepare()
    return {"slots": len(sizes), "passes": len(g._passes),
            "out": b64((await g.execute({"x": f["x"].view}))["out"])}


async def profiled_chain(wgsl: str) -> dict:
    f = await golden("goldens/infra_axpb")
    g = axpb_graph(wgsl, f["x"].shape[0], 2.5, chain=4, profile=True)
    await g.prepare()
    await g.execute({"x": f["x"].view})
    recs = g.last_profile
    return {"status": g.profile_status, "table": format_table(summarize(recs)),
            "zero_ticks": sum(t == 0 for t in g.profiler.last_ticks), "ticks": len(g.profiler.last_ticks),
            "records": [[r.idx, r.kernel_name, r.start_ns, r.end_ns, r.duration_ns, list(r.global_wg)] for r in recs]}


async def untimed_without_timestamp_query(wgsl: str) -> dict:
    from pyapp.runtime.gpu.browser import BrowserDevice

    dev = await BrowserDevice.open(exclude_features=["timestamp-query"])
    f = await golden("goldens/infra_axpb")
    g = axpb_graph(wgsl, f["x"].shape[0], 2.5, chain=4, dev=dev, profile=True)
    g.symints["pos"].set(3)
    await g.prepare()
    out = (await g.execute({"x": f["x"].view}))["out"]
    result = {"features": sorted(dev.features), "status": g.profile_status,
              "records": len(g.last_profile), "queries": dev.created["query_set"], "out": b64(out)}
    dev.raw.destroy()
    return result


async def errors_that_name_the_culprit(wgsl: str) -> dict:
    from pyapp.runtime.gpu.device import GPUError

    errors = {}
    g = axpb_graph(wgsl, 100, 2.5)
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
    return errors
