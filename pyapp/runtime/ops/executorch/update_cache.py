"""update_cache(value, cache, input_pos): cache[0, pos:pos+S] = value[0], in place.

value (1, S_max, H, D) f32; cache (1, Cmax, H, D) f32; input_pos a SymInt; seq_len the rows
of value to write: an int (default S_max) or a SymInt. A resize hook rewrites offset, count
and the workgroup count on change; pos + S > Cmax is refused before the submit.
"""

from ...graph.graph import SymInt
from .._checks import OpError, expect_tensor, live, on_change, workgroups

SHADERS = {"update_cache": ("WG",)}
WG = 64


def check_pos(op: str, pos: int, s: int, s_max: int, cmax: int):
    if not 0 <= s <= s_max:
        raise OpError(f"{op}: seq_len {s} must be within 0..{s_max} (the buffers' rows)")
    if pos < 0 or pos + s > cmax:
        raise OpError(f"{op}: input_pos {pos} + seq_len {s} does not fit the cache of {cmax} positions")


def update_cache(graph, value, cache, input_pos: SymInt, seq_len=None, name: str = "update_cache"):
    op = "update_cache"
    expect_tensor(op, "value", value, "f32", 4)
    expect_tensor(op, "cache", cache, "f32", 4)
    _, s_max, h, d = value.shape
    if value.shape[0] != 1 or cache.shape[0] != 1:
        raise OpError(f"{op}: batch must be 1; value {value!r}, cache {cache!r}")
    if cache.shape[2:] != (h, d):
        raise OpError(f"{op}: cache {cache!r} must be (1, Cmax, {h}, {d}) to take value {value!r}")
    if not isinstance(input_pos, SymInt):
        raise OpError(f"{op}: input_pos must be a SymInt (graph.symint), got {type(input_pos).__name__}")
    seq_len = s_max if seq_len is None else seq_len
    cmax = cache.shape[1]
    params = graph.uniform(f"{name}.params", offset=0, count=0)
    dispatch = graph.dispatch(op, shader=op, writes=[cache], reads=[value], uniforms=[params],
                              constants={"WG": WG})

    def resize():
        pos, s = input_pos.value, live(seq_len)
        check_pos(op, pos, s, s_max, cmax)
        params.set(offset=pos * h * d, count=s * h * d)
        dispatch.set_workgroups(workgroups(s * h * d, WG))

    on_change(graph, (input_pos, seq_len), resize)
    return cache
