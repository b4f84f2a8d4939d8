"""The model's benchmark, run inside the page by any driver: `python -m pyapp.bench` (Playwright)
here, the DevTools driver on a lent GPU machine (its GEN_FILE calls `report`).

Everything is measured side by side in one run, alternating, so a ratio holds on a noisy
machine: the fused path against the ExecuTorch-op graph over the same weights, greedy decode
against sampled decode (the sampler on the GPU: SAMPLED), decode at short and long context,
prefill of a long prompt, and models of real shapes with random weights (SHAPES:
Qwen2.5-0.5B with its 151,936 vocabulary, Llama-3.2-1B and 3B, Llama-3.1-8B; MIXES: how their
tensors are stored; `shapes_report`); and
(`load_report`) a GGUF opened in the page against its exported bundle.
"""

from __future__ import annotations

import time

from ..model.config import ModelConfig, TensorEntry
from ..model.model import Model
from ..model.sampling import Sampling
from ..model.weights import Weights
from ..ops.formats import GGUF_BLOCKS


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0.0


# sampled decoding as the issue measures it (the chat's settings), and nucleus sampling over the
# whole vocabulary; fixed seeds, so runs repeat
SAMPLED = {"sampled_decode": Sampling(temperature=0.7, top_k=40, top_p=0.95, repeat_penalty=1.1, repeat_last_n=64,
                                      seed=1),
           "sampled_decode_top_p": Sampling(temperature=0.7, top_k=0, top_p=0.9, seed=1)}


async def decode_rate(model: Model, steps: int, ctx: int = 0, repeat: int = 3, sampling: Sampling | None = None) -> dict:
    """Decode tokens/s (greedy unless `sampling`) after a prompt of `ctx` tokens (at least a short one)."""
    s = sampling or Sampling()
    prompt = [(1000 + i * 7) % 20000 % model.tok.vocab_size for i in range(max(ctx, 6))]
    await model.generate(prompt[:6], s, 4, stop_at_eos=False)  # warm up
    runs = [await model.generate(prompt, s, steps, stop_at_eos=False) for _ in range(repeat)]
    best = max(runs, key=lambda g: g.decode_tokens_per_s)
    steps_run = max(len(best.generated_ids) - 1, 1)
    return {"tok_s": _median([g.decode_tokens_per_s for g in runs]), "best_tok_s": best.decode_tokens_per_s,
            "readback_bytes_per_token": best.decode_read_bytes / steps_run,
            "uniform_bytes_per_submit": model.decode_graph.uniform_bytes,
            "prefill_tok_s": _median([g.prefill_tokens_per_s for g in runs]), "tokens": len(best.generated_ids),
            "submits": best.submits, "host_ms_per_submit": 1e3 * best.host_s / max(best.submits, 1),
            "wall_ms_per_token": 1e3 * best.decode_s / steps_run}


async def prefill_rate(model: Model, n: int, repeat: int = 3) -> float:
    prompt = [(1000 + i * 7) % 20000 % model.tok.vocab_size for i in range(n)]
    runs = [await model.generate(prompt, Sampling(), 1, stop_at_eos=False) for _ in range(repeat)]
    return _median([g.prefill_tokens_per_s for g in runs])


SHAPES = {  # name: (layers, width, heads, kv heads, head size, FFN, vocabulary, tied head, Q/K/V biases)
    "qwen_0_5b": ("Qwen2.5-0.5B", 24, 896, 14, 2, 64, 4864, 151936, True, True),
    "llama_1b": ("Llama-3.2-1B", 16, 2048, 32, 8, 64, 8192, 128256, True, False),
    "llama_3b": ("Llama-3.2-3B", 28, 3072, 24, 8, 128, 8192, 128256, True, False),
    "llama_8b": ("Llama-3.1-8B", 32, 4096, 32, 8, 128, 14336, 128256, False, False),
}

