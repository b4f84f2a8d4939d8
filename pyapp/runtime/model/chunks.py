"""How many rows the next prefill chunk runs: each chunk's measured time sizes the next, so a chunk
takes about PREFILL_CHUNK_S of GPU time on any device and Stop lands within about two chunks (two
are in flight). Two sizes timed give a chunk's fixed cost (encoding, the LM head: seconds on
SwiftShader) and its cost per row; where the fixed cost passes half the target, a chunk takes twice
it, so a slow device keeps half its prefill speed rather than stopping quicker.
"""

from __future__ import annotations

# 128 rows take ~37 s on a slow GPU and ~15 ms on an H100.
PREFILL_CHUNK_S = 0.2
FIRST_PREFILL_CHUNK = 8  # rows of the first chunk a model runs: it runs alone, and its time sizes the next


class PrefillChunks:
    """Chunk sizes for a prefill graph of `rows_max` rows whose kernels run rows in tiles of `tile`
    (fewer rows cost a whole tile, so chunks come in whole tiles). target_s None keeps chunks of
    rows_max."""

    def __init__(self, rows_max: int, tile: int = 1, target_s: float | None = PREFILL_CHUNK_S):
        self.rows_max = rows_max
        self.tile = min(rows_max, max(1, tile))
        self.target_s = target_s
        self.timed = False  # until a chunk was timed, one runs at a time
        self.times: dict[int, float] = {}  # rows -> seconds of the latest chunk of that size
        self.rows = min(max(FIRST_PREFILL_CHUNK, self.tile), rows_max)  # the next chunk's

    def next_rows(self) -> int:
        return self.rows if self.target_s is not None else self.rows_max

    def took(self, rows: int, seconds: float):
        """A chunk of `rows` ran in `seconds`: size the next, target_s worth of rows."""
        if self.target_s is None or rows < 2 or seconds <= 0:
            return
        target = self.target_s
        rows_next = rows * target / seconds
        times = self.times
        times.pop(rows, None)
        if times:
            other, other_s = next(reversed(times.items()))  # the latest chunk of another size
            per_row = (seconds - other_s) / (rows - other)
            fixed = seconds - per_row * rows
            if fixed < 0:  # the other time is stale (a first run's setup, a busier GPU): forget it
                times.clear()
            else:  # a chunk's time that does not grow with its rows is all fixed cost: take them all
                rows_next = max(target - fixed, fixed) / per_row if per_row > 0 else self.rows_max
        times[rows] = seconds
        tile = self.tile
        self.rows = max(2, tile, min(self.rows_max, int(rows_next) // tile * tile))
        self.timed = True
