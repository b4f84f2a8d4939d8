"""Op arguments are checked while building the graph: clear errors, before any GPU work."""

import pytest

from pyapp.runtime import ops
from pyapp.runtime.graph.graph import Graph
from pyapp.runtime.ops._checks import OpError


def linear_graph(k=64, n=16, m=3, k_packed=None, groups=None, padded_n=16, gs=32):
    g = Graph(None)
    x = g.input("x", (m, k))
    w = g.constant("w", (n, k_packed if k_packed is not None else -(-k // 2)), "u8")
    s = g.constant("s", (groups if groups is not None else -(-k // gs), padded_n))
    return g, x, w, s


def test_linear_builds_one_labelled_dispatch():
    g, x, w, s = linear_graph()
    out = ops.linear_q4gsw(g, x, w, s, 32)
    assert out.shape == (3, 16)
    (d,) = g.dispatches
    assert d.label == "linear_q4gsw#0" and d.constants["TILE_M"] == 4 and d.constants["HAS_BIAS"] is False


@pytest.mark.parametrize("kwargs, gs, message", [
    ({"k_packed": 31}, 32, "K=64 needs 32"),
    ({"groups": 1}, 32, "needs 2"),
    ({"padded_n": 8}, 32, "padded_N >= N=16"),
    ({"padded_n": 20}, 32, "multiple of 8"),
    ({}, 0, "positive multiple of 8"),
    ({}, -32, "positive multiple of 8"),
    ({"m": 0}, 32, "empty problem"),
    ({"n": 0, "padded_n": 8}, 32, "empty problem"),
])
def test_linear_bad_shapes(kwargs, gs, message):
    g, x, w, s = linear_graph(**kwargs)
    with pytest.raises(OpError, match=message):
        ops.linear_q4gsw(g, x, w, s, gs)
    assert not g.dispatches


def test_linear_bad_dtypes_and_bias():
    g, x, w, s = linear_graph()
    with pytest.raises(OpError, match=r"weight s\[2, 16\]:f32 must be u8"):
        ops.linear_q4gsw(g, x, s, s, 32)
    with pytest.raises(OpError, match="bias b\\[8\\]:f32 has fewer than N=16"):
        ops.linear_q4gsw(g, x, w, s, 32, bias=g.constant("b", (8,)))
    with pytest.raises(OpError, match="x must be a graph Tensor"):
        ops.linear_q4gsw(g, [1.0], w, s, 32)


def test_q8_weight_rows_are_k_bytes():
    g = Graph(None)
    x = g.input("x", (1, 40))
    with pytest.raises(OpError, match="K=40 needs 40"):
        ops.linear_q8gsw(g, x, g.constant("w", (8, 20), "u8"), g.constant("s", (2, 8)), 32)


def sdpa_graph(s=2, hq=4, hkv=2, d=8, cmax=16):
    g = Graph(None)
    q = g.input("q", (1, s, hq, d))
    k, v = g.input("k", (1, s, hkv, d)), g.input("v", (1, s, hkv, d))
    kc, vc = g.state("kc", (1, cmax, hkv, d)), g.state("vc", (1, cmax, hkv, d))
    return g, q, k, v, kc, vc, g.symint("pos", 0)


def test_sdpa_builds_five_dispatches():
    g, *args = sdpa_graph()
    out = ops.sdpa_with_kv_cache(g, *args, 2)
    assert out.shape == (1, 2, 4, 8)
    assert [d.kernel for d in g.dispatches] == [
        "update_cache", "update_cache", "sdpa_compute_attn_weights", "sdpa_softmax", "sdpa_compute_out"]
    attn = g.dispatches[2].writes[0]
    assert attn.shape == (4, 2, 16)  # sized for Cmax once


def test_sdpa_hook_rewrites_uniforms_and_qk_grid():
    g, q, k, v, kc, vc, pos = sdpa_graph(cmax=4096)
    ops.sdpa_with_kv_cache(g, q, k, v, kc, vc, pos, 2)
    qk = g.dispatches[2]
    before = qk.grid
    pos.set(4000)
    for hook in pos.hooks:
        hook(pos.value)
    assert qk.grid != before and qk.workgroups == -(-4 * 2 * 4002 // 64)
    assert g.params[-1]["ctx"] == 4002 and g.params[0]["offset"] == 4000 * 2 * 8


@pytest.mark.parametrize("change, message", [
    ({"attn_mask": object()}, "attn_mask is not supported"),
    ({"dropout_p": 0.1}, "dropout_p must be 0"),
    ({"seq_len": 3}, "seq_len 3 != q's sequence length 2"),
])
def test_sdpa_bad_arguments(change, message):
    g, *args = sdpa_graph()
    kwargs = {"seq_len": 2, **change}
    with pytest.raises(OpError, match=message):
        ops.sdpa_with_kv_cache(g, *args, **kwargs)


def test_sdpa_bad_shapes():
    with pytest.raises(OpError, match="query heads 3 must be a multiple of kv heads 2"):
        g, *args = sdpa_graph(hq=3)
        ops.sdpa_with_kv_cache(g, *args, 2)
    with pytest.raises(OpError, match="input_pos 15 \\+ seq_len 2 does not fit the cache of 16"):
        g, q, k, v, kc, vc, pos = sdpa_graph()
        pos.set(15)
        ops.sdpa_with_kv_cache(g, q, k, v, kc, vc, pos, 2)
    g = Graph(None)
    q = g.input("q", (2, 1, 4, 8))
    k = g.input("k", (2, 1, 2, 8))
    c = g.state("c", (1, 8, 2, 8))
    with pytest.raises(OpError, match="batch must be 1"):
        ops.sdpa_with_kv_cache(g, q, k, k, c, c, g.symint("p"), 1)
    g, q, k, v, kc, vc, pos = sdpa_graph()
    with pytest.raises(OpError, match="input_pos must be a SymInt"):
        ops.sdpa_with_kv_cache(g, q, k, v, kc, vc, 0, 2)
    with pytest.raises(OpError, match="v_cache"):
        ops.sdpa_with_kv_cache(g, q, k, v, kc, g.state("small", (1, 8, 2, 8)), pos, 2)
