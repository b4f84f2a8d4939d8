"""A llama-family model on the graph: weights uploaded once, a prefill graph and a decode graph.

The graphs (runtime/model/forward.py) bind the same weight arenas, KV caches and RoPE tables and are
built and prepared once: a prefill and a decode graph ending in the argmax (greedy), and the
same two ending in the sampler (ops/fused/sample.py; its settings and the token history are written
once per generation). Decoding on the fused path runs on the GPU either way: each step's last
kernel writes the next token where the next step's embedding reads it and advances input_pos,
so a submit runs many steps and the host reads their tokens once (4 bytes each), while the
GPU already runs the next submit. Recorded logits and profiling go one step per submit.

The KV cache outlives a generation: `cached_ids` are the tokens whose keys and values it holds
(positions 0..len-1), and a generation with reuse_cache=True prefills only what follows the
longest common prefix with them, so a chat's next turn runs only its own tokens.
"""

from __future__ import annotations

import random
import struct
import time
from array import array
from collections import deque
from dataclasses import dataclass, field

from . import forward
from .. import ops
from ..ops._checks import OpError
from ..gpu.buffers import COPY_DST, COPY_SRC, STORAGE
from ..gpu.device import GPUError
from .config import ModelConfig
from ..graph.graph import Graph
from ..gpu.profiler import KernelTally
from ..ops import tuning
from ..ops.fused.sample import HIST, SETTINGS_BYTES, pack_settings
from .sampling import Sampling
from ..tokenizer.tokenizer import Tokenizer
from .chunks import PrefillChunks
from .weights import Weights

# control tokens that end a turn besides the file's eos, by name as llama.cpp's vocabulary finds them
# (a Phi-3 file's eos is <|endoftext|>, its turns end in <|end|>)
END_OF_TURN = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>")
MAX_BATCH = 32  # decode steps per submit, at most (forward.RING holds their tokens)
# Rows of the prefill graphs, the largest chunk. GPUs (kernel styles other than lanes) run the
# fused matmuls by tiles of 64 rows (ops/fused/_fused.py SHARED_TILES): 128 rows gave a 1B model's
# Q/K/V only 96 workgroups for 132 SMs; CPUs take chunks of at most 128.
PREFILL_ROWS = {"lanes": 128}
GPU_PREFILL_ROWS = 512


@dataclass
class Generation:
    prompt_ids: list[int]
    reused_tokens: int = 0  # of prompt_ids: keys and values taken from the cache, not prefilled
    generated_ids: list[int] = field(default_factory=list)
    prefill_s: float = 0.0
    decode_s: float = 0.0
    stop_reason: str = ""
    profile: KernelTally = field(default_factory=KernelTally)  # decode's GPU time per kernel (profiling on)
    prefill_profile: KernelTally = field(default_factory=KernelTally)  # the prompt's
    logits: list = field(default_factory=list)   # each step's logits (bytes), when recorded
    submits: int = 0                              # decode submits (GPU-resident batches or steps)
    host_s: float = 0.0                           # of decode_s: writing, encoding and submitting
    seed: int | None = None                       # the sampler's seed (given, or drawn at random)
    decode_read_bytes: int = 0                    # read back by the decode submits

    prefilled_tokens: int = 0  # of prompt_ids: those whose keys and values the prefill computed (less on a stop)

    @property
    def prefill_tokens_per_s(self) -> float:
        return self.prefilled_tokens / self.prefill_s if self.prefill_s else 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        steps = len(self.generated_ids) - 1  # the first token comes from the prefill
        return steps / self.decode_s if self.decode_s and steps > 0 else 0.0

    @property
    def kernels(self) -> dict:
        """kernel -> [count, total ns], for JSON."""
        return self.profile.totals


def runs_fused(device, kernel_style: str | None = None, fused: bool | None = None) -> bool:
    """Whether a Model of these arguments runs the fused path: on GPUs unless told otherwise."""
    return (kernel_style or device.kernel_style) != "lanes" if fused is None else fused


