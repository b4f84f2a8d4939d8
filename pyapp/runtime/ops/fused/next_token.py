"""next_token: the argmax of the logits, fed back on the GPU for the next decode step.

logits (1, V) f32 -> tokens (4,) u32 [0] = the winner (where the embedding reads the next
token), [1] its logit bits; ring (R,) u32 [step % R] = the winner; the SymInts input_pos and
step advance by one. Two dispatches: argmax's first stage, then next_token.wgsl. So a decode
step needs nothing from the host, and k steps run in one submit.
"""

from math import ceil

from ...graph.graph import SymInt
from .._checks import OpError, expect_tensor, workgroups
from ..executorch.argmax import CHUNK
from ..executorch.argmax import WG as ARGMAX_WG

SHADERS = {"argmax": ("STAGE", "N", "CHUNK", "CHUNKS", "WG"), "next_token": ("CHUNKS", "RING", "WG")}
GPU_CHUNK = 32   # real GPUs: short stage-0 scans, then a workgroup of GPU_WG reduces the winners
GPU_WG = 256


def next_token(graph, logits, tokens, ring, input_pos: SymInt, step: SymInt):
    op = "next_token"
    expect_tensor(op, "logits", logits, "f32")
    expect_tensor(op, "tokens", tokens, "u32", 1)
    expect_tensor(op, "ring", ring, "u32", 1)
    if tokens.shape[0] < 2:
        raise OpError(f"{op}: tokens {tokens!r} needs room for the id and its logit")
    for label, s in (("input_pos", input_pos), ("step", step)):
        if not isinstance(s, SymInt):
            raise OpError(f"{op}: {label} must be a SymInt, got {type(s).__name__}")
    n = logits.numel
    gpu = graph.kernel_style != "lanes"
    chunk = GPU_CHUNK if gpu else CHUNK
    chunks = ceil(n / chunk)
    node = len(graph.dispatches)
    pairs = graph.scratch(f"{op}#{node}.pairs", (chunks, 2), "u32")
    bits = graph.view(logits, (n,), f"{op}#{node}.bits", dtype="u32")  # compared as f32 in the shader
    graph.dispatch("argmax", shader="argmax", writes=[pairs], reads=[bits], workgroups=workgroups(chunks, ARGMAX_WG),
                   constants={"STAGE": 0, "N": n, "CHUNK": chunk, "CHUNKS": chunks, "WG": ARGMAX_WG})
    wg = GPU_WG if gpu else 1
    graph.dispatch(op, shader=op, writes=[tokens, ring, input_pos, step], reads=[pairs],
                   constants={"CHUNKS": chunks, "RING": ring.shape[0], "WG": wg}, local_size=(wg, 1, 1))
    return tokens
