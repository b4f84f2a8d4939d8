"""The linears (linear_q4gsw, linear_q4gaw, linear_q8gsw, linear_q8gaw, linear_f32) against
numpy fp64: dequantize the packed weight (pyapp/convert/quant.py, ExecuTorch's layout), then
matmul in fp64. The four group-quantized ops share one table of shapes; seeds are fixed, so a
rerun writes the same files."""

from __future__ import annotations

import numpy as np

from pyapp.convert import quant

from . import register_op_test

QUANTIZERS = {
    "linear_q4gsw": (quant.quantize_q4gsw, quant.dequantize_q4gsw),
    "linear_q4gaw": (quant.quantize_q4gaw, quant.dequantize_q4gaw),
    "linear_q8gsw": (quant.quantize_q8gsw, quant.dequantize_q8gsw),
    "linear_q8gaw": (quant.quantize_q8gaw, quant.dequantize_q8gaw),
}

SHAPES = [  # (lead, K, N, group size, bias)
    ((1,), 576, 1536, 32, False),     # SmolLM2 FFN up, decode
    ((128,), 576, 1536, 64, True),    # prefill
    ((1,), 1536, 576, 128, False),    # FFN down
    ((7,), 97, 13, 32, True),         # odd K (unaligned rows), N not a multiple of 8
    ((7,), 200, 29, 64, False),       # K not a multiple of the group
    ((2, 3), 100, 17, 32, True),      # 3-D x
]
EDGES = [  # the decode path (M == 1, aligned K) at its edges
    ((1,), 64, 13, 32, True),         # N not a multiple of 4 columns
    ((1,), 200, 29, 64, False),       # last group partial
]
GROUPS_OF_16 = [  # Q2_K, Q3_K (4-bit codes) and Q6_K (8-bit) sub-blocks
    ((1,), 256, 40, 16, False),
    ((5,), 96, 13, 16, True),
]
LARGE = [  # LLM-sized, written at test time
    ("linear_q4gsw", (1,), 2048, 8192, 32),
    ("linear_q4gsw", (128,), 2048, 8192, 128),
    ("linear_q4gsw", (1,), 8192, 2048, 64),
    ("linear_q4gsw", (1,), 576, 49152, 32),   # LM-head rows
    ("linear_q4gaw", (1,), 2048, 8192, 32),
    ("linear_q8gsw", (1,), 576, 49152, 32),   # SmolLM2's tied Q8_0 LM head
    ("linear_q8gsw", (128,), 2048, 8192, 32),
]
F32_SHAPES = [((1,), 576, 192, False), ((5,), 67, 11, True), ((2, 3), 64, 9, False)]


def case_name(op: str, lead: tuple, k: int, n: int, gs: int | None = None, bias: bool = False) -> str:
    return f"{op}_m{'x'.join(map(str, lead))}_k{k}_n{n}{f'_g{gs}' if gs else ''}{'_bias' if bias else ''}"


def quantized_cases(op: str, rows) -> dict:
    return {case_name(op, lead, k, n, gs, bias): dict(op=op, lead=lead, k=k, n=n, gs=gs, bias=bias, seed=seed)
            for lead, k, n, gs, bias, seed in rows}


def workgroups_style(name: str, params: dict) -> tuple:
    """The real-GPU kernel (a workgroup per column, shared-memory reduction), forced so that
    SwiftShader checks it too: on the committed decode cases (M == 1)."""
    return ("workgroups",) if params["lead"] == (1,) else ()


def write_quantized(save, name, *, op, lead, k, n, gs, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, k)).astype(np.float32)
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
    q, dq = QUANTIZERS[op]
    packed = q(w, gs)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    ref = x.reshape(-1, k).astype(np.float64) @ dq(packed).T + (0 if b is None else b.astype(np.float64))
    save(name, {"x": x, "weight": packed.weight, "scales": packed.scales,
                "offsets": getattr(packed, "offsets", None), "bias": b,
                "expected": ref.reshape(*lead, n).astype(np.float32)}, op=op, group_size=gs)


for i, op in enumerate(QUANTIZERS):
    rows = [(*shape, 10 + 6 * i + j) for j, shape in enumerate(SHAPES)]
    rows += [(*shape, 200 + 2 * i + j) for j, shape in enumerate(EDGES)]
    rows += [(*shape, 400 + 2 * i + j) for j, shape in enumerate(GROUPS_OF_16)]
    register_op_test(op, cases=quantized_cases(op, rows), family="linear", case_styles=workgroups_style)(write_quantized)
    register_op_test(op, family="large", cases=quantized_cases(op, [
        (lead, k, n, gs, False, 100 + j) for j, (large_op, lead, k, n, gs) in enumerate(LARGE) if large_op == op]))(
        write_quantized)


@register_op_test("linear_f32", family="linear", cases={
    case_name("linear_f32", lead, k, n, bias=bias): dict(lead=lead, k=k, n=n, bias=bias, seed=300 + i)
    for i, (lead, k, n, bias) in enumerate(F32_SHAPES)})
def write_f32(save, name, *, lead, k, n, bias, seed):
    """fp32 weights (GGUF F32/F16): a plain fp64 matmul."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    ref = x.reshape(-1, k).astype(np.float64) @ w.T.astype(np.float64) + (0 if b is None else b)
    save(name, {"x": x, "weight": w, "bias": b, "expected": ref.reshape(*lead, n).astype(np.float32)}, op="linear_f32")
