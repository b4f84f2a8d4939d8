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

# Every type somewhere, K-quants among the permuted Q/K rows, BF16 and F16 matrices.
EDGE_TYPES = {"token_embd": Q.BF16, "attn_q": Q.Q4_K, "attn_k": Q.Q6_K, "attn_v": Q.Q5_K, "attn_output": Q.F16,
              "ffn_gate": Q.Q5_0, "ffn_up": Q.Q5_1, "ffn_down": Q.BF16, "output": Q.Q4_0}
# f16 bit patterns: zeros, subnormals (smallest, largest, odd ones), the largest normal, 1, ...
F16_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0200, 0x0155, 0x0400, 0x7BFF, 0xFBFF, 0x3C00]
BF16_EDGES = [0x0001, 0x8000, 0x807F, 0x0080, 0x7F7F, 0x3F80]  # f32 subnormals pass through as bits
# (byte offsets of the f16 scales in a block) per type: d, and dmin or m where there is one
SCALE_AT = {"Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,), "Q4_K": (0, 2),
            "Q5_K": (0, 2), "Q6_K": (208,)}
BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q5_1": 24, "Q8_0": 34, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210}


def records(gguf: Path, config: dict) -> list[list]:
    """[name, type, shape (outermost first), data offset, bytes, head size to permute or 0] per tensor."""
    return [[t.name, t.tensor_type.name, [int(s) for s in reversed(t.shape)], int(t.data_offset), int(t.n_bytes),
             permuted_head(config, t.name)] for t in GGUFReader(str(gguf)).tensors]


def _patch(data: bytearray, at: int, patterns: list[int]):
    for i, bits in enumerate(patterns):
        data[at + 2 * i:at + 2 * i + 2] = bits.to_bytes(2, "little")


def write_edge(path: Path) -> Path:
    """A tiny Qwen3 (head norms, biases, head size 64, permuted K-quant rows) whose first blocks
    carry subnormal, signed-zero and extreme f16 scales, zero and -128 sub-scales (so an offset
    is -0.0), and whose F16/BF16 tensors start with edge bit patterns."""
    tiny_llama.write(path, arch="qwen3", layers=1, dim=256, heads=4, kv=2, ffn=512, head_dim=64, qk_norm=True,
                     qkv_bias=True, types=EDGE_TYPES, seed=3)
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
            if kind in ("Q4_K", "Q5_K"):  # block 0: every 6-bit scale and min 0
                data[at + 4:at + 16] = bytes(12)
            if kind == "Q6_K":  # block 0: int8 sub-scales 0 and -128
                data[at + 192:at + 194] = bytes([0x00, 0x80])
    path.write_bytes(bytes(data))
    return path


def check_edges_are_there(bundle_tensors: dict):
    """The edge patterns survived the exporter: an f32 table holds a -0.0 and a subnormal-f16 value."""
    values = np.concatenate([v.view(np.uint32).ravel() for k, v in bundle_tensors.items() if k.endswith("offsets")])
    assert (values == 0x80000000).any()
    assert (np.concatenate([v.view(np.uint32).ravel() for k, v in bundle_tensors.items()
                            if k.endswith("scales")]) == 0x33800000).any()  # 2**-24, the f16 0x0001