# How the shapes' matrices are stored: format and group size per kind of tensor.
# q4_0: Q4_0 matrices, a Q8_0 embedding and head. q4_k_m: as llama.cpp's Q4_K_M mix reads on the
# GPU (Q4_K -> q4gaw in groups of 32; Q6_K -> q8gsw in groups of 16: the head, V and the FFN down).
# q4_k_m_blocks: the same with Q4_K and Q6_K kept as the file's blocks (describe.AS_BLOCKS, the fused path);
# a matrix whose K is no multiple of 256 is Q5_0 in such files (llama.cpp's fallback): q8gsw with
# the file's f16 scales. q4_0_blocks: q4_0 with the file's f16 scales (formats.HALF_TABLES).
MIXES = {
    "q4_0": {"matrix": ("q4gsw", 32), "wide": ("q4gsw", 32), "head": ("q8gsw", 32), "embd": ("q8gsw", 32)},
    "q4_0_blocks": {"matrix": ("q4gsw_f16", 32), "wide": ("q4gsw_f16", 32), "head": ("q8gsw_f16", 32),
                    "embd": ("q8gsw_f16", 32)},
    "q4_k_m": {"matrix": ("q4gaw", 32), "wide": ("q8gsw", 16), "head": ("q8gsw", 16), "embd": ("q4gaw", 32)},
    "q4_k_m_blocks": {"matrix": ("q4k", 32), "wide": ("q6k", 16), "head": ("q6k", 16), "embd": ("q4k", 32)},
}


def shape_config(kind: str, mix: str = "q4_k_m") -> ModelConfig:
    """A model of SHAPES[kind], its tensors stored as MIXES[mix] says."""
    name, layers, dim, heads, kv_heads, hd, ffn, vocab, tied, bias = SHAPES[kind]
    q, kv = heads * hd, kv_heads * hd
    how = MIXES[mix]

    def entry(kind_of: str, shape) -> TensorEntry:
        fmt, gs = how[kind_of]
        if fmt in GGUF_BLOCKS and shape[1] % GGUF_BLOCKS[fmt][0]:
            fmt, gs = "q8gsw_f16", 32
        return TensorEntry(fmt, shape, gs)

    head = "head" if tied else "embd"
    tensors = {"token_embd.weight": entry(head, (vocab, dim)), "output_norm.weight": TensorEntry("f32", (dim,))}
    if not tied:
        tensors["output.weight"] = entry("head", (vocab, dim))
    for i in range(layers):
        p = f"blk.{i}."
        tensors.update({p + "attn_norm.weight": TensorEntry("f32", (dim,)), p + "ffn_norm.weight": TensorEntry("f32", (dim,)),
                        p + "attn_q.weight": entry("matrix", (q, dim)), p + "attn_k.weight": entry("matrix", (kv, dim)),
                        p + "attn_v.weight": entry("wide", (kv, dim)),
                        p + "attn_output.weight": entry("matrix", (dim, q)),
                        p + "ffn_gate.weight": entry("matrix", (ffn, dim)), p + "ffn_up.weight": entry("matrix", (ffn, dim)),
                        p + "ffn_down.weight": entry("wide", (dim, ffn))})
        if bias:
            tensors.update({p + f"attn_{t}.bias": TensorEntry("f32", (n,)) for t, n in (("q", q), ("k", kv), ("v", kv))})
    return ModelConfig(name=f"{name} shapes ({mix}, random weights)", n_layers=layers, dim=dim, n_heads=heads,
                       n_kv_heads=kv_heads, head_dim=hd, ffn_dim=ffn, context_length=131072, rope_theta=500000.0,
                       norm_eps=1e-5, tied_embeddings=tied, tensors=tensors, qkv_bias=bias,
                       arch="qwen2" if bias else "llama")


