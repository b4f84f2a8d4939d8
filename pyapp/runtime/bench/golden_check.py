"""Model goldens checked inside the page, one kernel variant after another: the check behind the
GPU-only paths (the prefill on subgroup matrices runs only where Chrome offers them, never on this
project's CI), run by any driver: the DevTools driver on a lent GPU machine (its GEN_FILE awaits
`report`) and tests_e2e/test_golden_check.py on SwiftShader.

A golden is a safetensors file of prompt_ids, generated_ids and logits (fp64 greedy decoding by
pyapp.reference, tests_e2e/make_goldens.py), read by the bundle's reader (page/bundle.py); its
model is a GGUF served beside it, or the page's own.
"""

from __future__ import annotations

from array import array

from ..model.model import Model
from ..model.sampling import Sampling

TYPECODES = {"i32": "i", "f32": "f"}


async def fetch_golden(url: str) -> dict[str, array]:
    """The golden's tensors (int32 and f32 only), flat, through the bundle's safetensors reader."""
    from ..page.bundle import fetch_file

    out = {}
    for name, t in (await fetch_file(url)).tensors.items():
        if t.dtype not in TYPECODES:
            raise ValueError(f"golden {url}: tensor {name} is {t.dtype} (want i32 or f32)")
        out[name] = array(TYPECODES[t.dtype], t.view.to_bytes())
    return out


async def check(model: Model, golden: dict[str, array]) -> dict:
    """Greedy decoding of the golden's prompt: whether the tokens match, and the largest logit
    error relative to the golden's largest logit (each step's logits read back)."""
    want = list(golden["generated_ids"])
    ref = golden["logits"]
    vocab = len(ref) // len(want)
    g = await model.generate(list(golden["prompt_ids"]), Sampling(), len(want), record_logits=True, stop_at_eos=False)
    worst = 0.0
    for i, raw in enumerate(g.logits):
        got = array("f", bytes(raw))
        worst = max(worst, max(abs(x - y) for x, y in zip(got, ref[i * vocab:(i + 1) * vocab])))
    return {"tokens_match": g.generated_ids == want, "got": g.generated_ids, "want": want,
            "rel_err": worst / max(max(abs(v) for v in ref), 1e-30)}


def kernels(model: Model) -> list[str]:
    """The prefill graph's kernels as kernel[variant]."""
    return sorted({f"{d.kernel}[{d.variant}]" if d.variant else d.kernel for d in model.prefill_graph.dispatches})


async def report(args: dict) -> dict:
    """args: models, {name: {"golden": URL, "gguf": URL, or "" for the page's own model}}; variants,
    {label: {constant: value}} (ops/tuning.py; default {"as is": {}}). Per model and variant: the
    check, the prefill's kernels, and matrix_error where the device refused subgroup matrices."""
    from ..ops.tuning import tuned
    from ..page import app

    page = app.page.model
    device = page.device
    variants = args.get("variants") or {"as is": {}}
    out = {}
    for name, spec in args["models"].items():
        base = page
        if spec.get("gguf"):
            from ..page import blob
            from ..page.fetch import fetch_blob

            base = (await blob.open_model(device, await fetch_blob(spec["gguf"]), name)).model
        golden = await fetch_golden(spec["golden"])
        context = len(golden["prompt_ids"]) + len(golden["generated_ids"]) + 8
        rows = out[name] = {}
        for label, settings in variants.items():
            with tuned(settings):
                m = Model(device, base.cfg, base.weights, base.tok, max_context=context)
            await m.prepare()
            try:
                rows[label] = {**await check(m, golden), "kernels": kernels(m), "matrix_error": m.matrix_error}
            finally:
                m.close(weights=False)
        if base is not page:
            base.close()
    return out
