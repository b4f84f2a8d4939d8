"""Time each op at SmolLM2's shapes in headless Chromium: `python -m pyapp.bench_ops`.

Prints one row per case: wall clock per step (median, readback included) and GPU time from
timestamp queries (median over steps). On a CPU-only machine (SwiftShader) the absolute numbers
mean little: compare kernel versions side by side, in one run. `python -m pyapp.native bench`
runs the same cases on a real GPU through wgpu.
"""

from __future__ import annotations

import argparse
import json



def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pyapp.bench_ops", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10, help="timed steps per case (default 10)")
    ap.add_argument("--only", help="run cases whose op name contains this text")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    args = ap.parse_args(argv)
    from .headless import headless_page
    from .runtime.bench.op_bench import print_table
    from .serve import Site

    with headless_page(Site()) as page:
        res = page.py("""
            from pyapp.runtime.page import app
            from pyapp.runtime.bench import op_bench
            dev = app.page.device
            RESULT = {"adapter": dev.info, "rows": await op_bench.run(dev, ARGS["repeat"], ARGS["only"]),
                      "passes": await op_bench.pass_modes(dev, ARGS["repeat"])}
        """, timeout_ms=600_000, repeat=args.repeat, only=args.only)
    print_table(res["adapter"], res["rows"], res["passes"], args.repeat)
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