async def decode_report(model: Model, steps: int, others=()) -> dict:
    """Greedy and sampled decoding (SAMPLED) of one model, and `others` ((key, model) greedy),
    alternating twice; the better run of each, and sampled/greedy ratios."""
    runs = [("decode", model, None), *((k, m, None) for k, m in others),
            *((k, model, s) for k, s in SAMPLED.items())]
    out: dict = {}
    for key, m, s in runs * 2:  # alternating, so that all see the same machine
        r = await decode_rate(m, steps, sampling=s)
        if r["tok_s"] > out.get(key, {}).get("tok_s", 0):
            out[key] = r
    for key in SAMPLED:
        out[key]["vs_greedy"] = out[key]["tok_s"] / out["decode"]["tok_s"] if out["decode"]["tok_s"] else 0.0
    return out


async def shape_model(model: Model, kind: str, max_context: int = 2048, mix: str = "q4_k_m") -> Model:
    """SHAPES[kind] with random weights (Weights.filled) on model's device, prepared (its tokenizer
    borrowed); kind "page" is the page's own model, rebuilt over its weights."""
    if kind == "page":
        big = Model(model.device, model.cfg, model.weights, model.tok, max_context=max_context)
    else:
        cfg = shape_config(kind, mix)
        big = Model(model.device, cfg, Weights.filled(model.device, cfg), model.tok, max_context=max_context)
    await big.prepare()
    return big


async def shapes_report(args: dict) -> dict:
    """Greedy decoding of models of real shapes (args: shapes, SHAPES keys or "page", default
    all; mix, default q4_k_m, or mixes, several side by side; steps, default 64; ctx, decode also after these many tokens; tune,
    {variant: {constant: value}} (ops/tuning.py), the variants' graphs built and measured in turn,
    rounds times (default 2), the better run kept; sampled, also SAMPLED decoding; prefill, also
    the prefill rate of prompts of these many tokens). Per shape and variant: decode tokens/s,
    weights on the GPU and the bandwidth their reads take at that rate."""
    from ..ops.tuning import tuned
    from ..page import app

    page = app.page.model
    variants = args.get("tune") or {"as is": {}}
    context = max([2048, *(n + args.get("steps", 64) + 8 for n in args.get("ctx", ())),
                   *(n + 8 for n in args.get("prefill", ()))])
    out = {"adapter": app.page.device.info, "kernel_style": page.kernel_style}
    for kind in args.get("shapes", list(SHAPES)):
        rows = out[kind] = {}
        mixes = args.get("mixes") or [args.get("mix", "q4_k_m")]
        runs = [(name if len(mixes) == 1 else f"{mix} {name}", mix, settings)
                for mix in mixes for name, settings in variants.items()]
        for _ in range(args.get("rounds", 2)):
            for name, mix, settings in runs:
                with tuned(settings):
                    m = await shape_model(page, kind, context, mix)
                mem = m.gpu_memory()
                gpu_bytes = mem["weights"]
                r = {"dispatches": len(m.decode_graph.dispatches), "weights_gpu_bytes": gpu_bytes,
                     "kv_cache_bytes": mem["kv_cache"], "activation_bytes": mem["activations"],
                     "decode": await decode_rate(m, args.get("steps", 64), repeat=2)}
                for n in args.get("ctx", ()):
                    r[f"ctx{n}"] = await decode_rate(m, args.get("steps", 64), ctx=n, repeat=1)
                if args.get("sampled"):
                    r["sampled_decode"] = await decode_rate(m, args.get("steps", 64), sampling=SAMPLED["sampled_decode"])
                for n in args.get("prefill", ()):
                    r[f"prefill{n}_tok_s"] = await prefill_rate(m, n, repeat=2)
                r["weights_tb_s"] = gpu_bytes * r["decode"]["tok_s"] / 1e12
                m.close(weights=kind != "page")
                if r["decode"]["tok_s"] > rows.get(name, {}).get("decode", {}).get("tok_s", 0):
                    rows[name] = r
    return out


