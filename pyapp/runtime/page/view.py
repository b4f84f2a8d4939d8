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
    """A settings field that does not hold what it should, named as the page labels it; `field` is its id."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def read_number(id_: str, label: str, whole: bool, lo: float | None = None, hi: float | None = None,
                low_open: bool = False, optional: bool = False):
    """The field's number (an empty field gives None if `optional`, else its default), or
    SettingsError naming the field."""
    field = element(id_)
    raw = str(field.value).strip()
    if not raw and optional:
        return None
    raw = raw or str(field.defaultValue)
    kind = "a whole number" if whole else "a number"
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{label} must be {kind}, got {raw!r}", id_) from None
    if not math.isfinite(value) or (whole and value != int(value)):
        raise SettingsError(f"{label} must be {'a finite number' if not whole else kind}, got {raw!r}", id_)
    if (lo is not None and (value < lo or (low_open and value == lo))) or (hi is not None and value > hi):
        low = f"{'above' if low_open else 'at least'} {lo:g}"
        bounds = low if hi is None else f"{low} and at most {hi:g}" if low_open else f"within {lo:g}..{hi:g}"
        raise SettingsError(f"{label} must be {bounds}, got {raw!r}", id_)
    return int(value) if whole else value


def read_settings(vocab_size: int, context: int) -> tuple[Sampling, int]:
    """(sampling, max new tokens) from the form, each field checked; every bad field is marked
    next to itself (aria-invalid, its message) and the first one gets the focus."""
    fields = [("temperature", lambda: read_number("temperature", "Temperature", False, 0, 5)),
              ("top_k", lambda: read_number("top-k", "Top-k", True, 0, vocab_size)),
              ("top_p", lambda: read_number("top-p", "Top-p", False, 0, 1, low_open=True)),
              ("min_p", lambda: read_number("min-p", "Min-p", False, 0, 1)),
              ("repeat_penalty", lambda: read_number("repeat-penalty", "Repeat penalty", False, 0, 10, low_open=True)),
              ("repeat_last_n", lambda: read_number("repeat-last-n", "Repeat window", True, 0, context)),
              # an empty seed: the model draws one and reports it (Generation.seed)
              ("seed", lambda: read_number("seed", "Seed", True, 0, 2**63 - 1, optional=True)),
              ("max_new", lambda: read_number("max-tokens", "Max new tokens", True, 1, context))]
    values, errors = {}, []
    for name, read in fields:
        try:
            values[name] = read()
        except SettingsError as e:
            errors.append(e)
    for input_ in js.document.querySelectorAll("#settings input"):
        mark_field(str(input_.id), next((str(e) for e in errors if e.field == input_.id), ""))
    if errors:
        element(errors[0].field).focus()
        raise errors[0]
    max_new = values.pop("max_new")
    return Sampling(**values), max_new


def mark_field(id_: str, message: str):
    """A field's error next to it (and aria-invalid), or none."""
    field, note = element(id_), element(f"{id_}-error")
    if message:
        field.setAttribute("aria-invalid", "true")
        field.setAttribute("aria-describedby", f"{id_}-error")
    else:
        field.removeAttribute("aria-invalid")
    if note is not None:
        note.textContent = message


def show_tab(name: str):
    """The chat or the models-and-settings panel."""
    for tab, panel in (("chat", "chat-panel"), ("models", "models-panel")):
        element(f"tab-{tab}").setAttribute("aria-selected", "true" if tab == name else "false")
        element(panel).hidden = tab != name


def show_open_error(message: str, code: str):
    """A model that did not open: said beside the open form, which comes into view."""
    box = element("open-error")
    box.textContent = message
    box.hidden = False
    set_status("The model did not open: see Models.")
    set_state("error", code)
    show_tab("models")


def clear_open_error():
    element("open-error").hidden = True
    element("open-error").textContent = ""
    js.document.body.removeAttribute("data-error")


def show_model(model, rate: float = 0.0, from_store: bool = False):
    """The model line: what a person cares about (name, size, context, speed, where it came from)."""
    mem = model.gpu_memory()
    parts = [model.cfg.title, f"{(mem['weights'] + mem['kv_cache'] + mem['activations']) / 1e6:,.0f} MB on the GPU "
             f"(weights {mem['weights'] / 1e6:,.0f}, KV cache {mem['kv_cache'] / 1e6:,.0f}, "
             f"activations {mem['activations'] / 1e6:,.0f})", f"context {model.cmax:,} tokens"]
    if rate:
        parts.append(f"{rate:.1f} tokens/s")
    parts.append("kept by this browser" if from_store else "downloaded")
    element("model-name").textContent = " · ".join(parts)
    element("app").hidden = False


def show_chat_list(chats: list[dict], current: str):
    """Past chats, the latest first: a button each (data-id; history.py listens on the list)."""
    items = []
    for c in chats:
        item = js.document.createElement("li")
        if c["id"] == current:
            item.className = "current"
        button = js.document.createElement("button")
        button.type = "button"
        button.dataset.id = c["id"]
        button.textContent = c.get("title") or "(untitled)"
        item.append(button)
        items.append(item)
    if not items:
        empty = js.document.createElement("li")
        empty.className = "muted"
        empty.textContent = "No kept chats yet."
        items.append(empty)
    element("chat-list").replaceChildren(*items)


def show_known_models(known, hosted: bool):
    """Models known to run: name, size, what for, a link to the file and an Open button that
    tries this site's models/ folder; and the next step on a site that serves none."""
    rows = []
    for k in known:
        link = js.document.createElement("a")
        link.href = f"https://huggingface.co/{k.repo}"
        link.rel = "noopener noreferrer"
        link.target = "_blank"
        link.textContent = k.file
        open_ = js.document.createElement("button")
        open_.type = "button"
        open_.dataset.file = k.file
        open_.textContent = "Open"
        cell = js.document.createElement("span")
        cell.append(link, js.document.createTextNode(" "), open_)
        rows.append((k.name, f"{k.size_mb} MB", k.good_for, cell))
    fill_table(element("known-models"), rows, header=("model", "size", "good for", "file"))
    element("known-next").textContent = (
        "Open tries the file in this site's models/ folder (a static site's, from pyapp.build). " +
        ("" if hosted else "This site serves no model of its own: download a file from its link, then pick it "
                           "above or drop it on the page. ") +
        "To serve your models to a page on another site: python -m pyapp.serve --cors --mount models=DIR "
        "(then open http://that-host:8000/files/models/FILE.gguf).")
