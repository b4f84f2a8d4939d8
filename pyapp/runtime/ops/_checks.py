"""Argument checks shared by the ops: every message names the tensor and its shape."""

from math import ceil

from ..graph.graph import SymInt, Tensor


class OpError(ValueError):
    """Bad arguments to an op, raised while building the graph (before any GPU work)."""


def expect_tensor(op: str, name: str, t, dtype: str, ndim: int | None = None):
    if not isinstance(t, Tensor):
        raise OpError(f"{op}: {name} must be a graph Tensor, got {type(t).__name__}")
    if t.dtype != dtype:
        raise OpError(f"{op}: {name} {t!r} must be {dtype}, got {t.dtype}")
    if ndim is not None and len(t.shape) != ndim:
        raise OpError(f"{op}: {name} {t!r} must have {ndim} dims, got {len(t.shape)}")


def check_bias(op: str, bias, n: int):
    if bias is not None:
        expect_tensor(op, "bias", bias, "f32")
        if bias.numel < n:
            raise OpError(f"{op}: bias {bias!r} has fewer than N={n} elements")


def live_rows(graph, op: str, dispatch, params, rows, m: int, x, grid_for):
    """rows (int or SymInt, default M) of x computed per step: params.m and the grid follow it."""
    rows = m if rows is None else rows

    def resize():
        r = live(rows)
        if not 0 <= r <= m:
            raise OpError(f"{op}: rows {r} must be within 0..{m} (x {x!r})")
        params.set(m=r)
        dispatch.set_workgroups(grid_for(r))

    on_change(graph, (rows,), resize)


def workgroups(invocations: int, wg: int) -> int:
    return ceil(invocations / wg)


def live(value) -> int:
    """The current value of an int or a SymInt."""
    return value.value if isinstance(value, SymInt) else int(value)


def on_change(graph, symints, hook):
    """Register hook() for every SymInt among `symints` and run it once now (build-time values)."""
    for s in symints:
        if isinstance(s, SymInt):
            graph.on_resize(s, lambda _value: hook())
    hook()


def elementwise(graph, op: str, writes, reads, rows, row_elems: int, wg: int = 64, constants=None):
    """A 1-D dispatch over rows * row_elems elements; `rows` may be a SymInt (live)."""
    params = graph.uniform(f"{op}#{len(graph.dispatches)}.params", count=0)
    d = graph.dispatch(op, shader=op, writes=writes, reads=reads, uniforms=[params],
                       constants={"WG": wg, **(constants or {})})

    def resize():
        count = live(rows) * row_elems
        params.set(count=count)
        d.set_workgroups(workgroups(count, wg))

    on_change(graph, (rows,), resize)
    return d


def gpu_kernel(graph, setting: int, shared_bytes: int) -> bool:
    """Whether a kernel meant for GPUs runs: `setting` 0 never, 1 on kernel styles other than
    lanes, 2 always (the tests, on SwiftShader); and only where the device gives a workgroup
    `shared_bytes` of shared memory (a graph without a device gives none)."""
    wanted = setting == 2 or (setting == 1 and graph.kernel_style != "lanes")
    return wanted and workgroup_memory(graph) >= shared_bytes


def workgroup_memory(graph) -> int:
    """Bytes of shared memory the graph's device gives a workgroup (0 without a device)."""
    return getattr(graph.device, "limits", {}).get("maxComputeWorkgroupStorageSize", 0)
