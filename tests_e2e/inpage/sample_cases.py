"""The sample op alone on fixed logits, inside the page: a graph of one op, kept per (vocabulary,
draws, kernel style) so that a test runs many cases on one prepared graph."""

import base64

from e2e import b64, device

from pyapp.runtime import ops
from pyapp.runtime.graph.graph import Graph
from pyapp.runtime.ops.fused.sample import HIST, SETTINGS_BYTES

_graphs: dict = {}


async def _graph(vocab: int, draws: int, style: str) -> Graph:
    key = (vocab, draws, style)
    if key not in _graphs:
        g = Graph(device(), f"sample{vocab}x{draws}", kernel_style=style)
        logits = g.input("logits", (1, vocab))
        settings = g.input("settings", (SETTINGS_BYTES // 4,), "u32")
        history = g.input("history", (HIST,), "u32")
        tokens = g.output(g.scratch("tokens", (max(2, draws),), "u32"))
        ops.sample(g, logits, tokens, settings, history, g.symint("input_pos", 0), g.symint("last_row", 0),
                   draws=draws)
        await g.prepare()
        _graphs[key] = g
    return _graphs[key]


async def run_sample(logits: str, settings: str, history: str, position: int, draws: int, style: str) -> dict:
    """logits, settings, history: base64 bytes; the tokens drawn at positions position ..
    position + draws - 1, base64 u32, and the seconds the submit took."""
    import time

    raw = [base64.b64decode(x) for x in (logits, settings, history)]
    g = await _graph(len(raw[0]) // 4, draws, style)
    g.symints["input_pos"].set(position)
    t0 = time.perf_counter()
    out = await g.execute({"logits": raw[0], "settings": raw[1], "history": raw[2]}, read=["tokens"])
    return {"tokens": b64(out["tokens"]), "s": time.perf_counter() - t0}
