"""The page, driven from Python once boot.js hands over: device, model, prompt UI, profile.

`<body data-state>` goes loading -> ready | error (data-error names the cause), so people read
the status line and tests wait on the attribute; `data-busy` is set while generating.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

import js
from pyodide.ffi import create_proxy

from . import chat
from .device import Device, WebGPUUnavailable
from .profiler import KernelStat, format_table
from .sampling import Sampling
from .tokenizer import StreamDecoder
from .weights import ModelTooLarge


@dataclass
class Session:
    """What the page has booted: the tests reach it as `pyapp.runtime.app.session`."""

    device: Device | None = None
    model: object = None
    config: dict = field(default_factory=dict)
    profile: bool = False
    messages: list = field(default_factory=list)  # the chat so far
    stop_requested: bool = False
    task: object = None  # the generation running now
    load_s: float = 0.0  # model download + upload + pipelines
    proxies: list = field(default_factory=list)  # event handlers handed to JS, kept alive


session = Session()


def element(id_: str):
    return js.document.getElementById(id_)


def set_status(text: str):
    element("status").textContent = text


def set_state(state: str, error: str = ""):
    body = js.document.body
    body.dataset.state = state
    if error:
        body.dataset.error = error


def fail(message: str, code: str):
    """Show an error a person can act on, and mark the page for tests."""
    set_status("pyapp cannot run here." if code == "no-webgpu" else "Something went wrong.")
    box = element("error")
    box.textContent = message
    box.hidden = False
    set_state("error", code)


def show_progress(label: str, done: int, total: int):
    bar = element("progress")
    bar.hidden = False
    bar.value = done / total if total else 0
    set_status(f"{label}…")
    element("progress-text").textContent = (
        f"{done / 1e6:.1f} / {total / 1e6:.1f} MB ({100 * done / total:.0f}%)" if total > 1 else "")


def hide_progress():
    element("progress").hidden = True
    element("progress-text").textContent = ""


def fill_table(table, rows, header=None):
    table.replaceChildren()
    if header:
        tr = js.document.createElement("tr")
        for h in header:
            th = js.document.createElement("th")
            th.textContent = h
            tr.append(th)
        table.append(tr)
    for row in rows:
        tr = js.document.createElement("tr")
        for i, value in enumerate(row):
            cell = js.document.createElement("th" if i == 0 and not header else "td")
            if isinstance(value, str):
                cell.textContent = value
            else:
                cell.append(value)
            tr.append(cell)
        table.append(tr)


def environment_rows(device: Device) -> list[tuple[str, str]]:
    import pyodide

    info = device.info
    rows = [
        ("GPU adapter", " / ".join(v for v in (info["vendor"], info["architecture"], info["device"]) if v) or "unknown"),
        ("Adapter description", info["description"] or "—"),
        ("Device features", ", ".join(sorted(device.features)) or "none"),
        ("Python", sys.version.split()[0]),
        ("Pyodide", pyodide.__version__),
        ("Profiling", "on (?profile=1)" if session.profile else "off (add ?profile=1 to the URL)"),
    ]
    rows += [(name, f"{value:,}") for name, value in device.limits.items()]
    return rows


def show_profile(kernels: dict):
    """Per-kernel GPU time of the last generation: a table with a bar per kernel."""
    stats = sorted((KernelStat(k, c, t) for k, (c, t) in kernels.items()), key=lambda s: -s.total_ns)
    if not stats:
        return
    top = stats[0].total_ns or 1
    rows = []
    for s in stats:
        bar = js.document.createElement("div")
        bar.className = "bar"
        bar.style.width = f"{100 * s.total_ns / top:.1f}%"
        rows.append((s.kernel, str(s.count), f"{s.total_ns / 1e6:.2f}", f"{s.mean_ns / 1e3:.1f}", bar))
    table = js.document.createElement("table")
    table.id = "profile-table"
    fill_table(table, rows, header=("kernel", "count", "total ms", "mean µs", ""))
    element("profile").replaceChildren(table)
    element("profile-title").hidden = False
    js.console.log(format_table(stats))


def read_sampling() -> Sampling:
    def num(id_, cast):
        return cast(element(id_).value or 0)
    return Sampling(temperature=num("temperature", float), top_k=num("top-k", int),
                    top_p=num("top-p", float), seed=num("seed", int))


def prompt_ids(text: str, mode: str) -> list[int]:
    tok = session.model.tok
    if mode == "completion":
        return tok.encode(text)
    session.messages.append({"role": "user", "content": text})
    return tok.encode(chat.render(tok.chat_template, session.messages))


async def generate(text: str, mode: str, max_new: int, sampling: Sampling):
    """Run one generation, streaming text into #output; returns the Generation."""
    model = session.model
    out = element("output")
    if mode == "completion" or not session.messages:
        out.replaceChildren()
    turn = js.document.createElement("div")
    turn.className = "turn"
    label = js.document.createElement("b")
    label.textContent = "" if mode == "completion" else "You: "
    turn.append(label, js.document.createTextNode(text + ("" if mode == "completion" else "\n")))
    if mode != "completion":
        answer_label = js.document.createElement("b")
        answer_label.textContent = "SmolLM: "
        turn.append(answer_label)
    answer = js.document.createTextNode("")
    turn.append(answer)
    out.append(turn)
    ids = prompt_ids(text, mode)
    stream = StreamDecoder(model.tok)
    generated = []

    async def on_token(token: int):
        answer.appendData(stream.push(token))
        generated.append(token)
        element("stats").textContent = f"{len(generated)} tokens…"
        await asyncio.sleep(0)  # let the page paint

    set_status("Generating…")
    result = await model.generate(ids, sampling, max_new, on_token, lambda: session.stop_requested)
    answer.appendData(stream.flush())
    if mode != "completion":
        session.messages.append({"role": "assistant", "content": model.tok.decode(result.generated_ids, skip_control=True)})
    element("stats").textContent = (
        f"prompt {len(ids)} tokens, prefill {result.prefill_tokens_per_s:.1f} tok/s · "
        f"generated {len(result.generated_ids)} tokens, decode {result.decode_tokens_per_s:.2f} tok/s · "
        f"stopped: {result.stop_reason}")
    if session.profile:
        show_profile(result.kernels)
    return result


