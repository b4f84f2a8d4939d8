"""silu_mul(gate, up): silu(gate) * up elementwise (the SwiGLU of a llama FFN)."""

from .._checks import OpError, elementwise, expect_tensor

SHADERS = {"silu_mul": ("WG",)}


def silu_mul(graph, gate, up, rows=None, name=None):
    expect_tensor("silu_mul", "gate", gate, "f32", 2)
    expect_tensor("silu_mul", "up", up, "f32", 2)
    if gate.shape != up.shape:
        raise OpError(f"silu_mul: gate {gate!r} and up {up!r} differ in shape")
    out = graph.scratch(name or f"silu_mul#{len(graph.dispatches)}.out", gate.shape)
    elementwise(graph, "silu_mul", [out], [gate, up], gate.shape[0] if rows is None else rows, gate.shape[1])
    return out
