"""Dispatch nodes and the planning that needs no GPU: 2-D grid folding past the 65535
workgroup limit, and buffer sharing between scratch tensors whose lifetimes do not overlap."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from ..gpu.buffers import align
from .values import Tensor


def fold_grid(total: int, max_per_dim: int) -> tuple[int, int, int]:
    """Fold a 1-D workgroup count into (x, y, 1) with x, y <= max_per_dim (no 65535 ceiling).

    Shaders rebuild the flat index as wid.x + wid.y * num_workgroups.x and bounds-check it.
    """
    if total <= max_per_dim:
        return (total, 1, 1)
    y = ceil(total / max_per_dim)
    if y > max_per_dim:
        raise ValueError(f"{total} workgroups exceed {max_per_dim}^2")
    return (ceil(total / y), y, 1)


@dataclass(eq=False)
class Dispatch:
    node: int
    kernel: str
    source: str
    writes: list
    reads: list
    uniforms: list
    constants: dict
    local_size: tuple[int, int, int]
    max_per_dim: int
    workgroups: int | tuple = 1
    grid: tuple[int, int, int] = (1, 1, 1)
    pipeline: object = None
    bind_group: object = None
    variant: str = ""  # which of the kernel's variants the op chose (a team flavor, a decode path)

    def __post_init__(self):
        self.set_workgroups(self.workgroups)

    @property
    def label(self) -> str:
        """<kernel>#<node>, or <kernel>[<variant>]#<node>: profiles group by what precedes the #."""
        return f"{self.kernel}[{self.variant}]#{self.node}" if self.variant else f"{self.kernel}#{self.node}"

    @property
    def bindings(self) -> list:
        return [*self.writes, *self.reads, *self.uniforms]

    @property
    def kinds(self) -> tuple[str, ...]:
        return ("write",) * len(self.writes) + ("read",) * len(self.reads) + ("uniform",) * len(self.uniforms)

    def set_workgroups(self, count: int | tuple):
        """Total count (folded to 2-D past the limit) or an explicit (x, y, z) grid; hooks call this."""
        self.workgroups = count
        if isinstance(count, tuple):
            if len(count) != 3 or any(c > self.max_per_dim for c in count):
                raise ValueError(f"{self.label}: grid {count} must be (x, y, z), each <= {self.max_per_dim}")
            self.grid = count
        else:
            self.grid = fold_grid(int(count), self.max_per_dim)


def plan_scratch(dispatches: list[Dispatch]) -> tuple[dict[Tensor, int], list[int]]:
    """Share buffers between scratch tensors whose lifetimes (first..last dispatch) do not overlap.

    Returns (tensor -> slot, slot sizes in bytes). Greedy by first use, best fit; a slot grows
    when no free one is big enough. Outputs are never shared (they are read after the step).
    """
    first: dict[Tensor, int] = {}
    last: dict[Tensor, int] = {}
    for i, d in enumerate(dispatches):
        for t in (*d.writes, *d.reads):
            if not isinstance(t, Tensor):  # a SymInt a kernel advances lives in the uniforms
                continue
            t = t.root
            if t.role == "scratch" and not t.is_output:
                first.setdefault(t, i)
                last[t] = i
    slots: dict[Tensor, int] = {}
    sizes: list[int] = []
    holder: list[Tensor] = []  # the tensor living in each slot most recently
    for t in sorted(first, key=lambda t: first[t]):
        free = [s for s, h in enumerate(holder) if last[h] < first[t]]
        fits = [s for s in free if sizes[s] >= t.nbytes]
        if fits:
            s = min(fits, key=lambda s: sizes[s])
        elif free:
            s = max(free, key=lambda s: sizes[s])
            sizes[s] = align(t.nbytes)
        else:
            s = len(sizes)
            sizes.append(align(t.nbytes))
            holder.append(t)
        holder[s] = t
        slots[t] = s
    return slots, sizes
