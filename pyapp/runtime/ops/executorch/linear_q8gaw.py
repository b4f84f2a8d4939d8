"""linear_q8gaw: 8-bit groupwise-affine weight-only linear, the sibling for GGUF Q5_1 and Q5_K.

out[m, n] = sum_k x[m, k] * (q(n, k) * scales[g, n] + offsets[g, n]) + bias[n], g = k // group_size
weight (N, K) u8 holding int8 q; scales and offsets (G, padded_N) f32. Q5_1 (group 32) and Q5_K
(sub-blocks of 32 with 6-bit scales and mins) store their 5-bit codes 0..31 here unchanged.
"""

from ._linear import LINEAR_CONSTANTS, linear

SHADERS = {"linear_q8gaw": LINEAR_CONSTANTS}


def linear_q8gaw(graph, x, weight, scales, offsets, group_size: int, bias=None, name=None, rows=None):
    return linear(graph, "linear_q8gaw", "q8gaw", x, weight, [("scales", scales), ("offsets", offsets)],
                  group_size, bias, name=name, rows=rows)
