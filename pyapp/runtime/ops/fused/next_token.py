"""next_token: the argmax of the logits, fed back on the GPU for the next decode step.

logits (1, V) f32 -> tokens (4,) u32 [0] = the winner (where the embedding reads the next
token), [1] its logit bits; ring (R,) u32 [step % R] = the winner; the SymInts input_pos and
step advance by one. Two dispatches: argmax's first stage, then next_token.wgsl. So a decode
step needs nothing from the host, and k steps run in one submit.
"""

from ...graph.graph import SymInt
from .._checks import OpError, expect_tensor
from ..executorch.argmax import CHUNK, chunk_winners

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
    gpu = graph.kernel_style != "lanes"
    pairs = chunk_winners(graph, logits, op, GPU_CHUNK if gpu else CHUNK)
    wg = GPU_WG if gpu else 1
    graph.dispatch(op, shader=op, writes=[tokens, ring, input_pos, step], reads=[pairs],
                   constants={"CHUNKS": pairs.shape[0], "RING": ring.shape[0], "WG": wg}, local_size=(wg, 1, 1))
    return tokens
