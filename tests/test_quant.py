"""The host quantizers: packing layout, exact inverses, and the error they report."""

import numpy as np
import pytest

from pyapp.convert import quant


def test_nibble_layout_matches_the_contract():
    q = np.arange(16, dtype=np.uint8).reshape(1, 16)
    packed = quant.pack_nibbles(q)
    assert packed.tolist() == [[0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE]]
    word = int.from_bytes(packed[0, :4].tobytes(), "little")  # k = 8i + j in bits [4j, 4j+4)
    assert [(word >> (4 * j)) & 15 for j in range(8)] == list(range(8))
    np.testing.assert_array_equal(quant.unpack_nibbles(packed, 16), q)


@pytest.mark.parametrize("k, gs", [(64, 32), (97, 32), (200, 64), (576, 128)])
def test_q4gsw_roundtrip_error_is_within_half_a_step(k, gs):
    rng = np.random.default_rng(k)
    w = rng.standard_normal((13, k)).astype(np.float32)
    p = quant.quantize_q4gsw(w, gs)
    assert p.weight.shape == (13, -(-k // 2)) and p.scales.shape == (-(-k // gs), 16)
    deq = quant.dequantize_q4gsw(p)
    step = np.repeat(p.scales[:, :13].T, gs, axis=1)[:, :k]
    assert (np.abs(deq - w) <= step / 2 + 1e-6).all()
    report = quant.max_error(w, deq)
    assert 0 < report["max_abs"] <= report["max_rel_to_range"] * np.abs(w).max() + 1e-12


def test_q4gsw_codes_stay_in_range():
    w = np.array([[-1.0, 1.0] * 16], np.float32)
    q = quant.unpack_nibbles(quant.quantize_q4gsw(w, 32).weight, 32).astype(int) - 8
    assert q.min() >= -8 and q.max() <= 7


@pytest.mark.parametrize("k, gs", [(64, 32), (97, 32)])
def test_q4gaw_q8gsw_q8gaw_roundtrip(k, gs):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((9, k)).astype(np.float32) + 0.5
    pa = quant.quantize_q4gaw(w, gs)
    assert quant.max_error(w, quant.dequantize_q4gaw(pa))["max_abs"] <= pa.scales.max() / 2 + 1e-6
    p8 = quant.quantize_q8gsw(w, gs)
    assert quant.max_error(w, quant.dequantize_q8gsw(p8))["max_abs"] <= p8.scales.max() / 2 + 1e-6
    assert p8.weight.dtype == np.uint8 and p8.weight.shape == (9, k)
    pg = quant.quantize_q8gaw(w, gs)
    assert quant.max_error(w, quant.dequantize_q8gaw(pg))["max_abs"] <= pg.scales.max() / 2 + 1e-6
    assert pg.offsets is not None and pg.weight.view(np.int8).min() == -128  # each group's minimum


def test_zero_groups_and_bad_group_size():
    p = quant.quantize_q4gsw(np.zeros((2, 32), np.float32), 32)
    assert (quant.dequantize_q4gsw(p) == 0).all()
    with pytest.raises(ValueError, match="group_size"):
        quant.quantize_q4gsw(np.zeros((2, 32), np.float32), 0)
