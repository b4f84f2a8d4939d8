"""A GGUF's greedy golden from the numpy reference, and a bundle's run on the native host
(wgpu-native on SwiftShader) checked against it: for the tests that run the fused path natively
on models they write (tests/test_wide_blocks.py, tests/test_half_tables.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")


def reference_golden(gguf: Path, prompt: list[int], steps: int, out: Path, margin: float) -> dict:
    """The reference's greedy ids and logits after `prompt`, saved to `out`; a top-two margin
    under `margin` anywhere is refused, so that tokens can be compared."""
    from safetensors.numpy import save_file

    from pyapp.reference import Reference

    ids, logits = Reference(gguf).greedy(prompt, steps)
    margins = [float(np.diff(np.sort(step)[-2:])[0]) for step in logits]
    assert min(margins) > margin, f"a near tie in the reference's top two: {margins}"
    golden = {"prompt_ids": np.array(prompt, np.int32), "generated_ids": np.array(ids, np.int32),
              "logits": np.stack(logits).astype(np.float32)}
    save_file(golden, str(out))
    return golden


def check_natively(bundle: Path, golden_file: Path, golden: dict, style: str, *, steps: int, prompt_tokens: int,
                   context: int, tune: tuple[str, ...] = ()):
    """`python -m pyapp.native model` on the fused path: the golden's tokens, and logits within
    1e-4 + 1e-3 of their largest magnitude."""
    env = {**os.environ, "VK_ICD_FILENAMES": str(ICD), "LD_LIBRARY_PATH": str(ICD.parent)}
    r = subprocess.run([sys.executable, "-m", "pyapp.native", "model", str(bundle), "--golden", str(golden_file),
                        "--style", style, "--path", "fused", "--steps", str(steps), "--prompt-tokens",
                        str(prompt_tokens), "--context", str(context), "--json",
                        *(arg for t in tune for arg in ("--tune", t))],
                       env=env, capture_output=True, text=True, timeout=900, cwd=HERE.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    (row,) = json.loads(r.stdout.splitlines()[-1])
    (check,) = row["golden"]
    scale = float(np.abs(golden["logits"]).max())
    assert check["tokens_match"], (style, check)
    assert check["max_abs_logit_err"] <= 1e-4 + 1e-3 * scale, (style, check, scale)
    return row
