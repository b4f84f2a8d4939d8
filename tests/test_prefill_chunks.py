"""Prefill chunks sized by their time (Model._time_chunk), on made-up devices: a chunk of r rows
takes fixed + per_row * r seconds."""

import types

import pytest

from pyapp.runtime.model.model import PREFILL_CHUNK_S, Model


def sizes(fixed: float, per_row: float, steps: int = 5) -> list[int]:
    m = types.SimpleNamespace(prefill_chunk_s=PREFILL_CHUNK_S, prefill_graph=object(), prefill_rows=128,
                              _chunk_times={}, prefill_chunk=8, _chunk_timed=False)
    seen = []
    for _ in range(steps):
        rows = m.prefill_chunk
        Model._time_chunk(m, rows, fixed + per_row * rows)
        seen.append(m.prefill_chunk)
    assert m._chunk_timed
    return seen


@pytest.mark.parametrize("fixed, per_row, want", [
    (0.002, 0.0001, 128),  # an H100: every chunk is short, so the graph's full 128 rows
    (0.05, 0.29, 2),       # a slow GPU (128 rows in ~37 s): the fewest rows, ~0.6 s a chunk
    (0.02, 0.004, 45),     # a middling one: 0.2 s a chunk
    (3.5, 0.1, 35),        # SwiftShader-like, a large fixed cost: chunks of twice that cost
    (3.5, 0.0, 128),       # a time that does not grow with the rows: all of them
])
def test_chunks_aim_at_their_time(fixed, per_row, want):
    assert sizes(fixed, per_row)[-1] == want


def test_without_a_target_nothing_is_sized():
    m = types.SimpleNamespace(prefill_chunk_s=None, prefill_graph=object(), prefill_rows=128, _chunk_times={},
                              prefill_chunk=8, _chunk_timed=False)
    Model._time_chunk(m, 8, 1.0)
    assert m.prefill_chunk == 8 and not m._chunk_timed  # prefill() runs chunks of prefill_rows then
