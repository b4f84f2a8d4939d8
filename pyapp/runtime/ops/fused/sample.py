"""sample: llama.cpp's sampler chain on the GPU, one dispatch, seeded by position.

logits (1, V) f32 -> tokens [0] = the drawn id, [1] its logit's bits, where next_token and
argmax write them; history (HIST,) u32 [(P + 1) % HIST] = the id. P = input_pos + last_row is
the position whose logits these are; the draw uses Philox4x32-10 keyed by the 64-bit seed at
counter (P, 0, 0, 0): u = (first word >> 8) / 2^24. So one seed gives the same tokens however
the steps are batched into submits, after a stop and resume, and on either graph. With `ring`
and `step` (the fused decode step) the id also goes to ring[step % RING] and the SymInts
input_pos and step advance, as next_token does.

The chain (sampling.py's settings, written once per generation by pack_settings):
1. x = logits + logit_bias; then, for each token among the last repeat_last_n positions
   (P - n + 1 .. P, the prompt's included) seen c times: x / repeat_penalty if x > 0 else
   x * repeat_penalty, minus c * frequency_penalty, minus presence_penalty.
2. The order: x descending, and among equal x the lower id first (llama.cpp leaves ties to
   its sort; we fix them).
3. top-k: the first k of the order (0 = all).
4. top-p: p_i = exp(x_i - max) over the top-k; the shortest prefix of the order whose mass
   reaches top_p of their total (the element that crosses it is kept; top_p = 1 is off).
5. min-p: of those, the tokens with p_i >= min_p (the first always is: its p is 1).
6. The draw: weights w_i = exp((x_i - max) / temperature) over the kept tokens, in id order;
   r = u * sum(w); the token is the first whose running sum exceeds r. Temperature 0 takes
   the first of the order (greedy after the bias and penalties).
Top-p and min-p judge the logits before the temperature, as llama.cpp does.

Without sorting: top-k and top-p are radix selects over a monotone u32 key of x (4 rounds of
8 bits in one workgroup): counts are exact integers. Where top-k is at most the workgroup's
size, the k-th largest of the invocations' maxima bounds the k-th largest key from below, and
where at most V/4 keys reach that bound, the chain after it reads only those candidates (their
ids written in id order): ~4 passes over the row instead of ~12, the same tokens. Top-p's
masses are exp(x - max) in fixed point (units of 2^-31, summed in 64 bits: the same in any
order and every kernel style). Where it can differ from the fp64 reference (pyapp/sampling_reference.py): exp in
f32 (a few ulp), a mass below 2^-31 counted as 0 (at most V * 2^-31 of the total), the
top-p goal rounded to 24 bits, the adjusted x rounded to f32, and the draw's f32 running
sum. Each moves a boundary by a relative 1e-5 or less (SmolLM2's vocabulary), so a token
differs only where the reference's own margin at a boundary is that small: a cumulative mass
within rounding of top_p * total, a p within rounding of min_p, or r within rounding of a
running sum. The tests assert the margin exceeds that bound before comparing tokens, and
count the cases they skip.
"""

from __future__ import annotations

import math
import struct

from ...graph.graph import SymInt
from .._checks import OpError, expect_tensor

SHADERS = {"sample": ("V", "WG", "HIST", "RING", "DRAWS", "ADVANCE", "CANDIDATES")}
HIST = 1024   # history slots: repeat_last_n may be up to this
BIAS = 64     # logit bias entries
# the shader's `Settings` struct, in order (tests/test_chat_sampling.py checks); bias holds BIAS
# (id, value) pairs
SETTINGS_FIELDS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "frequency_penalty",
                   "presence_penalty", "last_n", "seed", "n_bias", "pad", "bias")
SETTINGS_FORMAT = "<fIfffffIIIII" + "If" * BIAS
SETTINGS_BYTES = struct.calcsize(SETTINGS_FORMAT)
WG = {"lanes": 64}  # SwiftShader: fewer invocations make its barriers cheaper
GPU_WG = 1024       # real GPUs, where the device allows: one workgroup reads the whole row
CANDIDATES = True   # top-k reads only its candidates where it can (False: the whole row, to compare)


