"""Host side of the GPU repack tests: GGUF tensor records as the page's parser gives them, and an
"edge" model whose scales and f16 values sit where a sloppy decoder would go wrong.

Used by tests/test_gguf_upload.py (native) and tests_e2e/test_gguf_repack.py (the page).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tiny_llama
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader

from pyapp.runtime.gguf.describe import permuted_head

# Every type in one of two models, K-quants among the permuted Q/K rows, BF16 and F16 matrices.
EDGES = {"edge": {"token_embd": Q.BF16, "attn_q": Q.Q4_K, "attn_k": Q.Q6_K, "attn_v": Q.Q5_K, "attn_output": Q.F16,
                  "ffn_gate": Q.Q5_0, "ffn_up": Q.Q5_1, "ffn_down": Q.BF16, "output": Q.Q4_0},
         "edge_lowbit": {"token_embd": Q.IQ4_NL, "attn_q": Q.Q3_K, "attn_k": Q.Q2_K, "attn_v": Q.IQ4_XS,
                         "attn_output": Q.Q8_0, "ffn_gate": Q.Q2_K, "ffn_up": Q.Q3_K, "ffn_down": Q.IQ4_XS,
                         "output": Q.IQ4_NL}}
# f16 bit patterns: zeros, subnormals (smallest, largest, odd ones), the largest normal, 1, ...
F16_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0200, 0x0155, 0x0400, 0x7BFF, 0xFBFF, 0x3C00]
BF16_EDGES = [0x0001, 0x8000, 0x807F, 0x0080, 0x7F7F, 0x3F80]  # f32 subnormals pass through as bits
# (byte offsets of the f16 scales in a block) per type: d, and dmin or m where there is one
SCALE_AT = {"Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,), "Q4_K": (0, 2),
            "Q5_K": (0, 2), "Q6_K": (208,), "Q2_K": (80, 82), "Q3_K": (108,), "IQ4_NL": (0,), "IQ4_XS": (0,)}
BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q5_1": 24, "Q8_0": 34, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210,
               "Q2_K": 84, "Q3_K": 110, "IQ4_NL": 18, "IQ4_XS": 136}
# Block 0's sub-scales where a sub-scale of 0 (or of 32, the zero of a 6-bit signed one) is a case of
# its own: (byte offset, bytes); zero products keep the sign of d, an offset of -0.0 its own sign.
ZERO_SUBSCALES = {"Q4_K": (4, bytes(12)), "Q5_K": (4, bytes(12)),
                  "Q6_K": (192, bytes([0x00, 0x80])),                 # int8 sub-scales 0 and -128
                  "Q2_K": (0, bytes(16)),                             # every 4-bit scale and min 0
                  "Q3_K": (96, bytes(8) + bytes([0b10, 0, 0, 0])),  # sub-block 0: 32 (zero), the rest 0 (-32)
                  "IQ4_XS": (2, bytes([0b10, 0, 0, 0, 0, 0]))}        # sub-block 0: 32 (zero), the rest -32


def _parts(config: dict, name: str, rows: int) -> list[tuple[str, int, int]]:
    """(name, first row, rows) of each part of a tensor: Phi-3's fused Q/K/V and gate/up, by the config."""
    if config["arch"] == "phi3" and name.endswith(".attn_qkv.weight"):
        layer = name[:-len(".attn_qkv.weight")]
        q, kv = config["n_heads"] * config["head_dim"], config["n_kv_heads"] * config["head_dim"]
        return [(f"{layer}.attn_q.weight", 0, q), (f"{layer}.attn_k.weight", q, kv),
                (f"{layer}.attn_v.weight", q + kv, kv)]
    if config["arch"] == "phi3" and name.endswith(".ffn_up.weight") and rows == 2 * config["ffn_dim"]:
        layer = name[:-len(".ffn_up.weight")]
        return [(f"{layer}.ffn_gate.weight", 0, rows // 2), (f"{layer}.ffn_up.weight", rows // 2, rows // 2)]
    return [(name, 0, rows)]


def records(gguf: Path, config: dict) -> list[list]:
    """[name, type, shape (outermost first), data offset, bytes, head size to permute or 0] per tensor
    (per part of a fused one), read by gguf's own reader."""
    out = []
    for t in GGUFReader(str(gguf)).tensors:
        shape = [int(s) for s in reversed(t.shape)]
        row_bytes = int(t.n_bytes) // shape[0]
        for name, first, rows in _parts(config, t.name, shape[0]):
            out.append([name, t.tensor_type.name, [rows, *shape[1:]], int(t.data_offset) + first * row_bytes,
                        rows * row_bytes, permuted_head(config, name)])
    return out


def _patch(data: bytearray, at: int, patterns: list[int]):
    for i, bits in enumerate(patterns):
        data[at + 2 * i:at + 2 * i + 2] = bits.to_bytes(2, "little")


def write_edge(path: Path, name: str = "edge") -> Path:
    """A tiny Qwen3 (head norms, biases, head size 64, permuted K-quant rows) of EDGES[name] whose
    first blocks carry subnormal, signed-zero and extreme f16 scales, zero and extreme sub-scales
    (so an offset is -0.0), and whose F16/BF16 tensors start with edge bit patterns."""
    tiny_llama.write(path, arch="qwen3", layers=1, dim=256, heads=4, kv=2, ffn=512, head_dim=64, qk_norm=True,
                     qkv_bias=True, types=EDGES[name], seed=3)
    tensors = [(t.tensor_type.name, int(t.data_offset)) for t in GGUFReader(str(path)).tensors]
    data = bytearray(path.read_bytes())
    for kind, at in tensors:
        if kind == "F16":
            _patch(data, at, F16_EDGES)
        elif kind == "BF16":
            _patch(data, at, BF16_EDGES)
        elif kind in SCALE_AT:
            for block, bits in enumerate(F16_EDGES):  # block i's scales all get pattern i
                for field in SCALE_AT[kind]:
                    _patch(data, at + block * BLOCK_BYTES[kind] + field, [bits])
            if kind in ZERO_SUBSCALES:
                field, patch = ZERO_SUBSCALES[kind]
                data[at + field:at + field + len(patch)] = patch
    path.write_bytes(bytes(data))
    return path


def check_edges_are_there(bundle_tensors: dict):
    """The edge patterns survived the exporter: an f32 table holds a -0.0 and a subnormal-f16 value
    (tests/test_gguf_upload.py)."""
    values = np.concatenate([v.view(np.uint32).ravel() for k, v in bundle_tensors.items() if k.endswith("offsets")])
    assert (values == 0x80000000).any()
    assert (np.concatenate([v.view(np.uint32).ravel() for k, v in bundle_tensors.items()
                            if k.endswith("scales")]) == 0x33800000).any()  # 2**-24, the f16 0x0001
