"""linear_q4gsw: 4-bit groupwise-symmetric weight-only linear (ExecuTorch's contract).

out[m, n] = sum_k x[m, k] * (nib(n, k) - 8) * scales[k // group_size, n] + bias[n]
x (..., K) f32; weight (N, ceil(K/2)) u8, even k in the low nibble, stored as q+8;
scales (G, padded_N) f32, group-major; bias (N,) f32 or None; out (..., N) f32.
"""

from ._linear import LINEAR_CONSTANTS, linear

SHADERS = {"linear_q4gsw": LINEAR_CONSTANTS}


def linear_q4gsw(graph, x, weight, scales, group_size: int, bias=None, name=None, rows=None):
    return linear(graph, "linear_q4gsw", "q4gsw", x, weight, [("scales", scales)], group_size, bias, name=name, rows=rows)
