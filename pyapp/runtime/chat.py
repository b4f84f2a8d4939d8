"""Chat prompts. Pyodide has no Jinja offline, so the GGUF's chat template is recognized,
not executed: ChatML (<|im_start|>role ... <|im_end|>), SmolLM2's, with the default system
message taken from the template text. Other templates fall back to plain "Role: text" lines.
"""

from __future__ import annotations

import re

DEFAULT_SYSTEM = re.compile(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", re.S)


def is_chatml(template: str) -> bool:
    return "<|im_start|>" in template and "<|im_end|>" in template


def default_system(template: str) -> str | None:
    m = DEFAULT_SYSTEM.search(template)
    return m.group(1) if m else None


def render(template: str, messages: list[dict], add_generation_prompt: bool = True) -> str:
    """The prompt text for messages [{role, content}], as the model's template would render it."""
    if not is_chatml(template):
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        return text + ("Assistant:" if add_generation_prompt else "")
    system = default_system(template)
    if system is not None and messages and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}, *messages]
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")
