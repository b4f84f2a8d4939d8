"""add(x, y): x += y in place (the residual stream)."""

from .._checks import OpError, elementwise, expect_tensor

SHADERS = {"add": ("WG",)}


def add(graph, x, y, rows=None):
    expect_tensor("add", "x", x, "f32", 2)
    expect_tensor("add", "y", y, "f32", 2)
    if x.shape != y.shape:
        raise OpError(f"add: x {x!r} and y {y!r} differ in shape")
    elementwise(graph, "add", [x], [y], x.shape[0] if rows is None else rows, x.shape[1])
    return x
