"""embedding(tokens, table): gather rows of an f32 or group-quantized table (no dequant pass).

tokens (S,) i32; table f32 (V, K), or u8 in a linear layout (q8gsw / q8gaw (V, K); q4gsw / q4gaw
(V, ceil(K/2))) with scales [and offsets] (G, padded_V), or the GGUF's own blocks (q4k, q5k; q6k with
its d as scales (V, K/256)), or our codes with the file's f16 scales (formats.HALF_TABLES; Q5_0/Q5_1's fifth bits in `highs`); out (S, K) f32. A tied LM head
reads the same table through the matching linear op. scale multiplies every row (Gemma's sqrt(dim)).
"""

from ..formats import row_bytes, tables
from .._checks import OpError, expect_tensor, live, on_change, workgroups

FORMATS = {"f32": 0, "q8gsw": 1, "q4gsw": 2, "q4gaw": 3, "q8gaw": 4, "q4k": 5, "q6k": 6,
           "q8gsw_f16": 7, "q4gsw_f16": 8, "q4gaw_f16": 9, "q8gaw_f16": 10, "q5k": 11,
           "q5gsw_f16": 12, "q5gaw_f16": 13}
SHADERS = {"embedding": ("FORMAT", "K", "V", "GS", "PADDED_N", "WG", "SCALE")}
WG = 64


def embedding(graph, tokens, table, fmt: str, dim: int, scales=None, offsets=None, group_size: int = 32,
              rows=None, name=None, scale: float = 1.0, highs=None):
    op = "embedding"
    if fmt not in FORMATS:
        raise OpError(f"{op}: format {fmt!r} is not one of {sorted(FORMATS)}")
    expect_tensor(op, "tokens", tokens, "i32", 1)
    expect_tensor(op, "table", table, "f32" if fmt == "f32" else "u8", 2)
    v = table.shape[0]
    columns = dim if fmt == "f32" else row_bytes(fmt, dim)  # f32 rows are counted in elements
    if table.shape[1] != columns:
        raise OpError(f"{op}: {fmt} table {table!r} must have {columns} columns for dim {dim}")
    given = {"scales": scales, "offsets": offsets, "highs": highs}
    if any(given[t] is None for t in tables(fmt)):
        raise OpError(f"{op}: format {fmt} needs {' and '.join(tables(fmt))}")
    s = tokens.shape[0]
    rows = s if rows is None else rows
    out = graph.scratch(name or f"{op}#{len(graph.dispatches)}.out", (s, dim))
    params = graph.uniform(f"{op}#{len(graph.dispatches)}.params", rows=0)
    none = graph.placeholder()
    padded = scales.shape[1] if scales is not None else 8
    d = graph.dispatch(op, shader=op, writes=[out], reads=[tokens, table, scales or none, offsets or highs or none],
                       uniforms=[params], constants={"FORMAT": FORMATS[fmt], "K": dim, "V": v,
                                                     "GS": group_size, "PADDED_N": padded, "WG": WG,
                                                     "SCALE": float(scale)})

    def resize():
        params.set(rows=live(rows))
        d.set_workgroups(workgroups(live(rows) * dim, WG))

    on_change(graph, (rows,), resize)
    return out
