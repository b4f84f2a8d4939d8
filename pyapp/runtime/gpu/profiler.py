"""GPU timestamps per dispatch (ExecuTorch's QueryPool), and a per-kernel summary.

Each dispatch's compute pass writes timestamps at query indices 2i and 2i+1; after the step
the query set is resolved into a buffer, copied to a mappable one and read back. Opt-in, and
fail-open: without the `timestamp-query` feature the graph runs untimed and says "unavailable".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .buffers import COPY_DST, COPY_SRC, MAP_READ, QUERY_RESOLVE


@dataclass(frozen=True)
class ShaderDuration:
    idx: int
    kernel_name: str
    global_wg: tuple[int, int, int]
    local_wg: tuple[int, int, int]
    start_ns: int
    end_ns: int
    duration_ns: int


@dataclass(frozen=True)
class KernelStat:
    kernel: str
    count: int
    total_ns: int

    @property
    def mean_ns(self) -> float:
        return self.total_ns / self.count if self.count else 0.0


class QueryPool:
    def __init__(self, device, dispatch_count: int):
        self.device = device
        self.count = 2 * max(dispatch_count, 1)
        self.available = "timestamp-query" in device.features
        self.last_ticks: tuple = ()
        if self.available:
            self.query_set = device.query_set(self.count, "profiler.queries")
            self.resolve_buffer = device.buffer(self.count * 8, QUERY_RESOLVE | COPY_SRC, "profiler.resolve")
            self.read_buffer = device.buffer(self.count * 8, MAP_READ | COPY_DST, "profiler.readback")

    def descriptor(self, index: int, label: str):
        return self.device.pass_descriptor(label, self.query_set, index)

    def resolve_args(self):
        return self.query_set, self.count, self.resolve_buffer, self.read_buffer

    async def read(self, dispatches) -> list[ShaderDuration]:
        raw = await self.device.read(self.read_buffer, self.count * 8)
        self.last_ticks = struct.unpack(f"<{self.count}Q", raw)  # as the GPU wrote them (tests: never 0)
        return records_from_ticks(self.last_ticks, dispatches)


def records_from_ticks(ticks, dispatches) -> list[ShaderDuration]:
    """Pair ticks (2 per dispatch) into records; times relative to the earliest start, negatives clamp to 0.

    WebGPU timestamps are nanoseconds already (no tick period to apply)."""
    n = len(dispatches)
    if n == 0:
        return []
    base = min(ticks[0:2 * n:2])
    out = []
    for i, d in enumerate(dispatches):
        start = ticks[2 * i] - base
        duration = max(0, ticks[2 * i + 1] - ticks[2 * i])
        out.append(ShaderDuration(i, d.label, tuple(d.grid), tuple(d.local_size), start, start + duration, duration))
    return out


class KernelTally:
    """Per-kernel GPU time over any number of steps: the one place records are added up.

    A kernel is a record's label without its `#node`; `stats()` lists the largest first.
    """

    def __init__(self):
        self.totals: dict[str, list[int]] = {}  # kernel -> [count, total ns]

    @classmethod
    def of(cls, totals: dict) -> "KernelTally":
        """From `totals` as JSON carried them (kernel -> [count, total ns])."""
        tally = cls()
        tally.totals = {k: [int(c), int(t)] for k, (c, t) in totals.items()}
        return tally

    def add(self, records) -> "KernelTally":
        for r in records:
            acc = self.totals.setdefault(r.kernel_name.split("#")[0], [0, 0])
            acc[0] += 1
            acc[1] += r.duration_ns
        return self

    def stats(self) -> list[KernelStat]:
        return sorted((KernelStat(k, c, t) for k, (c, t) in self.totals.items()), key=lambda s: -s.total_ns)

    def __bool__(self) -> bool:
        return bool(self.totals)


def summarize(records) -> list[KernelStat]:
    """Per kernel (the label without its #node): count and total time, largest first."""
    return KernelTally().add(records).stats()


def format_table(stats: list[KernelStat]) -> str:
    total = sum(s.total_ns for s in stats) or 1
    lines = [f"{'kernel':<32} {'count':>6} {'total ms':>10} {'mean us':>10} {'share':>6}"]
    for s in stats:
        lines.append(f"{s.kernel:<32} {s.count:>6} {s.total_ns / 1e6:>10.3f} {s.mean_ns / 1e3:>10.1f} "
                     f"{100 * s.total_ns / total:>5.1f}%")
    return "\n".join(lines)
