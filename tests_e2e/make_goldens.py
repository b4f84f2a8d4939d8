"""Write the e2e goldens: inputs and expected outputs, computed on the host ahead of time.

    python tests_e2e/make_goldens.py            # all goldens
    python tests_e2e/make_goldens.py --only infra

numpy fp64 is the reference for the infrastructure kernels. Files are safetensors (see
goldens/README.md); the tests only read them. Seeds are fixed, so a rerun is reproducible.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parent / "goldens"


def save(name: str, tensors: dict, **meta):
    OUT.mkdir(exist_ok=True)
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    save_file(tensors, str(OUT / f"{name}.safetensors"), metadata={k: str(v) for k, v in meta.items()})
    print(f"wrote {name}.safetensors ({sum(v.nbytes for v in tensors.values()) / 1e6:.2f} MB)")


def axpb(x, scale, pos, times=1):
    y = x.astype(np.float64)
    for _ in range(times):
        y = y * scale + pos
    return y.astype(np.float32)


def infra():
    rng = np.random.default_rng(2)
    scale = 2.5
    x = rng.standard_normal(1009).astype(np.float32)  # prime length: no multiple-of-64 luck
    save("infra_axpb", {"x": x, "pos0": axpb(x, scale, 0), "pos7": axpb(x, scale, 7),
                        "pos5": axpb(x, scale, 5), "chain4_pos3": axpb(x, scale, 3, times=4)},
         scale=scale)
    big = rng.standard_normal(70001).astype(np.float32)  # one workgroup each: 70001 > 65535
    save("infra_grid", {"x": big, "pos1": axpb(big, scale, 1)}, scale=scale)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["infra"], help="write one family of goldens")
    args = ap.parse_args()
    if args.only in (None, "infra"):
        infra()


if __name__ == "__main__":
    main()