def sample(graph, logits, tokens, settings, history, input_pos: SymInt, last_row: SymInt, *,
           ring=None, step: SymInt | None = None, draws: int = 1):
    """settings: (SETTINGS_BYTES / 4,) u32 from pack_settings; history (HIST,) u32. draws > 1
    (tests) draws at positions P .. P + draws - 1 into tokens[0 .. draws)."""
    op = "sample"
    expect_tensor(op, "logits", logits, "f32")
    expect_tensor(op, "tokens", tokens, "u32", 1)
    expect_tensor(op, "settings", settings, "u32", 1)
    expect_tensor(op, "history", history, "u32", 1)
    if tokens.numel < max(2, draws):
        raise OpError(f"{op}: tokens {tokens!r} needs room for {max(2, draws)} ids")
    if settings.nbytes != SETTINGS_BYTES or history.numel != HIST:
        raise OpError(f"{op}: settings {settings!r} must hold {SETTINGS_BYTES} bytes, history {history!r} {HIST} ids")
    if (ring is None) != (step is None) or (ring is not None and draws != 1):
        raise OpError(f"{op}: ring and step go together, with one draw")
    for label, s in (("input_pos", input_pos), ("last_row", last_row), ("step", step)):
        if s is not None and not isinstance(s, SymInt):
            raise OpError(f"{op}: {label} must be a SymInt, got {type(s).__name__}")
    v = logits.numel
    node = len(graph.dispatches)
    vals = graph.scratch(f"{op}#{node}.vals", (v,), "f32")          # (V,) adjusted logits
    counts = graph.state(f"{op}#{node}.counts", (2 * v,), "u32")    # (2V,) penalty counts (zeroed), candidates
    advance = ring is not None
    if not advance:  # bound but untouched: the shader has one layout
        ring = graph.scratch(f"{op}#{node}.ring", (4,), "u32")
        step = graph.scratch(f"{op}#{node}.step", (4,), "u32")
    # last_row is bound as storage too: the uniform arena may not be storage and uniform at once
    dev = graph.device
    wg = WG.get(graph.kernel_style) or (GPU_WG if dev is None or dev.limits.get(
        "maxComputeInvocationsPerWorkgroup", 256) >= GPU_WG else 256)
    graph.dispatch(op, shader=op, writes=[tokens, ring, history, counts, vals, input_pos, step, last_row],
                   reads=[logits, settings], local_size=(wg, 1, 1),
                   constants={"V": v, "WG": wg, "HIST": HIST, "RING": ring.numel,
                              "DRAWS": draws, "ADVANCE": int(advance), "CANDIDATES": int(CANDIDATES)},
                   variant=f"wg{wg}" + (".advance" if advance else ""))
    return tokens


def pack_settings(s, vocab: int, seed: int) -> bytes:
    """The settings words the shader reads: a sampling.Sampling for a vocabulary, and the seed."""
    bias = sorted(s.logit_bias.items())
    bad = [i for i, b in bias if not 0 <= i < vocab or math.isnan(b) or b == math.inf]
    if bad or len(bias) > BIAS:
        raise ValueError(f"logit bias: at most {BIAS} token ids within 0..{vocab - 1}, each a number "
                         f"or -inf (refused: {bad[:5] or len(bias)})")
    if s.repeat_last_n > HIST:
        raise ValueError(f"repeat_last_n {s.repeat_last_n} is more than the {HIST} tokens the GPU keeps")
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"seed {seed} must be within 0..2^64-1")
    pairs = [x for entry in bias for x in entry] + [0, 0.0] * (BIAS - len(bias))
    last_n = s.repeat_last_n if s.penalized else 0
    return struct.pack(SETTINGS_FORMAT, s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty,
                       s.frequency_penalty, s.presence_penalty, last_n, seed & 0xFFFFFFFF, seed >> 32, len(bias), 0,
                       *pairs)
