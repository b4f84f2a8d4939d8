"""The values a graph holds: tensors (a buffer each, or a view of one), and small uniforms
(per-dispatch params and SymInts: live ints with a host copy and a dirty flag)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from math import prod

from ..gpu.buffers import nbytes


@dataclass(eq=False)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    # input | const | scratch (shareable between dispatches) | state (persists) | external
    # (a buffer owned elsewhere, e.g. weights and KV caches shared by prefill and decode graphs)
    role: str
    data: object = None  # const/state contents to upload in prepare()
    is_output: bool = False
    dynamic: bool = False  # an input that takes any whole-element prefix (live sequence length)
    base: "Tensor | None" = None  # a view shares its base's buffer
    buffer: object = None
    offset: int = 0               # an external slice: where it starts in `buffer`
    span: int | None = None       # an external slice: bytes bound (None: the whole buffer)
    fed: bool = False             # an external the host writes through execute's inputs, as an input

    @property
    def root(self) -> "Tensor":
        return self.base.root if self.base is not None else self

    @property
    def nbytes(self) -> int:
        return nbytes(self.shape, self.dtype)

    @property
    def numel(self) -> int:
        return prod(self.shape)

    def __repr__(self):
        return f"{self.name}{list(self.shape)}:{self.dtype}"


class Uniform:
    """A small uniform struct of 32-bit ints (16-byte aligned) with a host copy and a dirty flag."""

    def __init__(self, name: str, fields: dict[str, int]):
        self.name = name
        self.index = {f: i for i, f in enumerate(fields)}
        pad = -len(fields) % 4 if fields else 4  # WGSL uniform structs come in 16-byte units
        self.values = array("i", [*fields.values(), *[0] * pad])
        self.dirty = True
        self.offset = 0  # where it lives in its graph's uniform arena

    @property
    def nbytes(self) -> int:
        return len(self.values) * 4

    def __getitem__(self, field_name: str) -> int:
        return self.values[self.index[field_name]]

    def set(self, **values: int):
        for k, v in values.items():
            i = self.index[k]
            if self.values[i] != v:
                self.values[i] = v
                self.dirty = True

    def pack(self) -> memoryview:
        return memoryview(self.values).cast("B")


class SymInt(Uniform):
    """A live int: a 16-byte uniform plus a host copy; `set` marks it dirty only on change.

    `source` names a graph input whose element `index` feeds it on every execute. Resize hooks
    run once per change, before the submit.
    """

    def __init__(self, name: str, value: int, source: str | None = None, index: int = 0):
        super().__init__(name, {"value": value})
        self.source, self.source_index = source, index
        self.hooks: list = []

    @property
    def value(self) -> int:
        return self.values[0]

    def set(self, value: int):  # type: ignore[override]
        super().set(value=int(value))

    def __repr__(self):
        return f"SymInt({self.name}={self.value})"
