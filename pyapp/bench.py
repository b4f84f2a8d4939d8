"""Run the model in headless Chromium from the command line: `python -m pyapp.bench`.

Boots the page as `pyapp.serve` serves it, generates from --prompt, and prints the prompt and
generated token ids, the text, load time, prefill and decode tokens/s and (with --profile)
per-kernel GPU time of the decode. --report runs the in-page model benchmark instead
(pyapp/runtime/bench/model_bench.py, the same one a DevTools driver runs on a GPU machine): the fused
path and the ExecuTorch-op graph side by side, prefill of a long prompt, decode at longer
contexts. --json adds one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .export import ExportError, default_model, export
from .headless import headless_page
from .runtime.gpu.profiler import KernelTally, format_table
from .runtime.model.sampling import Sampling
from .serve import Site


def parse(argv):
    ap = argparse.ArgumentParser(prog="python -m pyapp.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="a llama-family GGUF (default: SmolLM2-135M-Instruct Q4_1)")
    ap.add_argument("--prompt", default="The capital of France is", help="the prompt text")
    ap.add_argument("--completion", action="store_true",
                    help="continue the prompt as plain text (default: a chat turn in the model's own template)")
    ap.add_argument("--max-new-tokens", type=int, default=32, help="tokens to generate (default 32)")
    ap.add_argument("--greedy", action="store_true", help="greedy decoding (default: sample, on the GPU)")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--top-k", type=int, default=40, help="0 = no limit")
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--min-p", type=float, default=0.0)
    ap.add_argument("--repeat-penalty", type=float, default=1.1)
    ap.add_argument("--repeat-last-n", type=int, default=64, help="tokens the penalties look back over")
    ap.add_argument("--frequency-penalty", type=float, default=0.0)
    ap.add_argument("--presence-penalty", type=float, default=0.0)
    ap.add_argument("--logit-bias", action="append", default=[], metavar="ID=BIAS",
                    help="add BIAS to token ID's logit (-inf bans it); repeatable")
    ap.add_argument("--seed", type=int, help="the sampler's seed (default: a random one, printed)")
    ap.add_argument("--path", choices=("fused", "ops"),
                    help="the model's fused kernels or the ExecuTorch-op graph (default: fused on GPUs, ops on CPU Vulkan)")
    ap.add_argument("--kernel-style", choices=("lanes", "workgroups", "subgroups"),
                    help="how kernels reduce (default: the adapter's; see docs/design.md)")
    ap.add_argument("--profile", action="store_true", help="GPU timestamps per dispatch; per-kernel totals")
    ap.add_argument("--report", action="store_true", help="the model benchmark (both paths, prefill, contexts)")
    ap.add_argument("--steps", type=int, default=16, help="--report: decode steps per run (default 16)")
    ap.add_argument("--ctx", type=int, action="append", default=[], help="--report: also decode after this many tokens")
    ap.add_argument("--prefill", type=int, default=64, help="--report: prefill prompt length (default 64)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = ap.parse_args(argv)
    if args.max_new_tokens < 1:
        ap.error("--max-new-tokens must be at least 1")
    try:
        args.logit_bias = {int(i): float(b) for i, b in (item.split("=", 1) for item in args.logit_bias)}
    except ValueError:
        ap.error(f"--logit-bias takes ID=BIAS (e.g. 2=-inf), got {args.logit_bias}")
    try:
        args.sampling = sampling(args)
    except ValueError as e:
        ap.error(str(e))
    return args


def sampling(args) -> dict:
    """The Sampling fields the flags give (checked here, built again in the page)."""
    fields = {"temperature": 0.0} if args.greedy else {
        "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "min_p": args.min_p,
        "repeat_penalty": args.repeat_penalty, "repeat_last_n": args.repeat_last_n,
        "frequency_penalty": args.frequency_penalty, "presence_penalty": args.presence_penalty,
        "logit_bias": args.logit_bias, "seed": args.seed}
    Sampling(**fields)
    return fields


# The prompt's ids come from the page's own ChatSession, so the CLI and the page cannot differ:
# a completion gets a BOS when the GGUF asks for one, a chat turn its template's own.
RUN = """
from pyapp.runtime.model.model import Model
from pyapp.runtime.model.sampling import Sampling
from pyapp.runtime.page import app
from pyapp.runtime.page.session import ChatSession
m = app.page.model
fused = m.fused if ARGS["path"] is None else ARGS["path"] == "fused"
style = ARGS["kernel_style"] or m.kernel_style
if (fused, style) != (m.fused, m.kernel_style):  # the other path or style over the same weights
    m = Model(m.device, m.cfg, m.weights, m.tok, max_context=m.cmax, profile=m.profile, kernel_style=style,
              fused=fused)
    await m.prepare()
try:  # what the user gave (text the vocabulary cannot encode, a prompt past the context) is said in one line
    ids = ChatSession(m).prompt_ids(ARGS["prompt"], "completion" if ARGS["completion"] else "chat",
                                    ARGS["max_new_tokens"])
    fields = ARGS["sampling"]
    fields["logit_bias"] = {int(i): b for i, b in fields.get("logit_bias", {}).items()}  # JSON gave strings
    g = await m.generate(ids, Sampling(**fields), ARGS["max_new_tokens"])
