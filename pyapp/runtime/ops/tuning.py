"""The ops' tuning constants by name, for side-by-side runs: `WIDE_LOADS` (fused/_fused.py),
`residual_linear.WIDE_N`, `attention.NSPLIT`, ... An op reads its constants when it appends a
dispatch, so a setting holds for the graphs built while it is in force.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

ROOMS = ("fused", "executorch")


def resolve(name: str) -> tuple[object, str]:
    """(module, attribute) of a constant named `[module.]NAME`; a bare NAME is fused/_fused.py's."""
    modname, _, const = name.rpartition(".")
    for room in ROOMS:
        try:
            module = importlib.import_module(f"{__package__}.{room}.{modname or '_fused'}")
        except ImportError:
            continue
        if isinstance(getattr(module, const, None), (int, float)):  # bools too (CANDIDATES)
            return module, const
    raise ValueError(f"no tuning constant {const!r} in pyapp.runtime.ops (fused/, executorch/).{modname or '_fused'}")


def set_constants(settings: dict) -> dict:
    """Set each `name: value` (cast to the constant's own type); returns the values it replaced."""
    old = {}
    for name, value in settings.items():
        module, const = resolve(name)
        old[name] = getattr(module, const)
        setattr(module, const, type(old[name])(value))
    return old


@contextmanager
def tuned(settings: dict):
    """Constants set for the block's graph builds, restored after."""
    old = set_constants(settings)
    try:
        yield
    finally:
        set_constants(old)
