"""softcap(x, cap): x = cap * tanh(x / cap) in place, Gemma 2's soft-capping of its logits.

x (S, N) f32. tanh is monotonic, so the argmax is the uncapped one's; the sampler's
temperature and the logits a page shows see the capped values, as llama.cpp's.
"""

from .._checks import OpError, elementwise, expect_tensor

SHADERS = {"softcap": ("WG", "CAP")}


def softcap(graph, x, cap: float, rows=None):
    expect_tensor("softcap", "x", x, "f32", 2)
    if not cap > 0:
        raise OpError(f"softcap: cap {cap} must be positive")
    elementwise(graph, "softcap", [x], [], x.shape[0] if rows is None else rows, x.shape[1],
                constants={"CAP": float(cap)})
    return x
