"""linear_q8gsw: 8-bit groupwise-symmetric weight-only linear, the sibling for GGUF Q8_0.

out[m, n] = sum_k x[m, k] * q(n, k) * scales[k // group_size, n] + bias[n]
weight (N, K) u8 holding int8 q; scales (G, padded_N) f32. Q8_0 maps onto it exactly
(group_size 32); SmolLM2's tied LM head runs through it.
"""

from ._linear import LINEAR_CONSTANTS, linear

SHADERS = {"linear_q8gsw": LINEAR_CONSTANTS}


def linear_q8gsw(graph, x, weight, scales, group_size: int, bias=None, name=None, rows=None):
    return linear(graph, "linear_q8gsw", "q8gsw", x, weight, [("scales", scales)], group_size, bias, name=name, rows=rows)