async def report(model: Model, *, steps: int = 128, ctx=(), prefill: int = 512, compare: bool = True,
                 llama: bool = False) -> dict:
    """The model's numbers: decode (fused and, side by side, the op graph; greedy and sampled),
    prefill, context."""
    mem = model.gpu_memory()
    out = {"dispatches": len(model.decode_graph.dispatches), "kernel_style": model.kernel_style,
           "fused": model.fused, "weights_gpu_bytes": mem["weights"], "weights_file_bytes": mem["weights_file"],
           "kv_cache_bytes": mem["kv_cache"], "activation_bytes": mem["activations"]}
    other = None
    if compare and model.fused and not model.profile and not model.cfg.gguf_blocks():  # the ops read no blocks
        other = Model(model.device, model.cfg, model.weights, model.tok, max_context=model.cmax, fused=False)
        await other.prepare()
        out["ops_dispatches"] = len(other.decode_graph.dispatches)
    if model.profile:
        out["decode"] = await decode_rate(model, steps)
    else:
        out.update(await decode_report(model, steps, [("ops_decode", other)] if other is not None else []))
    if prefill and not model.profile:
        out["prefill"] = {"tokens": prefill, "tok_s": await prefill_rate(model, prefill)}
        if other is not None:
            out["ops_prefill"] = {"tokens": prefill, "tok_s": await prefill_rate(other, prefill)}
    for n in ctx if not model.profile else ():  # as many steps as the short decode: the same batches
        out[f"ctx{n}"] = await decode_rate(model, steps, ctx=n)
    if llama and model.fused and not model.profile:
        t0 = time.perf_counter()
        big = await shape_model(model, "llama_1b")
        out["llama_1b"] = {"prepare_s": time.perf_counter() - t0, "dispatches": len(big.decode_graph.dispatches),
                           "decode": await decode_rate(big, 64), "prefill_tok_s": await prefill_rate(big, 512, 1)}
        big.close()
    return out


async def sampler_report(args: dict) -> dict:
    """The sampler's candidate path (ops/fused/sample.py) against reading the whole row every
    time, side by side over the same weights, alternating: greedy and SAMPLED decoding of the
    page's model and of SHAPES (args: shapes, default all; steps, default 64)."""
    from ..ops.fused import sample
    from ..page import app

    async def pair(m: Model) -> dict:
        models = {}
        for on in (True, False):
            sample.CANDIDATES = on
            models[on] = Model(m.device, m.cfg, m.weights, m.tok, max_context=m.cmax)
            await models[on].prepare()
        sample.CANDIDATES = True
        r = await decode_report(models[True], args.get("steps", 64), [("decode_whole_row", models[False])])
        for key, sampling in SAMPLED.items():  # the whole row's sampled decoding, alternating with greedy
            w = await decode_rate(models[False], args.get("steps", 64), sampling=sampling)
            r[f"{key}_whole_row"] = {**w, "vs_greedy": w["tok_s"] / r["decode"]["tok_s"]}
        for model in models.values():
            model.close(weights=False)
        return r

    out = {"adapter": app.page.device.info, "smollm2": await pair(app.page.model)}
    for kind in args.get("shapes", list(SHAPES)):
        big = await shape_model(app.page.model, kind)
        out[kind] = await pair(big)
        big.close()
    return out


async def prefill_chunk_report(args: dict) -> dict:
    """Prefill in chunks sized by time (Model.chunks.target_s, the default) against chunks of
    the prefill graph's rows, alternating (args: tokens, default 1024; shapes, default
    ["llama_1b"]): prefill tokens/s, and how long a Stop asked after the first chunk took."""
    from ..page import app

    async def one(m: Model, chunk_s) -> dict:
        m.chunks.target_s = chunk_s
        prompt = [(1000 + i * 7) % 20000 % m.tok.vocab_size for i in range(args.get("tokens", 1024))]
        rate = await prefill_rate(m, len(prompt))
        asked = []
        g = await m.generate(prompt, Sampling(), 4, should_stop=lambda: bool(asked),
                             on_prefill=lambda done, total: asked or asked.append(time.perf_counter()))
        return {"prefill_tok_s": rate, "stop_s": time.perf_counter() - asked[0], "prefilled": g.prefilled_tokens,
                "chunk_rows": m.prefill_chunk}

    out = {}
    models = [("smollm2", app.page.model)]
    for kind in args.get("shapes", ["llama_1b"]):
        models.append((kind, await shape_model(app.page.model, kind)))
    for name, m in models:
        kept = m.chunks.target_s
        for label, chunk_s in (("timed", kept), ("whole", None)) * 2:
            r = await one(m, chunk_s)
            best = out.setdefault(name, {}).get(label)
            if best is None or r["prefill_tok_s"] > best["prefill_tok_s"]:
                out[name][label] = r
        m.chunks.target_s = kept
        if m is not app.page.model:
            m.close()
    return out


