"""The op tests as data, after ExecuTorch's `@register_op_test`: each module here holds one op's
(or one family's) cases and the reference that writes a case's golden file.

    @register_op_test("linear_q4gsw", cases={name: params, ...}, styles=("workgroups",))
    def write(save, name, **params): ...   # inputs + expected outputs, computed on the host

make_goldens.py writes every registered case (`family` "large": at test time, into .cache/goldens,
too big to commit); tests_e2e/test_ops.py runs each case in the page in the device's own kernel
style and in every style a case names, against its file. Adding a test for an op: its module
here, imported below, and, for a new kind of graph, a builder in pyapp/runtime/ops/golden.py
(docs/design.md, "How to add an op").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class OpCase:
    op: str
    name: str            # the golden file's stem
    params: dict
    write: Callable      # write(save, name, **params)
    family: str          # make_goldens' family: "linear", "sdpa" (committed) or "large"
    styles: tuple = field(default=())  # kernel styles forced in the page besides the device's own

    @property
    def mount(self) -> str:
        return "large" if self.family == "large" else "goldens"


REGISTRY: list[OpCase] = []


def register_op_test(op: str, *, cases: dict[str, dict], family: str, styles=(), case_styles=None):
    """Register `cases` ({golden name: params}) of `op`, written by the decorated function;
    case_styles(name, params) may give a case styles of its own instead of `styles`."""
    def register(write):
        for name, params in cases.items():
            forced = tuple(case_styles(name, params)) if case_styles else tuple(styles)
            REGISTRY.append(OpCase(op, name, dict(params), write, family, forced))
        return write
    return register


def registered(op_prefix: str = "", family: str | None = None) -> list[OpCase]:
    from . import fused, linear, sdpa  # noqa: F401  (each registers its cases on import)

    return [c for c in REGISTRY if c.op.startswith(op_prefix) and family in (None, c.family)]


def write_family(family: str, save) -> None:
    for c in registered(family=family):
        c.write(save, c.name, **c.params)