except ValueError as e:
    RESULT = {"error": str(e)}
else:
    RESULT = {"prompt_ids": ids, "generated_ids": g.generated_ids, "path": "fused" if m.fused else "ops",
              "kernel_style": m.kernel_style, "text": m.tok.decode(g.generated_ids, skip_control=True),
              "load_s": app.page.load_s, "prefill_tokens_per_s": g.prefill_tokens_per_s,
              "decode_tokens_per_s": g.decode_tokens_per_s, "stop_reason": g.stop_reason, "kernels": g.kernels,
              "adapter": app.page.device.info, "seed": g.seed,
              "readback_bytes_per_token": g.decode_read_bytes / max(len(g.generated_ids) - 1, 1),
              "dispatches_per_token": len(m.decode_graph.dispatches)}
"""


REPORT = """
from pyapp.runtime.bench import model_bench
RESULT = await model_bench.page_report(ARGS)
"""


def print_report(r: dict):
    print(f"adapter:   {r['adapter']['vendor']} / {r['adapter']['architecture'] or r['adapter']['description']}"
          f"  ({r['kernel_style']} kernels)")
    file_bytes = r.get("weights_file_bytes") or 0
    print(f"GPU memory: weights {r['weights_gpu_bytes'] / 1e6:,.1f} MB"
          + (f" (the GGUF's tensors: {file_bytes / 1e6:,.1f} MB, x{r['weights_gpu_bytes'] / file_bytes:.2f})" if file_bytes else "")
          + f", KV cache {r['kv_cache_bytes'] / 1e6:,.1f} MB, activations {r['activation_bytes'] / 1e6:,.1f} MB")
    rows = [("fused path", r.get("decode"), r.get("prefill"), r["dispatches"])]
    if "ops_decode" in r:
        rows.append(("ExecuTorch ops", r["ops_decode"], r.get("ops_prefill"), r["ops_dispatches"]))
    print(f"{'path':<16} {'dispatches':>10} {'decode tok/s':>13} {'host ms/submit':>15} {'prefill tok/s':>14}")
    for name, dec, pre, n in rows:
        print(f"{name:<16} {n:>10} {dec['tok_s']:>13.2f} {dec['host_ms_per_submit']:>15.2f} "
              f"{pre['tok_s'] if pre else 0:>14.2f}")
    for key, label in (("sampled_decode", "T 0.7, top-k 40, top-p 0.95, repeat 1.1/64"),
                       ("sampled_decode_top_p", "T 0.7, top-k 0, top-p 0.9")):
        if key in r:
            print(f"sampled ({label}): {r[key]['tok_s']:.2f} tok/s, {r[key]['vs_greedy']:.0%} of greedy, "
                  f"{r[key]['readback_bytes_per_token']:.1f} bytes read back a token "
                  f"(greedy {r['decode']['readback_bytes_per_token']:.1f})")
    for key in sorted(k for k in r if k.startswith("ctx")):
        print(f"decode after {key[3:]} tokens: {r[key]['tok_s']:.2f} tok/s")
    if r.get("kernels"):
        print(format_table(KernelTally.of(r["kernels"]).stats()))


def main(argv=None):
    args = parse(argv)
    try:
        bundle = export(args.model or default_model())
    except (ExportError, FileNotFoundError) as e:
        sys.exit(f"pyapp.bench: {e}")
    site = Site(mounts={"model": bundle}, config={"model": "/files/model/"})
    with headless_page(site, "/?profile=1" if args.profile else "/") as page:
        if args.report:
            r = page.py(REPORT, timeout_ms=3_600_000, steps=args.steps, ctx=args.ctx, prefill=args.prefill)
            print_report(r)
            if args.json:
                print(json.dumps(r))
            return
        r = page.py(RUN, timeout_ms=3_600_000, **{k: v for k, v in vars(args).items() if k not in ("model", "json")})
    if "error" in r:
        sys.exit(f"pyapp.bench: {r['error']}")
    info = r["adapter"]
    print(f"adapter:        {info['vendor']} / {info['architecture']}  ({r['path']} path, {r['kernel_style']} kernels)")
    print(f"prompt ids:     {r['prompt_ids']}")
    print(f"generated ids:  {r['generated_ids']}")
    print(f"text:           {r['text']!r}")
    print(f"load:           {r['load_s']:.2f} s (download, upload, {r['dispatches_per_token']} dispatches/token built)")
    print(f"prefill:        {r['prefill_tokens_per_s']:.2f} tokens/s ({len(r['prompt_ids'])} tokens)")
    print(f"decode:         {r['decode_tokens_per_s']:.2f} tokens/s ({len(r['generated_ids'])} tokens, "
          f"stopped: {r['stop_reason']})")
    sampled = "greedy (the argmax)" if r["seed"] is None else f"sampled on the GPU, seed {r['seed']}"
    print(f"sampling:       {sampled}, {r['readback_bytes_per_token']:.1f} bytes read back a token")
    if r["kernels"]:
        print(format_table(KernelTally.of(r["kernels"]).stats()))
    if args.json:
        r["kernels"] = {k: {"count": c, "total_ns": t} for k, (c, t) in r["kernels"].items()}
        print(json.dumps(r))


if __name__ == "__main__":
    main()
