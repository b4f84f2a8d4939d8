"""attention: causal GQA attention over the KV caches, split along the context (flash decoding).

q (S, Hq*D) f32 for positions input_pos + m, m < rows; k_cache / v_cache (Cmax, Hkv*D) f32,
already holding this step's keys and values (qkv_rope wrote them); out (S, Hq*D) f32; scores are
scaled by `scale` (default 1/sqrt(D)), as sdpa_with_kv_cache's; window > 0 hides keys window or
more positions before a row (Gemma's local layers); softcap > 0 caps each score s at
softcap * tanh(s / softcap) (Gemma 2). Two dispatches: each split of the
context computes softmax partials, then attention_combine merges them. The number of splits grows with the context up to NSPLIT and each split holds at least
CH_MIN keys, so a decode step's time stays nearly flat as the context grows; the grids depend
on rows only, so a decode step runs with no hook at all. Head dims up to 256, with at most 1,024
query-head dims per kv head (G * D: Gemma 3's four heads of 256 to one kv head fill it).
A GPU prefill's (rows > 1, kernel styles other than lanes) runs instead as one flash_attention
dispatch: a workgroup per (kv head, tile of rows) walks key tiles with an online softmax, so keys
are read once per tile of rows and no partials are written.
"""

from math import ceil, sqrt

from .._checks import OpError, expect_tensor, gpu_kernel, on_change, workgroups

HEADER = ("HQ", "HKV", "D", "NSPLIT", "CH_MIN", "WG", "SERIAL")
SCORES = ("SCALE", "WINDOW", "SOFTCAP")
SHADERS = {"attention": HEADER + SCORES + ("CHMAX", "CMAX"), "attention_combine": HEADER,
           "flash_attention": ("HQ", "HKV", "D", "G", "BQ", "BK", "D4", "QV", "KS", "PS") + SCORES}
NSPLIT = 32
CH_MIN = 32
WG = 64         # lanes style and the combine
GROUPED_WG = 256  # a workgroup per (kv head, row, split): its G * D/4 output vec4s fit in it
G_MAX = 8  # query heads per kv head (attention.wgsl)
# A prefill's attention on GPUs by flash_attention.wgsl (one dispatch, keys read once per tile of
# rows): 0 never, 1 on kernel styles other than lanes, 2 always (the tests, on SwiftShader).
FLASH_PREFILL = 1
FLASH_SHARED_BYTES = 26 * 1024  # its workgroup memory: a device of less keeps the splits
FLASH_VEC4S = 512  # the (query vectors, D/4) and (keys, D/4) tiles' vec4s (flash_attention.wgsl)


def flash_tiles(g: int, d: int) -> tuple[int, int]:
    """(BQ, BK): rows of a flash tile, the most (a power of two) whose G * BQ query vectors of
    D/4 vec4s fit its shared tile, at most 64 vectors; and keys a key tile, at most 32."""
    bq = 1
    while 2 * bq * g * d // 4 <= FLASH_VEC4S and 2 * bq * g <= 64:
        bq *= 2
    return bq, min(32, FLASH_VEC4S // (d // 4))


def runs_flash(graph, rows_max: int, g: int, d: int) -> bool:
    return gpu_kernel(graph, FLASH_PREFILL, FLASH_SHARED_BYTES) and rows_max > 1 and g * d // 4 <= FLASH_VEC4S


def attention(graph, q, k_cache, v_cache, input_pos, rows, *, n_heads: int, n_kv_heads: int, name: str,
              scale: float | None = None, window: int = 0, softcap: float = 0.0):
    op = "attention"
    expect_tensor(op, "q", q, "f32", 2)
    s, width = q.shape
    d = width // n_heads if n_heads else 0
    if n_heads <= 0 or n_kv_heads <= 0 or n_heads % n_kv_heads or width != n_heads * d:
        raise OpError(f"{op}: q {q!r} is not {n_heads} heads grouped over {n_kv_heads} kv heads")
    g = n_heads // n_kv_heads
    if d % 4 or d > 256 or g > G_MAX or g * d > 4 * GROUPED_WG:
        raise OpError(f"{op}: head dim {d} must be a multiple of 4 up to 256, with at most {G_MAX} query "
                      f"heads per kv head and {4 * GROUPED_WG} of their dims (got {g} heads of {d})")
    cmax = k_cache.shape[0]
    for label, t in (("k_cache", k_cache), ("v_cache", v_cache)):
        expect_tensor(op, label, t, "f32", 2)
        if t.shape != (cmax, n_kv_heads * d):
            raise OpError(f"{op}: {label} {t!r} must be ({cmax}, {n_kv_heads * d})")
    scores = {"SCALE": 1.0 / sqrt(d) if scale is None else float(scale), "WINDOW": window, "SOFTCAP": float(softcap)}
    if runs_flash(graph, s, g, d):
        return flash_attention(graph, q, k_cache, v_cache, input_pos, rows, n_heads, n_kv_heads, d, scores, name)
    serial = graph.kernel_style == "lanes"
    shape = {"HQ": n_heads, "HKV": n_kv_heads, "D": d, "NSPLIT": NSPLIT, "CH_MIN": CH_MIN, "WG": WG,
             "SERIAL": serial}
    part = graph.scratch(f"{name}.partials", (s, n_heads, NSPLIT, d + 4))  # (S, Hq, NSPLIT, D + 4) f32
    out = graph.scratch(f"{name}.out", (s, width))                         # (S, Hq*D) f32
    splits = graph.dispatch("attention", shader="attention", writes=[part], reads=[q, k_cache, v_cache],
                            uniforms=[input_pos, rows],
                            constants={**shape, "WG": WG if serial else GROUPED_WG, **scores,
                                       "CMAX": cmax, "CHMAX": max(CH_MIN, ceil(cmax / NSPLIT))})
    combine = graph.dispatch("attention_combine", shader="attention_combine", writes=[out], reads=[part],
                             uniforms=[input_pos, rows], constants=shape)

    def resize():
        r = rows.value
        splits.set_workgroups(workgroups(n_heads * r * NSPLIT, WG) if serial else n_kv_heads * r * NSPLIT)
        combine.set_workgroups(workgroups(r * width // 4, WG))

    on_change(graph, (rows,), resize)
    return out


def flash_attention(graph, q, k_cache, v_cache, input_pos, rows, n_heads: int, n_kv_heads: int, d: int, scores: dict,
                    name: str):
    """A prefill's attention in one dispatch: a workgroup per (kv head, tile of BQ rows)."""
    out = graph.scratch(f"{name}.out", q.shape)  # (S, Hq*D) f32
    bq, bk = flash_tiles(n_heads // n_kv_heads, d)
    flash = graph.dispatch("flash_attention", shader="flash_attention", writes=[out], reads=[q, k_cache, v_cache],
                           uniforms=[input_pos, rows], local_size=(256, 1, 1), variant=f"bq{bq}",
                           constants={"HQ": n_heads, "HKV": n_kv_heads, "D": d, "BQ": bq, "BK": bk, **scores})

    def resize():
        flash.set_workgroups(max(1, n_kv_heads * ceil(rows.value / bq)))

    on_change(graph, (rows,), resize)
    return out