def on_submit(event):
    """Sync on purpose: the form's default (a page reload) must be prevented inside the event."""
    event.preventDefault()
    if session.task is not None and not session.task.done():
        return
    session.task = asyncio.ensure_future(on_generate())
    session.task.add_done_callback(report)


def report(task):
    """No exception may vanish inside a task: show it on the page."""
    if not task.cancelled() and task.exception() is not None:
        fail(f"Generation failed: {task.exception()!r}", "generate")
        set_state("ready")
        set_busy(False)


async def on_generate():
    text = element("prompt").value
    if not text.strip():
        set_status("Type a prompt first.")
        return
    try:
        sampling = read_sampling()
        max_new = int(element("max-tokens").value or 64)
        if not 1 <= max_new <= session.model.cmax:
            raise ValueError(f"max new tokens must be within 1..{session.model.cmax}")
    except ValueError as e:
        set_status(f"Check the settings: {e}")
        return
    session.stop_requested = False
    set_busy(True)
    try:
        await generate(text, element("mode").value, max_new, sampling)
        set_status("Ready.")
    except Exception as e:  # show it on the page; the page stays usable
        lost = session.device.lost_reason
        fail(f"The GPU device was lost ({lost}). Reload the page." if lost else f"Generation failed: {e}",
             "device-lost" if lost else "generate")
        set_state("ready")
    finally:
        set_busy(False)


def set_busy(busy: bool):
    js.document.body.dataset.busy = "1" if busy else "0"
    element("generate").disabled = busy
    element("stop").disabled = not busy


def on_stop(event=None):
    session.stop_requested = True


def on_clear(event=None):
    session.messages = []
    element("output").replaceChildren()
    element("stats").textContent = ""


def listen(id_: str, kind: str, handler):
    proxy = create_proxy(handler)
    session.proxies.append(proxy)
    element(id_).addEventListener(kind, proxy)


async def main(config):
    session.config = dict(config) if config is not None else {}
    session.profile = js.URLSearchParams.new(js.location.search).get("profile") == "1"
    set_status("Requesting a WebGPU device…")
    try:
        session.device = await Device.open()
    except WebGPUUnavailable as e:
        fail(str(e), "no-webgpu")
        return
    except Exception as e:  # a page must say what broke, never go blank
        fail(f"Could not open the GPU: {e}", "device")
        return
    fill_table(element("env-table"), environment_rows(session.device))
    element("about").hidden = False
    url = session.config.get("model")
    if url:
        from . import model as model_mod

        try:
            set_status("Loading the model…")
            t0 = js.performance.now()
            session.model = await model_mod.load(session.device, url, on_progress=show_progress,
                                                 profile=session.profile)
        except ModelTooLarge as e:
            fail(f"This model does not fit this GPU: {e}", "model-too-large")
            return
        except Exception as e:
            fail(f"Could not load the model from {url}: {e}", "model")
            return
        session.load_s = (js.performance.now() - t0) / 1000
        hide_progress()
        m = session.model
        element("model-name").textContent = (
            f"Model: {m.cfg.get('name') or m.cfg['source']['file']} · {m.cfg['n_layers']} layers · "
            f"context {m.cmax} tokens · {len(m.decode_graph.dispatches)} dispatches per token")
        listen("prompt-form", "submit", on_submit)
        listen("stop", "click", on_stop)
        listen("clear", "click", on_clear)
        set_busy(False)
        element("app").hidden = False
    set_state("ready")
    set_status(f"Ready: WebGPU on {session.device.info['architecture'] or session.device.info['vendor']}.")
