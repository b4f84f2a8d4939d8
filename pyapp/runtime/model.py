"""A llama-family model on the graph: weights uploaded once, a prefill graph and a decode graph.

Both graphs bind the same weight buffers, KV caches and RoPE tables (external tensors) and
are built and prepared once; a step only writes the token ids and SymInts (input_pos, live
rows, the logits row), submits, and reads back the argmax (greedy) or the logits (sampling).
"""

from __future__ import annotations

import struct
import time
from array import array
from dataclasses import dataclass, field

from . import ops
from .buffers import COPY_DST, STORAGE
from .config import ModelConfig
from .graph import Graph
from .profiler import KernelTally
from .sampling import Sampler, Sampling
from .tokenizer import Tokenizer
from .weights import Weights

LINEARS = {"q4gsw": ops.linear_q4gsw, "q4gaw": ops.linear_q4gaw, "q8gsw": ops.linear_q8gsw}  # + "f32"


@dataclass
class Generation:
    prompt_ids: list[int]
    generated_ids: list[int] = field(default_factory=list)
    prefill_s: float = 0.0
    decode_s: float = 0.0
    stop_reason: str = ""
    profile: KernelTally = field(default_factory=KernelTally)  # GPU time per kernel (profiling on)
    logits: list = field(default_factory=list)   # each step's logits (bytes), when recorded

    @property
    def prefill_tokens_per_s(self) -> float:
        return len(self.prompt_ids) / self.prefill_s if self.prefill_s else 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        steps = len(self.generated_ids) - 1  # the first token comes from the prefill
        return steps / self.decode_s if self.decode_s and steps > 0 else 0.0

    @property
    def kernels(self) -> dict:
        """kernel -> [count, total ns], for JSON."""
        return self.profile.totals


