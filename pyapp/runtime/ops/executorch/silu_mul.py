"""silu_mul(gate, up): silu(gate) * up elementwise (the SwiGLU of a llama FFN); act="gelu_tanh":
gelu(gate) * up (Gemma's GeGLU)."""

from .._checks import OpError, elementwise, expect_tensor

SHADERS = {"silu_mul": ("WG", "ACT")}
ACTIVATIONS = {"silu": 0, "gelu_tanh": 1}  # common/activation.wgsl


def silu_mul(graph, gate, up, rows=None, name=None, act: str = "silu"):
    if act not in ACTIVATIONS:
        raise OpError(f"silu_mul: activation {act!r} is not one of {sorted(ACTIVATIONS)}")
    expect_tensor("silu_mul", "gate", gate, "f32", 2)
    expect_tensor("silu_mul", "up", up, "f32", 2)
    if gate.shape != up.shape:
        raise OpError(f"silu_mul: gate {gate!r} and up {up!r} differ in shape")
    out = graph.scratch(name or f"silu_mul#{len(graph.dispatches)}.out", gate.shape)
    elementwise(graph, "silu_mul", [out], [gate, up], gate.shape[0] if rows is None else rows, gate.shape[1],
                constants={"ACT": ACTIVATIONS[act]})
    return out
