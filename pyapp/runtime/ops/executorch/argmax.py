"""argmax(x): the index of the largest of x's N elements, as (index, max bits) u32 (2,).

Two dispatches (chunks, then the chunk winners), so greedy decoding reads back 8 bytes
instead of the logits. Ties go to the lowest index.
"""

from math import ceil

from .._checks import OpError, expect_tensor, workgroups

SHADERS = {"argmax": ("STAGE", "N", "CHUNK", "CHUNKS", "WG")}
WG = 64
CHUNK = 256


def argmax(graph, x, name=None, out=None):
    """out: where to write (index, max bits), a u32 tensor of 2+ elements; default a new one."""
    expect_tensor("argmax", "x", x, "f32")
    if out is not None and (out.dtype != "u32" or out.numel < 2):
        raise OpError(f"argmax: out {out!r} must be u32 with room for 2 elements")
    node = len(graph.dispatches)
    pairs = chunk_winners(graph, x, "argmax")
    if out is None:
        out = graph.scratch(name or f"argmax#{node}.out", (2,), "u32")
    consts = {"N": x.numel, "CHUNK": CHUNK, "CHUNKS": pairs.shape[0], "WG": WG}
    graph.dispatch("argmax", shader="argmax", writes=[out], reads=[pairs], workgroups=1,
                   constants={"STAGE": 1, **consts})
    return out


def chunk_winners(graph, x, op: str, chunk: int = CHUNK):
    """argmax's first stage (next_token's too): the (index, max bits) of each chunk of x's elements,
    a (chunks, 2) u32 scratch named after `op`'s node."""
    n = x.numel
    chunks = ceil(n / chunk)
    node = len(graph.dispatches)
    pairs = graph.scratch(f"{op}#{node}.pairs", (chunks, 2), "u32")
    bits = graph.view(x, (n,), f"{op}#{node}.bits", dtype="u32")  # compared as f32 in the shader
    graph.dispatch("argmax", shader="argmax", writes=[pairs], reads=[bits], workgroups=workgroups(chunks, WG),
                   constants={"STAGE": 0, "N": n, "CHUNK": chunk, "CHUNKS": chunks, "WG": WG})
    return pairs
