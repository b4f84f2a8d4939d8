"""Sampled generation in the page against the host: pyapp.reference's logits (numpy fp64) fed to
the sampler's reference (pyapp/sampling_reference.py, the same chain and Philox stream), on
the tiny GGUFs in every kernel style and on both paths, and on SmolLM2, for several seeds and
settings.

The GPU's logits differ from the reference's by up to ~5e-5 (the house tolerance is 1e-4 or
1e-3 relative), so a token is compared only where the reference's draw is safe from a change
of 1e-3 (in a logit gap, a cumulative mass, a log-probability, or r against the running sums
relative to their total). The reference runs the page's tokens, so a step too close to call
is skipped without ending the comparison; the test counts those steps and requires few.
"""

import pytest

from conftest import HERE
from pyapp import sampling_reference as ref
from pyapp.reference import Reference
from pyapp.runtime.model.sampling import Sampling

TOL = 1e-3
N = 12
SETTINGS = [
    dict(temperature=0.7, top_k=40, top_p=0.95, repeat_penalty=1.1, repeat_last_n=64, seed=1),
    dict(temperature=1.0, top_k=0, top_p=0.9, seed=2 ** 33 + 5),
    dict(temperature=1.2, top_k=0, min_p=0.05, frequency_penalty=0.4, presence_penalty=0.3, repeat_last_n=8, seed=77),
    dict(temperature=0.9, top_k=5, logit_bias={3: -float("inf"), 5: 1.5}, seed=12345),
]
PROMPT = [1, 7, 3, 11, 5, 9, 2]

_refs: dict = {}


def reference_draws(gguf, settings: dict, prompt: list[int], got: list[int]) -> list:
    """The reference's draw at each step of the page's sequence `got` (the reference runs the
    page's tokens, so one step too close to call does not end the comparison): [(token, safe)]."""
    r = _refs.get(gguf) or _refs.setdefault(gguf, Reference(gguf, max_context=64))
    s = Sampling(**settings)
    r.reset()
    logits = r.forward(prompt)[-1]
    history, out = list(prompt), []
    for token in got:
        out.append(ref.draw(logits, s, s.seed, len(history) - 1, history, TOL))
        history.append(token)
        logits = r.forward([token])[-1]
    return out


def run_sampled(page, tiny, style, fused):
    return page.py("""
        from pyapp.runtime.page import app, bundle
        from pyapp.runtime.model.sampling import Sampling
        m = (await bundle.open_model(app.page.device, f"/files/tiny_{ARGS['tiny']}/", kernel_style=ARGS["style"],
                                     fused=ARGS["fused"])).model
        out = []
        for d in ARGS["settings"]:
            if "logit_bias" in d:
                d["logit_bias"] = {int(k): v for k, v in d["logit_bias"].items()}
            s = Sampling(**d)
            g = await m.generate(ARGS["ids"], s, ARGS["n"], stop_at_eos=False)
            one = await m.generate(ARGS["ids"], s, ARGS["n"], stop_at_eos=False, record_logits=True)
            seen = []
            async def on_token(t):
                seen.append(t)
            part = await m.generate(ARGS["ids"], s, ARGS["n"], on_token, should_stop=lambda: len(seen) >= 4,
                                    stop_at_eos=False)
            rest = await m.generate(ARGS["ids"] + part.generated_ids, s, ARGS["n"] - 4, stop_at_eos=False,
                                    reuse_cache=True)
            # the prompt in chunks of 3 rows through the prefill graph (the timed chunks' size
            # depends on the machine's load; this one does not)
            kept = m.chunks.target_s, m.chunks.rows_max
            m.chunks.target_s, m.chunks.rows_max = None, 3
            chunked = await m.generate(ARGS["ids"], s, ARGS["n"], stop_at_eos=False)
            m.chunks.target_s, m.chunks.rows_max = kept
            out.append({"ids": g.generated_ids, "one_step": one.generated_ids, "seed": g.seed,
                        "resumed": part.generated_ids + rest.generated_ids, "reused": rest.reused_tokens,
                        "chunked": chunked.generated_ids,
                        "submits": g.submits})
        free = await m.generate(ARGS["ids"], Sampling(temperature=1.0), 3, stop_at_eos=False)
        RESULT = {"runs": out, "fused": m.fused, "random_seed": free.seed}
    """, tiny=tiny, style=style, fused=fused, ids=PROMPT, n=N, settings=SETTINGS)  # JSON: bias ids as strings


@pytest.mark.parametrize("tiny", ["mixed", "qwen3"])
@pytest.mark.parametrize("style, fused", [("lanes", True), ("subgroups", True), ("workgroups", True),
                                          ("workgroups", False), ("lanes", False)])
def test_sampled_tokens_equal_the_reference(tiny_mounted, tiny, style, fused):
    r = run_sampled(tiny_mounted, tiny, style, fused)
    assert r["fused"] == fused and isinstance(r["random_seed"], int)
    counted = [0, 0]  # compared, skipped
    for d, run in zip(SETTINGS, r["runs"]):
        assert run["seed"] == d["seed"] and len(run["ids"]) == N
        check(HERE / "goldens" / f"tiny_{tiny}.gguf", d, PROMPT, run["ids"], counted)
        # the same stream one step per submit, with the prompt in chunks, and across a stop and
        # a resume from the cache
        assert run["one_step"] == run["ids"], run
        assert run["chunked"] == run["ids"], run
        assert run["resumed"] == run["ids"], run
        assert run["reused"] == len(PROMPT) + 3
        if fused:
            assert run["submits"] < N - 1, "sampled decode steps were not batched"
    compared, skipped = counted
    assert skipped <= 0.1 * (compared + skipped), f"{skipped} of {compared + skipped} draws too close to call"


def check(gguf, settings: dict, prompt: list[int], ids: list[int], counted: list):
    for step, (got, (want, safe)) in enumerate(zip(ids, reference_draws(gguf, settings, prompt, ids))):
        if safe:
            assert got == want, f"{settings}: step {step}: got {got}, want {want} ({ids})"
        counted[0] += safe
        counted[1] += not safe


def test_smollm2_samples_as_the_reference(model_app):
    """SmolLM2 in the page (its default path here) against the reference on the same GGUF."""
    from pyapp.export import default_model

    prompt = [1, 504, 3575, 282, 4649, 314]  # "The capital of France is"
    settings = [dict(temperature=0.7, top_k=40, top_p=0.95, repeat_penalty=1.1, repeat_last_n=64, seed=s)
                for s in (3, 4)] + [dict(temperature=1.0, top_k=0, min_p=0.05, seed=5)]
    runs = model_app.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.model.sampling import Sampling
        RESULT = [(await app.page.model.generate(ARGS["ids"], Sampling(**d), 10, stop_at_eos=False)).generated_ids
                  for d in ARGS["settings"]]
    """, ids=prompt, settings=settings)
    counted = [0, 0]
    for d, ids in zip(settings, runs):
        check(default_model(), d, prompt, ids, counted)
    assert counted[1] <= 0.1 * sum(counted), f"{counted[1]} of {sum(counted)} draws too close to call"
