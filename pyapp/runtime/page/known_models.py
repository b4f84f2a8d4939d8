"""Models known to run in the page: a short list with sizes and what each is good for.

Each names its GGUF on Hugging Face (a link the person follows: the page fetches nothing from
other hosts on its own). Where this site serves models under `models/` (`pyapp.serve --mount
models=DIR`, or a static site with a models/ folder), a row's Open button tries that file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    name: str
    file: str        # the GGUF's file name, as its repository names it
    repo: str        # huggingface.co/<repo>
    size_mb: int     # the file, about
    good_for: str


KNOWN = (
    Known("SmolLM2 135M Instruct", "SmolLM2-135M-Instruct-Q8_0.gguf", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", 145,
          "the quickest to try: short answers, simple questions"),
    Known("SmolLM2 360M Instruct", "SmolLM2-360M-Instruct-Q8_0.gguf", "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF", 386,
          "a little more knowledge, still fast on any GPU"),
    Known("Qwen2.5 0.5B Instruct", "qwen2.5-0.5b-instruct-q4_k_m.gguf", "Qwen/Qwen2.5-0.5B-Instruct-GGUF", 491,
          "many languages, short code"),
    Known("Qwen3 0.6B", "Qwen3-0.6B-Q8_0.gguf", "Qwen/Qwen3-0.6B-GGUF", 639, "reasons before it answers"),
    Known("Llama 3.2 1B Instruct", "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "bartowski/Llama-3.2-1B-Instruct-GGUF", 808,
          "the best answers of these; needs a real GPU"),
)
