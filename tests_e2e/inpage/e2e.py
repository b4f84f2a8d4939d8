"""Helpers the e2e tests use inside the page (copied into Pyodide's file system at boot)."""

import base64

from pyapp.runtime import app, tensorfile

_files: dict = {}


async def golden(name: str):
    """A golden file from the server's /files/goldens/ mount (or an extra mount), cached."""
    if name not in _files:
        _files[name] = await tensorfile.fetch_file(f"/files/{name}.safetensors")
    return _files[name]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def device():
    return app.session.device


def created() -> dict:
    return dict(app.session.device.created)


def axpb_graph(wgsl: str, n: int, scale: float, *, chain: int = 1, dev=None, **graph_options):
    """x -> axpb -> ... (chain times) -> out with the user kernel tests_e2e/kernels/axpb_pos.wgsl.

    Intermediates are scratch tensors, so a chain of 4 exercises buffer sharing.
    """
    from math import ceil

    from pyapp.runtime.graph import Graph

    g = Graph(dev or device(), f"axpb{chain}", **graph_options)
    src = g.input("x", (n,))
    pos = g.symint("pos", 0)
    count = g.uniform("n", n=n)
    for i in range(chain):
        dst = g.scratch("out" if i == chain - 1 else f"t{i}", (n,))
        g.dispatch("axpb_pos", source=wgsl, writes=[dst], reads=[src], uniforms=[pos, count],
                   workgroups=ceil(n / 64), constants={"WG": 64, "SCALE": scale})
        src = dst
    g.output(src)
    return g
