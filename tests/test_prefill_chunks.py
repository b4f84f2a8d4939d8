"""Prefill chunks sized by their time (model/chunks.py), on made-up devices: a chunk of r rows
takes fixed + per_row * r seconds (r rounded up to the kernels' row tile)."""

import pytest

from pyapp.runtime.model.chunks import PrefillChunks


def sizes(fixed: float, per_row: float, steps: int = 5, tile: int = 1, chunks=None) -> list[int]:
    chunks = chunks or PrefillChunks(128, tile)
    seen = []
    for _ in range(steps):
        rows = chunks.next_rows()
        chunks.took(rows, fixed + per_row * -(-rows // tile) * tile)
        seen.append(chunks.next_rows())
    assert chunks.timed
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


@pytest.mark.parametrize("fixed, per_row, want", [
    (0.002, 0.0001, 128),  # fast: all rows
    (0.01, 0.003, 64),     # 64 rows take 0.2 s: one tile a chunk, never fewer rows for the same time
    (0.01, 0.0007, 256 // 2),  # 0.2 s is ~270 rows, past the graph's 128
])
def test_chunks_are_whole_row_tiles(fixed, per_row, want):
    seen = sizes(fixed, per_row, tile=64)
    assert seen[-1] == want and all(r % 64 == 0 for r in seen)


def test_the_first_chunk_is_a_tile_or_eight_rows():
    assert PrefillChunks(128).next_rows() == 8
    assert PrefillChunks(512, 128).next_rows() == 128
    assert PrefillChunks(1).next_rows() == 1  # a model of no prefill graph runs its prompt a row at a time


def test_a_stale_first_time_does_not_pin_the_chunks_small():
    """A first chunk slowed by the GPU's first run (pipelines, caches) once made every later
    chunk 2 rows: each compared its own short time with that stale one."""
    chunks = PrefillChunks(128)
    chunks.took(4, 1.0)  # a warm-up of 4 rows, 0.25 s a row
    assert chunks.next_rows() == 2
    assert sizes(0.001, 0.0005, chunks=chunks)[-1] == 128  # the GPU's real cost: 128 rows in 0.065 s


def test_without_a_target_chunks_are_the_whole_graph():
    chunks = PrefillChunks(128, target_s=None)
    chunks.took(8, 1.0)
    assert chunks.next_rows() == 128 and not chunks.timed  # prefill() runs chunks of prefill_rows then