class Model:
    def __init__(self, device, config: ModelConfig, weights: Weights, tokenizer: Tokenizer, *,
                 max_context: int = 2048, prefill_rows: int = 32, profile: bool = False,
                 kernel_style: str | None = None):
        self.device, self.cfg, self.weights, self.tok = device, config, weights, tokenizer
        self.kernel_style = kernel_style  # None: the device's choice (Graph.kernel_style)
        self.cmax = min(max_context, config.context_length)
        self.prefill_rows = prefill_rows
        self.profile = profile
        self.pos = 0
        self.tally = KernelTally()
        self.stop_ids = {i for i in (tokenizer.eos_id, tokenizer.special.get("<|endoftext|>")) if i is not None}
        self._shared()
        self.decode_graph = self._build(1, "decode")
        self.prefill_graph = self._build(prefill_rows, "prefill") if prefill_rows > 1 else None

    def _shared(self):
        """KV caches (zeroed by WebGPU) and RoPE tables, shared by both graphs."""
        c, dev = self.cfg, self.device
        cache_bytes = self.cmax * c.n_kv_heads * c.head_dim * 4
        self.caches = [(dev.buffer(cache_bytes, STORAGE | COPY_DST, f"k_cache.{i}"),
                        dev.buffer(cache_bytes, STORAGE | COPY_DST, f"v_cache.{i}")) for i in range(c.n_layers)]
        cos, sin = ops.rope_tables(self.cmax, c.head_dim, c.rope_theta)
        self.rope = []
        for name, table in (("rope.cos", cos), ("rope.sin", sin)):
            buf = dev.buffer(len(table) * 4, STORAGE | COPY_DST, name)
            dev.write(buf, table)
            self.rope.append(buf)

    def _linear(self, g: Graph, x, name: str, rows):
        entry = self.cfg.tensors[name]
        weight, tables = self.weights.parts(g, name)
        if entry.format == "f32":  # GGUF F32/F16 matrices
            return ops.linear_f32(g, x, weight, rows=rows, name=f"{name}.out")
        return LINEARS[entry.format](g, x, weight, *tables.values(), entry.group_size, rows=rows, name=f"{name}.out")

    def _build(self, s: int, name: str) -> Graph:
        c, w = self.cfg, self.weights
        hq, hkv, d, dim = c.n_heads, c.n_kv_heads, c.head_dim, c.dim
        g = Graph(self.device, name, profile=self.profile, single_pass=not self.profile,
                  kernel_style=self.kernel_style)
        tokens = g.input("tokens", (s,), "i32", dynamic=True)            # (S,) i32
        pos = g.symint("input_pos", 0)
        rows = g.symint("rows", s) if s > 1 else 1                       # real rows this step
        last = g.symint("last_row", s - 1)                               # the row whose logits we need
        cos, sin = (g.external(n, (self.cmax, d // 2), "f32", b) for n, b in zip(("rope.cos", "rope.sin"), self.rope))
        emb = c.tensors["token_embd.weight"]
        table, tables = w.parts(g, "token_embd.weight")
        x = ops.embedding(g, tokens, table, emb.format, dim, **tables,      # (S, dim) residual stream
                          group_size=emb.group_size, rows=rows, name="x")
        for i in range(c.n_layers):
            p = f"blk.{i}."
            # attention: norm, q/k/v, RoPE at input_pos, cache update + causal GQA attention, output
            h = ops.rms_norm(g, x, w.tensor(g, p + "attn_norm.weight"), c.norm_eps, rows=rows)
            q = self._linear(g, h, p + "attn_q.weight", rows)               # (S, Hq*D)
            k = self._linear(g, h, p + "attn_k.weight", rows)               # (S, Hkv*D)
            v = self._linear(g, h, p + "attn_v.weight", rows)               # (S, Hkv*D)
            ops.rope(g, g.view(q, (s, hq, d)), cos, sin, pos, rows)
            ops.rope(g, g.view(k, (s, hkv, d)), cos, sin, pos, rows)
            kc, vc = (g.external(f"{n}_cache.{i}", (1, self.cmax, hkv, d), "f32", b)
                      for n, b in zip("kv", self.caches[i]))              # (1, Cmax, Hkv, D) f32
            attn = ops.sdpa_with_kv_cache(g, g.view(q, (1, s, hq, d)), g.view(k, (1, s, hkv, d)),
                                          g.view(v, (1, s, hkv, d)), kc, vc, pos, rows, name=f"sdpa.{i}")
            o = self._linear(g, g.view(attn, (s, hq * d)), p + "attn_output.weight", rows)
            ops.add(g, x, o, rows)
            # feed-forward: norm, SwiGLU, down, residual
            h = ops.rms_norm(g, x, w.tensor(g, p + "ffn_norm.weight"), c.norm_eps, rows=rows)
            gate = self._linear(g, h, p + "ffn_gate.weight", rows)         # (S, ffn)
            up = self._linear(g, h, p + "ffn_up.weight", rows)             # (S, ffn)
            down = self._linear(g, ops.silu_mul(g, gate, up, rows), p + "ffn_down.weight", rows)
            ops.add(g, x, down, rows)
        # logits of one row: final norm of the last real row, then the (tied) LM head
        hn = ops.rms_norm(g, x, w.tensor(g, "output_norm.weight"), c.norm_eps, rows=1, first=last,
                          out_rows=1, name="x_last")
        logits = g.output(self._linear(g, hn, c.head, 1))                  # (1, vocab) f32
        g.output(ops.argmax(g, logits, name="next_token"))                 # (2,) u32: index, max bits
        self.logits_name = logits.name
        return g

    async def prepare(self):
        for g in (self.decode_graph, self.prefill_graph):
            if g is not None:
                await g.prepare()

    # --- steps ---

    async def _run(self, g: Graph, ids: list[int], want_logits: bool) -> dict:
        g.symints["input_pos"].set(self.pos)
        if "rows" in g.symints:
            g.symints["rows"].set(len(ids))
        g.symints["last_row"].set(len(ids) - 1)
        read = ["next_token"] + ([self.logits_name] if want_logits else [])
        out = await g.execute({"tokens": array("i", ids)}, read=read)
        self.pos += len(ids)
        self.tally.add(g.last_profile)
        return out

    async def prefill(self, ids: list[int], want_logits: bool) -> dict:
        if self.pos + len(ids) > self.cmax:
            raise ValueError(f"the prompt ({len(ids)} tokens) does not fit the context of {self.cmax}")
        bad = [i for i in ids if not 0 <= i < self.tok.vocab_size]
        if bad:
            raise ValueError(f"token ids {bad[:5]} are outside the vocabulary of {self.tok.vocab_size}")
        out = {}
        if self.prefill_graph is None:
            for t in ids:
                out = await self._run(self.decode_graph, [t], want_logits)
            return out
        for start in range(0, len(ids), self.prefill_rows):
            chunk = ids[start:start + self.prefill_rows]
            graph = self.prefill_graph if len(chunk) > 1 else self.decode_graph
            out = await self._run(graph, chunk, want_logits)
        return out

    async def generate(self, prompt_ids: list[int], sampling: Sampling, max_new_tokens: int,
                       on_token=None, should_stop=None, record_logits: bool = False,
                       stop_at_eos: bool = True) -> Generation:
        """Prefill the prompt (from position 0), then decode until EOS, max tokens, or a stop.

        record_logits keeps every step's logits (tests); otherwise greedy reads 8 bytes a step.
        """
        if not prompt_ids:
            raise ValueError("the prompt is empty")
        self.pos, self.tally = 0, KernelTally()
        sampler = None if sampling.greedy else Sampler(sampling)
        result = Generation(list(prompt_ids))
        pick = (lambda out: struct.unpack_from("<I", out["next_token"])[0]) if sampler is None else (
            lambda out: sampler(array("f", out[self.logits_name])))
        want = sampler is not None or record_logits
        t0 = time.perf_counter()
        out = await self.prefill(result.prompt_ids, want_logits=want)
        result.prefill_s = time.perf_counter() - t0
        token = pick(out)
        t0 = time.perf_counter()
        while True:
            result.generated_ids.append(token)
            if record_logits:
                result.logits.append(out[self.logits_name])
            if on_token:
                await on_token(token)
            if stop_at_eos and token in self.stop_ids:
                result.stop_reason = "eos"
                break
            if len(result.generated_ids) >= max_new_tokens:
                result.stop_reason = "max_tokens"
                break
            if should_stop and should_stop():
                result.stop_reason = "stopped"
                break
            if self.pos >= self.cmax:
                result.stop_reason = "context_full"
                break
            out = await self._run(self.decode_graph, [token], want)
            token = pick(out)
        result.decode_s = time.perf_counter() - t0
        result.profile = self.tally
        return result


async def load(device, base_url: str, *, on_progress=None, profile: bool = False, max_context: int = 2048,
               kernel_style: str | None = None):
    """Fetch a bundle (config, tokenizer, weights) from base_url, upload, build and prepare."""
    from . import tensorfile
    from .fetch import fetch_json

    def report(label):
        return on_progress and (lambda done, total: on_progress(label, done, total))

    config = ModelConfig.from_json(await fetch_json(base_url + "config.json"))
    tokenizer = Tokenizer(await fetch_json(base_url + "tokenizer.json"))
    file = await tensorfile.fetch_file(base_url + "model.safetensors", report("Downloading weights"))
    async with device.error_scope("upload weights"):
        weights = Weights.upload(device, file, report("Uploading to the GPU"))
    del file  # the fetched ArrayBuffer can go: every tensor now lives in its GPU buffer
    model = Model(device, config, weights, tokenizer, profile=profile, max_context=max_context,
                  kernel_style=kernel_style)
    if on_progress:
        on_progress("Compiling kernels", 0, 1)
    await model.prepare()
    return model
