"""Graph logic that needs no GPU: grid folding, scratch sharing, uniforms, validation."""

import struct

import pytest

from pyapp.runtime.graph.graph import Graph, SymInt, Uniform, fold_grid, plan_scratch
from pyapp.runtime.gpu.profiler import records_from_ticks, summarize

SRC = "@compute @workgroup_size(1) fn main() {}"


@pytest.mark.parametrize("total", [0, 1, 65535, 65536, 70001, 1_000_003, 65535 * 65535])
def test_fold_grid_covers_total_within_limit(total):
    x, y, z = fold_grid(total, 65535)
    assert x <= 65535 and y <= 65535 and z == 1
    assert x * y >= total and (x - 1) * y < total or total == 0


def test_fold_grid_too_big():
    with pytest.raises(ValueError):
        fold_grid(65536 * 65536, 65535)


def chain(g, n, sizes):
    """A linear chain x -> t0 -> t1 -> ... of scratch tensors with the given element counts."""
    prev = g.input("x", (n,))
    outs = []
    for i, size in enumerate(sizes):
        t = g.scratch(f"t{i}", (size,))
        g.dispatch("k", source=SRC, writes=[t], reads=[prev])
        outs.append(t)
        prev = t
    return outs


def test_scratch_lifetimes_share_buffers():
    g = Graph(None)
    ts = chain(g, 8, [10, 20, 5, 30])
    slots, sizes = plan_scratch(g.dispatches)
    # t0 and t1 overlap (dispatch 1 reads t0, writes t1): different slots; t2 may reuse t0's
    assert slots[ts[0]] != slots[ts[1]] and slots[ts[1]] != slots[ts[2]] and slots[ts[2]] != slots[ts[3]]
    assert len(sizes) == 2
    for t, s in slots.items():
        assert sizes[s] >= t.nbytes


def test_outputs_and_states_are_never_shared():
    g = Graph(None)
    ts = chain(g, 8, [10, 10, 10])
    g.output(ts[0])
    slots, _ = plan_scratch(g.dispatches)
    assert ts[0] not in slots and ts[1] in slots


def test_no_two_live_tensors_share_a_slot():
    g = Graph(None)
    x = g.input("x", (4,))
    a, b, c = (g.scratch(n, (4,)) for n in "abc")
    g.dispatch("k", source=SRC, writes=[a], reads=[x])
    g.dispatch("k", source=SRC, writes=[b], reads=[x])
    g.dispatch("k", source=SRC, writes=[c], reads=[a, b])  # a and b both live here
    slots, sizes = plan_scratch(g.dispatches)
    assert len({slots[a], slots[b], slots[c]}) == 3


def test_uniform_packing_and_dirty_tracking():
    u = Uniform("p", {"a": 1, "b": -2, "c": 3, "d": 4, "e": 5})
    assert u.nbytes == 32
    assert struct.unpack("<8i", u.pack()) == (1, -2, 3, 4, 5, 0, 0, 0)
    u.dirty = False
    u.set(a=1)
    assert not u.dirty
    u.set(b=7)
    assert u.dirty and u["b"] == 7


def test_symint_is_dirty_only_on_change():
    s = SymInt("pos", 3)
    s.dirty = False
    s.set(3)
    assert not s.dirty
    s.set(4)
    assert s.dirty and s.value == 4 and s.nbytes == 16


def test_dispatch_bindings_and_labels():
    g = Graph(None)
    x = g.input("x", (4,))
    y = g.scratch("y", (4,))
    d = g.dispatch("my_kernel", source=SRC, writes=[y], reads=[x], uniforms=[g.symint("pos")], workgroups=70001)
    assert d.kinds == ("write", "read", "uniform") and d.label == "my_kernel#0"
    assert d.grid[1] == 2


def test_build_errors_are_clear():
    g = Graph(None)
    g.input("x", (4,))
    with pytest.raises(ValueError, match="already exists"):
        g.input("x", (4,))
    with pytest.raises(TypeError, match="unsupported dtype 'f64'"):
        g.input("z", (4,), "f64")
    with pytest.raises(ValueError, match="non-negative"):
        g.input("w", (-1,))
    other = Graph(None).input("q", (4,))
    with pytest.raises(ValueError, match="not a tensor of graph"):
        g.dispatch("k", source=SRC, writes=[other])
    with pytest.raises(ValueError, match="exactly one of"):
        g.dispatch("k", writes=[])
    with pytest.raises(ValueError, match="not a graph input"):
        g.symint("s", source="nope")


def test_profiler_records_clamp_and_summarize():
    g = Graph(None)
    chain(g, 4, [4, 4])
    ticks = (1000, 1500, 1600, 1550)  # second dispatch ends "before" it starts: clamps to 0
    recs = records_from_ticks(ticks, g.dispatches)
    assert [(r.start_ns, r.end_ns, r.duration_ns) for r in recs] == [(0, 500, 500), (600, 600, 0)]
    (stat,) = summarize(recs)
    assert (stat.kernel, stat.count, stat.total_ns, stat.mean_ns) == ("k", 2, 500, 250)
