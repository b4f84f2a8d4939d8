"""What the four group-quantized linears share: checks, output allocation, the dispatch.

All four consume their packed layouts (runtime/ops/formats.py) as stored, no prepack, and flatten
x's leading dims into M. The lanes paths have no barriers (SwiftShader runs them very slowly,
docs/design.md); the REDUCE path, for real GPUs, reduces in shared memory.
- decode (M == 1, rows start on words, K a multiple of the word's k): each invocation computes
  DECODE_COLUMNS output columns, so each x load serves that many weight words; x loads were
  the cost on SwiftShader (README, "Measured").
  On real GPUs (kernel style "workgroups" or "subgroups") that leaves too few threads: there one
  workgroup of REDUCE_WG threads computes DECODE_COLUMNS columns, splitting K and reducing in
  shared memory (each x load still serves DECODE_COLUMNS weight rows).
- otherwise one invocation computes one column n for TILE_M rows (4 for prefill), decoding
  each weight word once for all of them; odd shapes take a scalar path.
"""

from math import prod

from ...gpu.buffers import align
from ..formats import padded_n, row_bytes, word_k
from .._checks import OpError, check_bias, expect_tensor, live_rows, workgroups

WG = 64
DECODE_WG = 32
DECODE_COLUMNS = 4  # DR in wgsl/common/linear_body.wgsl
REDUCE_WG = 256


def linear(graph, op: str, fmt: str, x, weight, quant: list, group_size: int, bias, *, name: str | None, rows=None):
    """fmt: the packed layout (formats.QUANTIZED); quant: [(label, tensor)] of (G, padded_N) f32 tables.

    rows (an int or a SymInt, default M) is how many rows of x this step computes.
    """
    expect_tensor(op, "x", x, "f32")
    expect_tensor(op, "weight", weight, "u8", 2)
    if len(x.shape) < 1:
        raise OpError(f"{op}: x {x!r} needs at least one dim")
    if not isinstance(group_size, int) or group_size <= 0 or group_size % 8:
        raise OpError(f"{op}: group_size must be a positive multiple of 8, got {group_size!r}")
    k = x.shape[-1]
    m = prod(x.shape[:-1])
    n, k_packed = weight.shape
    if m == 0 or n == 0 or k == 0:
        raise OpError(f"{op}: empty problem: x {x!r}, weight {weight!r} (M={m}, N={n}, K={k})")
    if k_packed != row_bytes(fmt, k):
        raise OpError(f"{op}: weight {weight!r} has {k_packed} bytes per row; K={k} needs {row_bytes(fmt, k)}")
    groups = -(-k // group_size)
    for label, table in quant:
        expect_tensor(op, label, table, "f32", 2)
        g, pn = table.shape
        if g < groups:
            raise OpError(f"{op}: {label} {table!r} has {g} groups; K={k} with group_size={group_size} needs {groups}")
        if pn < n or pn != padded_n(pn):
            raise OpError(f"{op}: {label} {table!r} must be (G, padded_N) with padded_N >= N={n} and a multiple of 8")
    check_bias(op, bias, n)
    out = graph.scratch(name or f"{op}#{len(graph.dispatches)}.out", (*x.shape[:-1], n))
    tile_m = 1 if m == 1 else 4
    decode = m == 1 and k_packed % 4 == 0 and k % word_k(fmt) == 0
    reduce = decode and graph.kernel_style != "lanes"
    wg = REDUCE_WG if reduce else DECODE_WG if decode else WG
    constants = {
        "N": n, "K": k, "GS": group_size, "PADDED_N": quant[0][1].shape[1],
        "TILE_M": tile_m, "HAS_BIAS": bias is not None, "ALIGNED": k_packed % 4 == 0,
        "KW": align(k_packed) // 4, "WG": wg, "DECODE": decode and not reduce, "REDUCE": reduce,
    }
    params = graph.uniform(f"{op}#{len(graph.dispatches)}.params", m=m)
    d = graph.dispatch(op, shader=op, writes=[out], uniforms=[params],
                       reads=[x, weight, *(t for _, t in quant), bias if bias is not None else graph.placeholder()],
                       constants=constants, variant="reduce" if reduce else "decode" if decode else "")

    def grid(r: int) -> int:
        if reduce:
            return -(-n // DECODE_COLUMNS) * r  # a workgroup per DECODE_COLUMNS output columns
        if decode:
            return workgroups(-(-n // DECODE_COLUMNS), wg) * r
        return workgroups(n * -(-r // tile_m), wg)

    live_rows(graph, op, d, params, rows, m, x, grid)
    return out


LINEAR_CONSTANTS = ("N", "K", "GS", "PADDED_N", "TILE_M", "HAS_BIAS", "ALIGNED", "KW", "WG", "DECODE", "REDUCE")
