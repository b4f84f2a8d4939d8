"""The page's DOM, and nothing else: status, errors, progress, tables, the profile, settings.

`<body data-state>` goes loading -> ready | error (data-error names the cause), so people read
the status line and tests wait on the attribute; `data-busy` is set while generating.
"""

from __future__ import annotations

import math

import js
from pyodide.ffi.wrappers import add_event_listener

from ..gpu.profiler import KernelTally, format_table
from ..model.sampling import Sampling


def element(id_: str):
    return js.document.getElementById(id_)


def set_status(text: str):
    element("status").textContent = text


def set_state(state: str, error: str = ""):
    body = js.document.body
    body.dataset.state = state
    if error:
        body.dataset.error = error


def show_error(message: str, code: str):
    """Show an error a person can act on, and mark the page for tests."""
    set_status("pyapp cannot run here." if code == "no-webgpu" else "Something went wrong.")
    box = element("error")
    box.textContent = message
    box.hidden = False
    set_state("error", code)


def clear_error():
    """A new attempt: the last error's box goes away."""
    element("error").hidden = True
    element("error").textContent = ""
    js.document.body.removeAttribute("data-error")


def set_busy(busy: bool):
    js.document.body.dataset.busy = "1" if busy else "0"
    element("generate").disabled = busy
    element("stop").disabled = not busy


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
    """Rows of strings or DOM nodes; without a header the first cell of a row is its <th>."""
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


def show_profile(tally: KernelTally):
    """Per-kernel GPU time of the last generation: a table with a bar per kernel."""
    stats = tally.stats()
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


def show_kept_models(models: list[dict], can_keep: bool, on_delete, on_start):
    """#kept: the models this browser keeps (name, size, Start and Delete buttons), or why it keeps none."""
    items = []
    for m in models:
        item = js.document.createElement("li")
        item.textContent = f"{m['name']} ({m['source']}): {m['bytes'] / 1e6:.1f} MB "
        for label, handler in (("Start", on_start), ("Delete", on_delete)):
            button = js.document.createElement("button")
            button.type = "button"
            button.textContent = label
            button.className = label.lower()
            add_event_listener(button, "click", handler(m["id"]))
            item.append(button)
        items.append(item)
    element("kept-list").replaceChildren(*items)
    total = sum(m["bytes"] for m in models)
    element("kept-summary").textContent = (
        "This browser keeps no models here: its storage needs a page on localhost or HTTPS." if not can_keep else
        f"{len(models)} model{'s' if len(models) != 1 else ''}, {total / 1e6:.1f} MB" if models else "none yet")


class SettingsError(ValueError):
    """A settings field that does not hold what it should, named as the page labels it."""


def read_number(id_: str, label: str, whole: bool, lo: float | None = None, hi: float | None = None,
                low_open: bool = False):
    """The field's number (an empty field takes its default), or SettingsError naming the field."""
    field = element(id_)
    raw = str(field.value).strip() or str(field.defaultValue)
    kind = "a whole number" if whole else "a number"
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{label} must be {kind}, got {raw!r}") from None
    if not math.isfinite(value) or (whole and value != int(value)):
        raise SettingsError(f"{label} must be {'a finite number' if not whole else kind}, got {raw!r}")
    if (lo is not None and (value < lo or (low_open and value == lo))) or (hi is not None and value > hi):
        low = f"{'above' if low_open else 'at least'} {lo:g}"
        bounds = low if hi is None else f"{low} and at most {hi:g}" if low_open else f"within {lo:g}..{hi:g}"
        raise SettingsError(f"{label} must be {bounds}, got {raw!r}")
    return int(value) if whole else value


def read_settings(vocab_size: int, context: int) -> tuple[Sampling, int]:
    """(sampling, max new tokens) from the form, each field checked."""
    sampling = Sampling(temperature=read_number("temperature", "Temperature", False, 0, 5),
                        top_k=read_number("top-k", "Top-k", True, 0, vocab_size),
                        top_p=read_number("top-p", "Top-p", False, 0, 1, low_open=True),
                        seed=read_number("seed", "Seed", True, 0, 2**63 - 1))
    return sampling, read_number("max-tokens", "Max new tokens", True, 1, context)


class Transcript:
    """One turn in #output: the user's text, then the answer streamed in as it comes."""

    def __init__(self, text: str, mode: str, assistant: str, fresh: bool):
        out = element("output")
        if fresh:
            out.replaceChildren()
        turn = js.document.createElement("div")
        turn.className = "turn"
        label = js.document.createElement("b")
        label.textContent = "" if mode == "completion" else "You: "
        turn.append(label, js.document.createTextNode(text + ("" if mode == "completion" else "\n")))
        if mode != "completion":
            answer_label = js.document.createElement("b")
            answer_label.textContent = f"{assistant}: "
            turn.append(answer_label)
        self.answer = js.document.createTextNode("")
        turn.append(self.answer)
        out.append(turn)

    def append(self, text: str):
        self.answer.appendData(text)
