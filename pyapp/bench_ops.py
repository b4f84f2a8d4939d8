"""Time each op at SmolLM2's shapes in headless Chromium: `python -m pyapp.bench_ops`.

Prints one row per case: wall clock per step (median, readback included) and GPU time from
timestamp queries (median over steps). On a CPU-only machine (SwiftShader) the absolute numbers
mean little: compare kernel versions side by side, in one run.
"""

from __future__ import annotations

import argparse
import json

from .headless import headless_page
from .serve import Site


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pyapp.bench_ops", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10, help="timed steps per case (default 10)")
    ap.add_argument("--only", help="run cases whose op name contains this text")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    args = ap.parse_args(argv)

    with headless_page(Site()) as page:
        res = page.py("""
            from pyapp.runtime import app, benchmarks
            dev = app.session.device
            RESULT = {"adapter": dev.info, "rows": await benchmarks.run(dev, ARGS["repeat"], ARGS["only"]),
                      "passes": await benchmarks.pass_modes(dev, ARGS["repeat"])}
        """, timeout_ms=600_000, repeat=args.repeat, only=args.only)
    info = res["adapter"]
    print(f"adapter: {info['vendor']} / {info['architecture']}  ({args.repeat} timed steps per case)")
    print(f"{'op':<20} {'case':<30} {'wall ms':>9} {'gpu ms':>9} {'passes':>6}")
    for r in res["rows"]:
        print(f"{r['op']:<20} {r['shape']:<30} {r['wall_ms']:>9.2f} {r['gpu_ms']:>9.2f} {r['dispatches']:>6}")
    p = res["passes"]
    print(f"sdpa decode, profiling off: {p['pass_per_dispatch']:.2f} ms with a pass per dispatch, "
          f"{p['single_pass']:.2f} ms in one pass")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