async def page_report(args: dict) -> dict:
    """What a driver asks the booted page for (args: prompts [{prompt, greedy_ids?}], steps, ctx,
    prefill, llama): the adapter, greedy ids per prompt, `report`, and with ?profile=1 the
    per-kernel GPU time of a greedy and of a sampled decode."""
    from ..page import app

    m = app.page.model
    out = {"adapter": app.page.device.info, "load_s": app.page.load_s, "prompts": []}
    for p in args.get("prompts", []):
        want = p.get("greedy_ids")
        g = await m.generate(m.tok.encode(p["prompt"]), Sampling(), len(want) if want else 16)
        out["prompts"].append({"prompt": p["prompt"], "got": g.generated_ids, "want": want,
                               "match": None if want is None else g.generated_ids == want})
    out.update(await report(m, steps=args.get("steps", 128), ctx=args.get("ctx", ()),
                            prefill=args.get("prefill", 512), llama=args.get("llama", False)))
    if m.profile:  # per-kernel GPU time of 16 decode steps, at a short context and at the longest asked
        for n in (6, *args.get("ctx", ())[-1:]):
            prompt = [(1000 + i * 7) % 20000 % m.tok.vocab_size for i in range(n)]
            g = await m.generate(prompt, Sampling(), 17, stop_at_eos=False)
            out["kernels" if n == 6 else f"kernels_ctx{n}"] = g.kernels  # kernel -> [count, total ns]
        g = await m.generate(prompt[:6], SAMPLED["sampled_decode"], 17, stop_at_eos=False)
        out["kernels_sampled"] = g.kernels  # the same with the sampler in place of the argmax
        out["kernel_tokens"] = 16
    return out


async def load_report(args: dict) -> dict:
    """Opening a model, side by side (args: gguf URL, bundle URL, prompts [{prompt, greedy_ids}]):
    the GGUF as the page opens one (fetch, header, GPU repack, pipelines) against the exported
    bundle (fetch, upload, pipelines), alternating; the GGUF model's greedy tokens; both decodes."""
    import js

    from ..page import blob, bundle
    from ..page.fetch import fetch_blob

    from ..page import app

    device, now = app.page.device, js.performance.now
    name = args["gguf"].rsplit("/", 1)[-1]
    out = {"runs": []}
    for _ in range(args.get("repeat", 2)):
        t0 = now()
        file = await fetch_blob(args["gguf"])
        t1 = now()
        await blob.model_parts(blob.BlobFile(file), name)
        t2 = now()
        gguf = (await blob.open_model(device, file, name)).model
        t3 = now()
        bundled = (await bundle.open_model(device, args["bundle"])).model
        t4 = now()
        out["runs"].append({"gguf_fetch_ms": t1 - t0, "gguf_header_ms": t2 - t1, "gguf_open_ms": t3 - t2,
                            "bundle_fetch_upload_prepare_ms": t4 - t3})
    out["gguf_greedy_matches"] = [
        (await gguf.generate(gguf.tok.encode(p["prompt"]), Sampling(), len(p["greedy_ids"]))).generated_ids
        == p["greedy_ids"] for p in args.get("prompts", [])]
    for label, model in (("gguf", gguf), ("bundle", bundled), ("gguf", gguf), ("bundle", bundled)):
        out.setdefault(f"{label}_decode", []).append(await decode_rate(model, args.get("steps", 128)))
    return out

