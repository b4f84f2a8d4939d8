"""rope(t, cos, sin, input_pos): rotate adjacent pairs (2i, 2i+1) of t (S, H, D) in place.

Row s uses position input_pos + s; cos/sin are (Cmax, D/2) f32 tables computed once in
float64 (`rope_tables`). GGUF's Q/K rows are permuted for this pairing (llama.cpp's).
"""

import math
from array import array

from .._checks import OpError, expect_tensor, live, on_change, workgroups

SHADERS = {"rope": ("H", "D", "WG")}
WG = 64


def rope_tables(positions: int, head_dim: int, theta: float, factors=None) -> tuple[array, array]:
    """cos and sin of pos * theta^(-2i/D) / factors[i] for pos < positions, i < D/2, as f32 arrays
    (factors: llama3-style scaling's divisor per frequency, llama.cpp's freq_factors; None: 1)."""
    half = head_dim // 2
    factors = factors or [1.0] * half
    freqs = [theta ** (-2.0 * i / head_dim) / factors[i] for i in range(half)]
    cos, sin = array("f"), array("f")
    for p in range(positions):
        cos.extend(math.cos(p * f) for f in freqs)
        sin.extend(math.sin(p * f) for f in freqs)
    return cos, sin


def rope(graph, t, cos, sin, input_pos, rows=None):
    op = "rope"
    expect_tensor(op, "t", t, "f32", 3)
    s, h, d = t.shape
    if d % 2:
        raise OpError(f"{op}: head dim of {t!r} must be even")
    for label, table in (("cos", cos), ("sin", sin)):
        expect_tensor(op, label, table, "f32", 2)
        if table.shape[1] != d // 2:
            raise OpError(f"{op}: {label} table {table!r} must be (Cmax, {d // 2})")
    rows = s if rows is None else rows
    params = graph.uniform(f"{op}#{len(graph.dispatches)}.params", pos=0, rows=0)
    disp = graph.dispatch(op, shader=op, writes=[t], reads=[cos, sin], uniforms=[params],
                          constants={"H": h, "D": d, "WG": WG})

    def resize():
        pos, r = live(input_pos), live(rows)
        if pos < 0 or pos + r > cos.shape[0]:
            raise OpError(f"{op}: positions {pos}..{pos + r} exceed the table of {cos.shape[0]}")
        params.set(pos=pos, rows=r)
        disp.set_workgroups(workgroups(r * h * d // 2, WG))

    on_change(graph, (input_pos, rows), resize)
    return t
