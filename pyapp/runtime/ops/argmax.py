"""argmax(x): the index of the largest of x's N elements, as (index, max bits) u32 (2,).

Two dispatches (chunks, then the chunk winners), so greedy decoding reads back 8 bytes
instead of the logits. Ties go to the lowest index.
"""

from math import ceil

from ._checks import expect_tensor, workgroups

SHADERS = {"argmax": ("STAGE", "N", "CHUNK", "CHUNKS", "WG")}
WG = 64
CHUNK = 256


def argmax(graph, x, name=None):
    expect_tensor("argmax", "x", x, "f32")
    n = x.numel
    chunks = ceil(n / CHUNK)
    node = len(graph.dispatches)
    pairs = graph.scratch(f"argmax#{node}.pairs", (chunks, 2), "u32")
    out = graph.scratch(name or f"argmax#{node}.out", (2,), "u32")
    consts = {"N": n, "CHUNK": CHUNK, "CHUNKS": chunks, "WG": WG}
    bits = graph.view(x, (n,), f"argmax#{node}.bits", dtype="u32")  # compared as f32 in the shader
    graph.dispatch("argmax", shader="argmax", writes=[pairs], reads=[bits],
                   workgroups=workgroups(chunks, WG), constants={"STAGE": 0, **consts})
    graph.dispatch("argmax", shader="argmax", writes=[out], reads=[pairs], workgroups=1,
                   constants={"STAGE": 1, **consts})
    return out
