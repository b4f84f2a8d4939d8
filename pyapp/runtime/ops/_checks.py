"""Argument checks shared by the ops: every message names the tensor and its shape."""

from math import ceil

from ..graph import Tensor


class OpError(ValueError):
    """Bad arguments to an op, raised while building the graph (before any GPU work)."""


def expect_tensor(op: str, name: str, t, dtype: str, ndim: int | None = None):
    if not isinstance(t, Tensor):
        raise OpError(f"{op}: {name} must be a graph Tensor, got {type(t).__name__}")
    if t.dtype != dtype:
        raise OpError(f"{op}: {name} {t!r} must be {dtype}, got {t.dtype}")
    if ndim is not None and len(t.shape) != ndim:
        raise OpError(f"{op}: {name} {t!r} must have {ndim} dims, got {len(t.shape)}")


def workgroups(invocations: int, wg: int) -> int:
    return ceil(invocations / wg)