def fused_path(device, config: ModelConfig, kernel_style: str | None = None, fused: bool | None = None) -> bool:
    """runs_fused, but a model holding the GGUF's own blocks runs the fused path unless told
    otherwise, and is refused (OpError) when told: the ExecuTorch ops do not read them. The
    fused path is for GPUs; SwiftShader's compiler runs its generic kernels slower than the
    ExecuTorch ops' lanes kernels, tuned for it (README, "Measured")."""
    blocks = config.gguf_blocks()
    if fused is None and blocks:
        return True
    if blocks and not runs_fused(device, kernel_style, fused):
        raise OpError(f"{blocks[0]} is stored as the GGUF holds it ({config.tensors[blocks[0]].format}), "
                      "which only the fused path reads; export without --blocks for the ExecuTorch ops")
    return runs_fused(device, kernel_style, fused)


class Model:
    def __init__(self, device, config: ModelConfig, weights: Weights, tokenizer: Tokenizer, *,
                 max_context: int = 2048, prefill_rows: int | None = None, profile: bool = False,
                 kernel_style: str | None = None, fused: bool | None = None):
        self.device, self.cfg, self.weights, self.tok = device, config, weights, tokenizer
        self.kernel_style = kernel_style or device.kernel_style
        self.fused = fused_path(device, config, kernel_style, fused)
        self.cmax = min(max_context, config.context_length)
        if prefill_rows is None:
            prefill_rows = PREFILL_ROWS.get(self.kernel_style, GPU_PREFILL_ROWS)
        self.prefill_rows = prefill_rows = min(prefill_rows, self.cmax)  # a graph of rows past the context cannot run
        self.profile = profile
        self.matrix_error: str | None = None  # why the prefill left subgroup matrices (prepare)
        self.pos = 0
        self.cached_ids: list[int] = []  # the tokens whose keys and values the cache holds, in order
        self.tally = KernelTally()
        self.stop_ids = {i for i in (tokenizer.eos_id, *map(tokenizer.special.get, END_OF_TURN)) if i is not None}
        self.shared = self._shared()
        self.decode_graph = self._build(1, "decode")
        self.prefill_graph = self._build(prefill_rows, "prefill") if prefill_rows > 1 else None
        self.sampled_decode_graph = self._build(1, "decode.sampled", sampled=True)
        self.sampled_prefill_graph = (self._build(prefill_rows, "prefill.sampled", sampled=True)
                                      if prefill_rows > 1 else None)
        self.chunks = self._chunks()

    def _chunks(self) -> PrefillChunks:
        """Rows of each prefill chunk, sized by their time (chunks.py; <= prefill_rows, the prefill
        graph's size: the `rows` SymInt runs fewer), in whole row tiles of the prefill's kernels."""
        tiles = [d.constants.get("TILE_M", 1) for d in self.prefill_graph.dispatches] if self.prefill_graph else []
        return PrefillChunks(self.prefill_rows, max([1, *tiles]))

    @property
    def prefill_chunk(self) -> int:
        """Rows of the next prefill chunk."""
        return self.chunks.next_rows()

    @property
    def graphs(self) -> list[Graph]:
        return [g for g in (self.decode_graph, self.prefill_graph, self.sampled_decode_graph,
                            self.sampled_prefill_graph) if g is not None]

    @property
    def cache_bytes(self) -> int:
        """One layer's K (or V) cache: (cmax, Hkv * D) f32."""
        return self.cmax * self.cfg.n_kv_heads * self.cfg.head_dim * 4

    def _shared(self) -> forward.Shared:
        """KV caches (zeroed by WebGPU), RoPE tables and the next-token slot, shared by both graphs."""
        c, dev = self.cfg, self.device
        cache_bytes = self.cache_bytes
        caches = [(dev.buffer(cache_bytes, STORAGE | COPY_DST, f"k_cache.{i}"),
                   dev.buffer(cache_bytes, STORAGE | COPY_DST, f"v_cache.{i}")) for i in range(c.n_layers)]
        def table(name, *parts):
            buf = dev.buffer(sum(len(p) for p in parts) * 4, STORAGE | COPY_DST, name)
            dev.write(buf, b"".join(p.tobytes() for p in parts))
            return buf

        def tables(name, theta, factors):  # the fused path's (2, Cmax, D/2), or the ops path's pair
            cos, sin = ops.rope_tables(self.cmax, c.head_dim, theta, factors)
            return table(name, cos, sin) if self.fused else (table(f"{name}.cos", cos), table(f"{name}.sin", sin))

        rope = tables("rope", c.rope_theta, c.rope_freq_factors)
        local = tables("rope_local", c.rope_theta_local, None) if c.rope_theta_local else None  # Gemma 3
        token = dev.buffer(16, STORAGE | COPY_DST | COPY_SRC, "next_token")
        settings = dev.buffer(SETTINGS_BYTES, STORAGE | COPY_DST, "sample.settings")
        history = dev.buffer(HIST * 4, STORAGE | COPY_DST, "sample.history")
        return forward.Shared(caches, rope if self.fused else None, () if self.fused else rope, token, self.cmax,
                              settings, history, local)

    def _build(self, s: int, name: str, sampled: bool = False) -> Graph:
        g = Graph(self.device, name, profile=self.profile, single_pass=not self.profile,
                  kernel_style=self.kernel_style)
        build = forward.fused_graph if self.fused else forward.ops_graph
        return build(g, self.cfg, self.weights, self.shared, s, sampled)

    async def prepare(self):
        try:
            for g in self.graphs:
                await g.prepare()
        except GPUError as e:
            if not self.uses_matrices():
                raise
            await self._prefill_without_matrices(e)

    def uses_matrices(self) -> bool:
        """Whether the prefill's tiles take their products on subgroup matrices."""
        return any(d.variant == "matrix" for g in self.graphs for d in g.dispatches)

    async def _prefill_without_matrices(self, error: GPUError):
        """Chrome's subgroup matrices are experimental: where the device refuses their kernels,
        the prefill graphs are built again on f32 tiles (matrix_error says why), and their chunks
        sized in those tiles."""
        self.matrix_error = str(error)
        for g in (self.prefill_graph, self.sampled_prefill_graph):
            g.release()
        with tuning.tuned({"MATRIX_TILES": 0}):
            self.prefill_graph = self._build(self.prefill_rows, "prefill")
            self.sampled_prefill_graph = self._build(self.prefill_rows, "prefill.sampled", sampled=True)
        self.chunks = self._chunks()
        for g in self.graphs:
            await g.prepare()

    def gpu_memory(self) -> dict:
        """Bytes this model holds on the GPU (after prepare): weights (and, where known, the GGUF's
        bytes of the same tensors), KV caches, and activations (the graphs' scratch, the RoPE
        tables, the readbacks)."""
        c = self.cfg
        tables = self.cmax * c.head_dim * 4  # cos and sin, (cmax, D/2) each
        return {"weights": sum(self.weights.sizes.values()), "weights_file": c.file_tensor_bytes,
                "kv_cache": 2 * c.n_layers * self.cache_bytes,
                "activations": tables + sum(g.buffer_bytes for g in self.graphs)}

    def close(self, weights: bool = True):
        """Free the model's GPU memory now (its graphs' buffers, KV caches, tables and, unless
        weights=False (another model shares them), its weights), before the page opens another
        model. The model is not run again."""
        for g in self.graphs:
            g.release()
        s = self.shared
        self.device.destroy([*(b for pair in s.caches for b in pair),
                             *(b for b in (s.rope, *s.rope_pair, s.token, s.settings, s.history) if b is not None)])
        if weights:
            self.device.destroy(self.weights.buffers.values())

    # --- steps driven by the host ---

    def _set_step(self, g: Graph, ids: list[int]):
        g.symints["input_pos"].set(self.pos)
        if "rows" in g.symints:
            g.symints["rows"].set(len(ids))
        g.symints["last_row"].set(len(ids) - 1)
        if "step" in g.symints:
            g.symints["step"].set(0)
        return {"tokens": array("i", ids)}

    def _launch(self, g: Graph, ids: list[int], want_logits: bool, result: Generation | None = None):
        t0 = time.perf_counter()
        launch = g.launch(self._set_step(g, ids), read=["next_token"] + (["logits"] if want_logits else []))
        if result is not None:
            result.host_s += time.perf_counter() - t0
        self.pos += len(ids)
        return launch

    async def _finish(self, launch) -> dict:
        out = await launch.result()
        self.tally.add(launch.graph.last_profile)
        return out

    async def _run(self, g: Graph, ids: list[int], want_logits: bool, result: Generation | None = None) -> dict:
        """One step of the host's: submit, then read its next token (and logits)."""
        return await self._finish(self._launch(g, ids, want_logits, result))

    async def prefill(self, ids: list[int], want_logits: bool, should_stop=None, sampled: bool = False,
                      on_progress=None) -> dict | None:
        """Run ids from self.pos on (through the sampled graphs if `sampled`); the last chunk's
        outputs, or None when should_stop() said so between chunks (self.pos then says how far it
        ran). Two chunks are in flight (once one was timed: the first runs alone): the GPU runs one
        while the host waits for the one before (its next_token read: 8 bytes, 16 on the fused
        path), which lets a Stop click through within a chunk's time. on_progress(done, total)
        follows each finished chunk."""
        if self.pos + len(ids) > self.cmax:
            raise ValueError(f"the prompt ({len(ids)} tokens) does not fit the context of {self.cmax}")
        bad = [i for i in ids if not 0 <= i < self.tok.vocab_size]
        if bad:
            raise ValueError(f"token ids {bad[:5]} are outside the vocabulary of {self.tok.vocab_size}")
        # only the last chunk samples: the sampler writes its draw into the history slot of the
        # position after its row, where an earlier chunk's row is followed by a prompt token
        prefill = self._pair(False)[0]
        start_pos = self.pos
        flight: deque = deque()  # (launch, rows)
        done, start, last = 0, 0, time.perf_counter()
        out: dict = {}  # the latest finished chunk's outputs

        async def finish():
            nonlocal done, last, out
            launch, n = flight.popleft()
            out = await self._finish(launch)
            now = time.perf_counter()
            self.chunks.took(n, now - last)  # the GPU ran this chunk since the one before ended
            done, last = done + n, now
            if on_progress:
                on_progress(done, len(ids))

        while start < len(ids):
            rows = 1 if prefill is None else self.chunks.next_rows()
            chunk = ids[start:start + rows]
            pair = self._pair(sampled and start + len(chunk) >= len(ids))
            graph = pair[0] if len(chunk) > 1 else pair[1]
            if not flight:
                last = time.perf_counter()
            flight.append((self._launch(graph, chunk, want_logits and start + rows >= len(ids)), len(chunk)))
            start += len(chunk)
            if len(flight) == 2 or (self.chunks.target_s is not None and not self.chunks.timed):
                await finish()
                if should_stop and should_stop():
                    while flight:
                        await finish()
                    self.pos = start_pos + done
                    return None
        while flight:
            await finish()
        return out

    def _pair(self, sampled: bool) -> tuple:
        """(prefill graph, decode graph) ending in the sampler or in the argmax."""
        if sampled:
            return self.sampled_prefill_graph, self.sampled_decode_graph
        return self.prefill_graph, self.decode_graph

    def _start_sampler(self, sampling: Sampling, prompt_ids: list[int]) -> int:
        """Write the sampler's settings and the prompt's last HIST tokens (by position); the seed."""
        seed = random.getrandbits(32) if sampling.seed is None else sampling.seed
        self.device.write(self.shared.settings, pack_settings(sampling, self.cfg.tensors[self.cfg.head].shape[0], seed))
        history = array("I", bytes(HIST * 4))
        for p in range(max(0, len(prompt_ids) - HIST), len(prompt_ids)):
            history[p % HIST] = prompt_ids[p]
        self.device.write(self.shared.history, history)
        return seed

    # --- generation ---

    async def _accept(self, result: Generation, token: int, max_new_tokens: int, on_token, should_stop,
                      stop_at_eos: bool) -> bool:
        """Record a generated token and pass it on; True when generation ends with it."""
        result.generated_ids.append(token)
        if on_token:
            await on_token(token)
        if stop_at_eos and token in self.stop_ids:
            result.stop_reason = "eos"
        elif len(result.generated_ids) >= max_new_tokens:
            result.stop_reason = "max_tokens"
        elif should_stop and should_stop():
            result.stop_reason = "stopped"
        elif self.pos >= self.cmax:
            result.stop_reason = "context_full"
        return bool(result.stop_reason)

    async def generate(self, prompt_ids: list[int], sampling: Sampling, max_new_tokens: int,
                       on_token=None, should_stop=None, record_logits: bool = False,
                       stop_at_eos: bool = True, reuse_cache: bool = False, on_prefill=None) -> Generation:
        """Prefill the prompt, then decode until EOS, max tokens, or a stop (which also works
        between prefill chunks). The prefill starts at 0, or with reuse_cache after the prefix
        the cache already holds (the prompt's last token always runs: it gives the first logits).

        Unless the settings are plain greedy (Sampling.argmax) the GPU samples, seeded with
        sampling.seed or a random seed (result.seed). record_logits keeps every step's logits
        (tests); otherwise decoding reads next_token a step (8 bytes, 16 on the fused path), or
        the ring of token ids a GPU-fed submit (256 bytes). on_prefill(done, total) follows the
        prompt's chunks.
        """
        if not prompt_ids:
            raise ValueError("the prompt is empty")
        reused = min(common_prefix(self.cached_ids, prompt_ids), len(prompt_ids) - 1) if reuse_cache else 0
        self.cached_ids = []  # until this generation ends: a failure leaves the cache unknown
        self.pos, self.tally = reused, KernelTally()
        result = Generation(list(prompt_ids), reused)
        sampled = not sampling.argmax
        if sampled:
            result.seed = self._start_sampler(sampling, result.prompt_ids)
        decode = self._pair(sampled)[1]

        def pick(out):
            return struct.unpack_from("<I", out["next_token"])[0]

        want = record_logits
        t0 = time.perf_counter()
        out = await self.prefill(result.prompt_ids[reused:], want, should_stop, sampled, on_prefill)
        result.prefill_s = time.perf_counter() - t0
        result.prefilled_tokens = self.pos - reused
        result.prefill_profile, self.tally = self.tally, KernelTally()
        if out is None:
            result.stop_reason = "stopped"
            self.cached_ids = result.prompt_ids[:self.pos]
            return result
        token = pick(out)
        t0 = time.perf_counter()
        if record_logits:
            result.logits.append(out["logits"])
        done = await self._accept(result, token, max_new_tokens, on_token, should_stop, stop_at_eos)
        if not done and self.fused and not want and not self.profile:
            await self._decode_on_gpu(decode, result, max_new_tokens, on_token, should_stop, stop_at_eos)
            done = True
        while not done:
            out = await self._run(decode, [token], want, result)
            result.submits += 1
            result.decode_read_bytes += sum(len(v) for v in out.values())
            token = pick(out)
            if record_logits:
                result.logits.append(out["logits"])
            done = await self._accept(result, token, max_new_tokens, on_token, should_stop, stop_at_eos)
        result.decode_s = time.perf_counter() - t0
        result.profile = self.tally
        # every token but the last generated one went through a step that stored its keys and values
        self.cached_ids = (result.prompt_ids + result.generated_ids)[:self.pos]
        return result

    async def _decode_on_gpu(self, g: Graph, result: Generation, max_new_tokens: int, on_token, should_stop,
                             stop_at_eos: bool):
        """Decode steps of g in submits of up to MAX_BATCH (1, 2, 4, ... so the first tokens
        show soon), two submits in flight: the GPU feeds each step's token to the next."""
        pos, step = g.symints["input_pos"], g.symints["step"]
        flight: deque = deque()
        submitted, ahead, batch = 0, 0, 1  # steps submitted, of those not read yet, next batch size
        start = self.pos  # the position of the token the prefill produced

        def submit():
            nonlocal submitted, ahead, batch
            left = min(max_new_tokens - len(result.generated_ids) - ahead, self.cmax - start - submitted)
            k = min(batch, left, MAX_BATCH)
            if k <= 0:
                return
            t0 = time.perf_counter()
            pos.set(start + submitted)
            step.set(0)
            flight.append((g.launch(read=["ring"], steps=k), k))
            result.host_s += time.perf_counter() - t0
            submitted, ahead, batch = submitted + k, ahead + k, batch * 2

        submit()
        submit()
        while flight:
            launch, k = flight.popleft()
            ring = array("I", (await launch.result())["ring"])
            result.submits += 1
            result.decode_read_bytes += len(ring) * 4
            ahead -= k
            if result.stop_reason:
                continue  # a submit that ran past the end: its tokens are dropped
            for token in ring[:k]:
                self.pos += 1  # the step that produced `token` consumed the one before it
                if await self._accept(result, token, max_new_tokens, on_token, should_stop, stop_at_eos):
                    break
            if not result.stop_reason:
                submit()


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n

