"""linear_q4gaw: 4-bit groupwise-affine weight-only linear, the sibling for GGUF Q4_1.

out[m, n] = sum_k x[m, k] * (nib(n, k) * scales[g, n] + offsets[g, n]) + bias[n], g = k // group_size
Nibbles are packed as in linear_q4gsw but hold q in 0..15 as is; scales and offsets are both
(G, padded_N) f32. Q4_1 blocks map onto it exactly: scale = d, offset = m, group_size = 32.
"""

from ._linear import LINEAR_CONSTANTS, linear

SHADERS = {"linear_q4gaw": LINEAR_CONSTANTS}


def linear_q4gaw(graph, x, weight, scales, offsets, group_size: int, bias=None, name=None, rows=None):
    return linear(graph, "linear_q4gaw", "q4gaw", x, weight, [("scales", scales), ("offsets", offsets)],
                  group_size, bias, name=name, rows=rows)
