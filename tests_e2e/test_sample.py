"""The sample op (GPU sampling) on fixed logits against the host reference
(pyapp/sampling_reference.py: numpy fp64, the same chain and Philox stream), in every kernel
style: token for token over many seeds, settings and positions, and in distribution (a
chi-square over >= 100,000 draws on flat and peaked logits, vocabularies 49,152 and 151,936).
"""

import base64
import math

import numpy as np
import pytest

from conftest import decode
from pyapp import sampling_reference as ref
from pyapp.runtime.ops.fused.sample import HIST, pack_settings
from pyapp.runtime.model.sampling import Sampling

STYLES = ["lanes", "subgroups", "workgroups"]
# The GPU's rounding moves a boundary by a relative 1e-5 or so on these logits (ops/fused/sample.py):
# a token is compared only where the reference's margin is wider: 1e-4 at the kept set's
# boundaries, 2e-5 of the sum between r and a running sum (f32 sums of up to ~1,000 terms:
# 6e-8 each, of random sign).
MARGIN, DRAW_MARGIN = 1e-4, 2e-5


def b64(data) -> str:
    return base64.b64encode(bytes(data)).decode()


def run(app, logits, s: Sampling, seed: int, position: int, history=(), draws: int = 1, style: str = "lanes"):
    hist = np.zeros(HIST, np.uint32)
    for p, t in enumerate(history):
        hist[p % HIST] = t
    r = app.py("from sample_cases import run_sample\nRESULT = await run_sample(**ARGS)",
               logits=b64(np.asarray(logits, np.float32).tobytes()), settings=b64(pack_settings(s, len(logits), seed)),
               history=b64(hist.tobytes()), position=position, draws=draws, style=style)
    return decode(r["tokens"], "uint32")[:draws].astype(np.int64), r["s"]


def peaked(v: int, rng) -> np.ndarray:
    """Logits like a model's: a few strong candidates over a long tail."""
    x = rng.normal(0.0, 2.0, v)
    x[rng.choice(v, 8, replace=False)] += rng.uniform(6.0, 12.0, 8)
    return x.astype(np.float32)


def coarse(v: int, rng) -> np.ndarray:
    """Peaked logits on a grid of 0.5: ties everywhere, at the top-k and top-p boundaries too."""
    return np.round(peaked(v, rng) * 2.0) / 2.0


def flat(v: int, rng) -> np.ndarray:
    return rng.uniform(-0.5, 0.5, v).astype(np.float32)


SETTINGS = [
    Sampling(temperature=0.7, top_k=40, top_p=0.95, repeat_penalty=1.1, repeat_last_n=64),
    Sampling(temperature=1.0, top_k=0, top_p=0.9),
    Sampling(temperature=1.3, top_k=1),
    Sampling(temperature=0.8, top_k=0, min_p=0.05),
    Sampling(temperature=1.0, top_k=500, top_p=0.5, min_p=0.01, frequency_penalty=0.3, presence_penalty=0.2,
             repeat_last_n=32, logit_bias={3: -math.inf, 7: 2.5}),
    Sampling(temperature=0.0, repeat_penalty=1.5, repeat_last_n=16),
]


@pytest.mark.parametrize("style", STYLES)
def test_tokens_equal_the_reference(app, style):
    """Many seeds and positions per setting, peaked, tied and flat logits of odd sizes; history
    for the penalties. Each draw is its own submit here (draws=1), as in the model."""
    rng = np.random.default_rng(5)
    compared = skipped = 0
    for v, make in ((1013, peaked), (4099, flat), (8191, coarse), (49152, peaked)):
        logits = make(v, rng)
        history = rng.integers(0, min(v, 64), 80).tolist()
        history[-1] = int(np.argmax(logits))  # the favourite was just said: the penalties matter
        for si, s in enumerate(SETTINGS):
            for seed in (1, 2 ** 40 + 7, 123456789):
                position = len(history) - 1
                got, _ = run(app, logits, s, seed, position, history, style=style)
                want, sure = ref.draw(logits, s, seed, position, history, MARGIN, DRAW_MARGIN)
                if not sure:
                    skipped += 1
                    continue
                compared += 1
                assert int(got[0]) == want, f"V={v} setting {si} seed {seed}: got {got[0]}, want {want}"
    assert compared >= 0.9 * (compared + skipped), f"{skipped} of {compared + skipped} draws too close to call"


def chi_square_critical(df: int, z: float = 4.265) -> float:
    """The chi-square quantile at the normal quantile z (4.265: p = 1e-5), Wilson-Hilferty."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


DISTRIBUTIONS = [
    (49152, peaked, Sampling(temperature=0.7, top_k=40, top_p=0.95, repeat_penalty=1.1, repeat_last_n=64)),
    (49152, flat, Sampling(temperature=1.0, top_k=0, top_p=0.9)),
    (151936, peaked, Sampling(temperature=1.5, top_k=0, top_p=0.995, min_p=0.0002, presence_penalty=0.5)),
    (151936, flat, Sampling(temperature=0.7, top_k=40, top_p=0.95, repeat_penalty=1.1, repeat_last_n=64)),
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("case", range(len(DISTRIBUTIONS)))
def test_draws_follow_the_intended_distribution(app, case, style):
    """100,000 draws (positions 100 .. 100,099, one submit) from fixed logits: never a token
    outside the kept set, and a chi-square against softmax(x / T) over it (x: the logits with
    the penalties applied), bins of >= 20 expected draws, at p = 1e-5."""
    v, make, s = DISTRIBUTIONS[case]
    rng = np.random.default_rng(17 + case)
    logits = make(v, rng)
    history = rng.integers(0, v, 101).tolist()
    history[-3:] = np.argsort(-logits)[:3].tolist()  # the favourites were just said
    n = 100_000
    got, secs = run(app, logits, s, 2024 + case, len(history) - 1, history, draws=n, style=style)
    p = ref.distribution(logits, s, history)
    counts = np.bincount(got, minlength=v)
    assert counts[p == 0].sum() == 0, f"drew tokens outside the kept set: {np.flatnonzero(counts * (p == 0))[:5]}"
    support = np.flatnonzero(p)
    observed, expected, o, e = [], [], 0, 0.0
    for i in support:  # bins of consecutive ids, each with >= 20 expected
        o, e = o + counts[i], e + n * p[i]
        if e >= 20:
            observed.append(o)
            expected.append(e)
            o, e = 0, 0.0
    if e:
        observed[-1] += o
        expected[-1] += e
    stat = float(np.sum((np.array(observed) - expected) ** 2 / np.array(expected)))
    df = len(expected) - 1
    assert df >= 10, f"only {df + 1} bins"
    assert stat < chi_square_critical(df), f"chi-square {stat:.1f} over {df} degrees of freedom ({len(support)} tokens)"
    print(f"V={v} {make.__name__} [{style}]: {len(support)} tokens kept, chi-square {stat:.1f} / df {df}, "
          f"{n} draws in {secs:.2f} s")
