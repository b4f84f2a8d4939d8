"""Chat prompts from the GGUF's own `tokenizer.chat_template`, rendered by Jinja2 as Hugging Face
renders it (a sandboxed environment, trim_blocks and lstrip_blocks, `raise_exception`,
`strftime_now`, bos/eos tokens). The page has Jinja2 and MarkupSafe from wheels the server hands
it (pyapp/server/assets.py). A template that is missing or fails to render gives a plain
"Role: text" prompt, and the failure is said (ChatTemplateError carries the fallback).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache


class ChatTemplateError(ValueError):
    """The model's chat template did not render; `fallback` is the plain prompt used instead."""

    def __init__(self, message: str, fallback: str):
        super().__init__(message)
        self.fallback = fallback


def plain(messages: list[dict], add_generation_prompt: bool = True) -> str:
    text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
    return text + ("Assistant:" if add_generation_prompt else "")


def _raise(message):
    raise ValueError(f"the template says: {message}")


@lru_cache(maxsize=8)
def _compiled(template: str):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render(template: str, messages: list[dict], add_generation_prompt: bool = True, bos_token: str = "",
           eos_token: str = "") -> str:
    """The prompt text for messages [{role, content}], as the model's template renders it."""
    if not template:
        return plain(messages, add_generation_prompt)
    try:
        return _compiled(template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                          bos_token=bos_token, eos_token=eos_token)
    except Exception as e:  # a template is code from the file: any of its errors is the template's
        raise ChatTemplateError(f"the model's chat template does not render ({type(e).__name__}: {e}); "
                                "a plain Role: text prompt is used instead", plain(messages, add_generation_prompt)) from None


def prompt(tok, messages: list[dict]) -> tuple[str, str]:
    """(the prompt text, a warning or "") for a tokenizer's model: its template, or the plain
    prompt when it has none or the template fails (the warning says why)."""
    bos = tok.tokens[tok.bos_id] if tok.bos_id is not None else ""
    eos = tok.tokens[tok.eos_id] if tok.eos_id is not None else ""
    try:
        return render(tok.chat_template, messages, bos_token=bos, eos_token=eos), ""
    except ChatTemplateError as e:
        return e.fallback, str(e)


def default_system(tok) -> str:
    """The system prompt the model's template writes when the chat has none ("" if it writes
    none): the text found where a system message's content would go."""
    mark_s, mark_u = "\ue000", "\ue001"  # private-use characters no template writes itself
    try:
        with_system, _ = prompt(tok, [{"role": "system", "content": mark_s}, {"role": "user", "content": mark_u}])
        without, _ = prompt(tok, [{"role": "user", "content": mark_u}])
    except Exception:  # a template that refuses a system message has no default to show
        return ""
    before, sep, after = with_system.partition(mark_s)
    if not sep or not before or not without.startswith(before):
        return ""
    end = after.split(mark_u)[0]  # what follows the system content, up to the question
    rest = without[len(before):]
    cut = rest.find(end) if end else -1
    return rest[:cut].strip() if cut > 0 else ""
