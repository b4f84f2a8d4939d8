"""What the model's fused matrix kernels share (qkv_rope, swiglu, residual_linear, norm_linear).

Each reads a layer's weights from one arena buffer (runtime/model/weights.py: a `Placed` matrix is a
format and word offsets) and splits its output into work items of CPS columns of one row. A
"team" of invocations computes an item (wgsl/common/team_*.wgsl), by the graph's kernel style:
  lanes       teams of one, no barriers (CPU Vulkan); decode columns come CPS = 4 at a time so
              one load of x serves four rows of weights
  subgroups   a subgroup splits K and sums with subgroupAdd (GPUs with the `subgroups` feature)
  workgroups  a workgroup splits K and sums in shared memory (other GPUs)
A prefill graph (rows > 1) uses teams of one (rows times columns are work enough without
splitting K), or on GPUs shared tiles (dispatch_tiles, wgsl/common/fused_tiles.wgsl): a
workgroup stages a slice of x and of the weights, decoded once for 64 rows, in shared memory.
Teams of more than one read wide (WIDE in wgsl/common/fused.wgsl) where the shapes allow it:
lanes take chunks of 32 k in turn, so a subgroup's reads of a row are one contiguous run of
16-byte loads. Kernels bind the arena twice, as `w` (u32) and `w4` (vec4<u32>).
"""

from math import ceil

from ...graph.graph import SymInt
from .._checks import OpError, expect_tensor, gpu_kernel, on_change, workgroup_memory
from ..formats import FUSED_ONLY, GGUF_BLOCKS

FLAVORS = {"lanes": "single", "subgroups": "subgroup", "workgroups": "workgroup"}
FUSED_CONSTANTS = ("K", "GS", "CPS", "MATS", "NORM", "EPS", "GAMMA", "WG", "ITEMS", "TILE_ROWS", "WIDE", "PAIRS")
MAT_FIELDS = ("FMT", "CODES", "SCALES", "OFFSETS", "PN", "GS")
WG = 64
SUBGROUP_ITEMS = 2  # work items per workgroup for subgroup teams: one per subgroup of 32
# columns per item of a one-matrix kernel (qkv_rope keeps its RoPE pairs; swiglu's two matrices, 2)
LANES_CPS = 4    # teams of one in decode: one load of x serves four weight rows
PREFILL_CPS = 2
# Rows of a prefill workgroup's tile of items (the rest of its WG items are column chunks): one
# weight read serves them all from the cache. 1: a workgroup's items run along one row.
# Measured natively on an H100 (README, "Prefill tiles"): 8 rows doubled 1B/3B prefill, but where
# the tile's rows of x outgrow the cache (Llama-8B's FFN down, K = 14,336) it cut 8B's to a third;
# such matrices keep one row.
PREFILL_TILE_ROWS = 8
TILE_X_BYTES = 256 * 1024  # the most f32 bytes of x a tile's rows may span
# Prefill by shared-memory tiles (wgsl/common/fused_tiles.wgsl): a workgroup computes 64 rows x 16
# items of 4 sums, each weight decoded once per 64 rows. 0: never; 1: on GPUs (kernel styles other
# than lanes: on SwiftShader the page runs the ExecuTorch ops, and the tests tell); 2: always.
SHARED_TILES = 1
TILE_M = 64       # rows of a shared tile, 64 or 128 (fused_tiles.wgsl)
TILE_ITEMS = 16   # its items (TILE_ITEMS there)
TILES_SHARED_BYTES = 26 * 1024  # its workgroup memory: a device of less keeps the items
# The same tiles with their products on subgroup matrices (wgsl/common/fused_matrix.wgsl): x and
# the decoded weights staged in f16, 16x16 blocks accumulated in f32, TILE_M rows x 32 items.
# 0: never; 1: where the device has them (Device.half_matrices: Chrome's experimental feature);
# 2: wherever shared tiles run (the tests: a device that refuses the kernel leaves f32 tiles, Model.prepare).
MATRIX_TILES = 1
MATRIX_ITEMS = 32
# Rows of a matrix tile where the device gives its workgroup memory (matrix_shared_bytes; else 64):
# in Chrome on an H100, 128 rows took 512-token prefills of 1B shapes 13,545 -> 15,950 tokens/s and
# of 8B shapes 1,920 -> 3,452 (README, "Prefill on subgroup matrices").
MATRIX_TILE_M = 128
WIDE_LOADS = 1   # 0: teams walk whole groups of GS as before (pyapp.native model --tune WIDE_LOADS=0)
PAIR_LOADS = 1   # 0: lanes reading GGUF blocks take one 32-k chunk at a time, not two (PAIRS)
# Columns per item of swiglu (of each matrix) and of qkv_rope (two RoPE pairs) where teams read
# WIDE: four adjacent columns read a group's four scales as one 16-byte piece of the table.
# 2 or 4 (2: as without WIDE).
WIDE_TEAM_CPS = 4


def mat_constants(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{f}" for f in MAT_FIELDS)


def flavor(graph, rows_max: int) -> str:
    return "single" if rows_max > 1 else FLAVORS[graph.kernel_style]


def check_mat(op: str, label: str, placed, k: int):
    if placed.k != k:
        raise OpError(f"{op}: {label} weight is ({placed.n}, {placed.k}); the input has K={k}")
    if placed.fmt in GGUF_BLOCKS and k % GGUF_BLOCKS[placed.fmt][0]:
        raise OpError(f"{op}: {label} weight is {placed.fmt} blocks of {GGUF_BLOCKS[placed.fmt][0]}; K={k} is not a multiple")
    if k % 8 or (placed.fmt != "f32" and (k % placed.group_size or placed.group_size % 8)):
        raise OpError(f"{op}: K={k} must be a multiple of 8 and of {label}'s group size {placed.group_size}, "
                      "itself a multiple of 8")


def loop_group(op: str, weights) -> int:
    """The kernel's GS: the smallest group size of its quantized matrices, which must divide the
    others (8, one unit, when all are f32)."""
    sizes = sorted({w.group_size for w in weights if w.fmt != "f32"})
    if any(s % sizes[0] for s in sizes):
        raise OpError(f"{op}: group sizes {sizes} do not nest (each must divide the larger ones)")
    return sizes[0] if sizes else 8


def reads_wide(graph, rows_max: int, k: int, weights, gamma: int = 0) -> bool:
    """Whether this op's kernel reads WIDE (then its items may hold up to 8 sums, CPS * MATS):
    teams of more than one, K % 32 == 0, every part on 16 bytes (arena parts start on 256) and
    groups of 16 or more (a half chunk inside one group)."""
    return (bool(WIDE_LOADS) and flavor(graph, rows_max) != "single" and k % 32 == 0 and gamma % 4 == 0
            and all(w.codes % 4 == 0 and (w.fmt == "f32" or w.group_size % 16 == 0) for w in weights))


def reads_pairs(k: int, weights) -> bool:
    """Whether WIDE lanes take 64 k at a time (PAIRS): every matrix the GGUF's blocks or f16 tables."""
    return bool(PAIR_LOADS) and k % 64 == 0 and all(w.fmt in FUSED_ONLY for w in weights)


def shared_tiles(graph, rows_max: int, k: int, mats: int, fits: bool) -> bool:
    """Whether a prefill runs by shared tiles (SHARED_TILES): an item's 4 sums are CPS = 4 / MATS
    columns (`fits`: the op's columns allow it; qkv_rope's heads must hold whole items)."""
    return gpu_kernel(graph, SHARED_TILES, TILES_SHARED_BYTES) and fits and rows_max > 1 and k % 32 == 0 and mats in (1, 2)


def matrices_offered(graph, shared_bytes: int) -> bool:
    """Whether a prefill kernel on subgroup matrices runs (MATRIX_TILES: the device has them, or
    the tests say always) with `shared_bytes` of workgroup memory."""
    offered = MATRIX_TILES == 2 or getattr(graph.device, "half_matrices", False)
    return offered and gpu_kernel(graph, MATRIX_TILES, shared_bytes)


def matrix_tiles(graph) -> bool:
    """Whether shared tiles take their products on subgroup matrices (MATRIX_TILES)."""
    return matrices_offered(graph, matrix_shared_bytes(64))


def tile_rows(graph, variant: str) -> int:
    """Rows of a shared tile: TILE_M on f32 tiles; on matrix tiles MATRIX_TILE_M where the device
    gives its workgroup memory, else 64."""
    if variant != "matrix":
        return TILE_M
    return MATRIX_TILE_M if workgroup_memory(graph) >= matrix_shared_bytes(MATRIX_TILE_M) else 64


def matrix_shared_bytes(tile_m: int) -> int:
    """fused_matrix.wgsl's workgroup memory: x and the weights in f16 (strides of 40, a row spare),
    eight drained 16x20 f32 blocks, 512 f32 sums of squares (27.2 KiB at 64 rows, 32.2 at 128)."""
    return 2 * (tile_m * 40 + 40) + 2 * (128 * 40 + 40) + 8 * 16 * 20 * 4 + 512 * 4


def shape_constants(op: str, k: int, cps: int, mats: int, norm: bool, eps: float, weights) -> dict:
    """The overrides every fused matrix kernel takes, by items or by tiles."""
    return {"K": k, "GS": loop_group(op, weights), "CPS": cps, "MATS": mats, "NORM": norm, "EPS": float(eps)}


def live_rows_of(op: str, rows: SymInt, rows_max: int) -> int:
    r = rows.value
    if not 0 <= r <= rows_max:
        raise OpError(f"{op}: rows {r} must be within 0..{rows_max}")
    return r


def dispatch(graph, op: str, *, writes, reads, uniforms, ncols: int, rows_max: int, rows: SymInt, k: int,
             cps: int, weights, mats: int = 1, norm: bool = False, eps: float = 1e-5, constants: dict,
             tiles_fit: bool = True):
    """Append one fused kernel over `ncols` output columns; `rows` is the SymInt of live rows
    (at most rows_max), which the kernel also reads."""
    if not isinstance(rows, SymInt):
        raise OpError(f"{op}: rows must be a SymInt (graph.symint), got {type(rows).__name__}")
    if shared_tiles(graph, rows_max, k, mats, tiles_fit):
        return dispatch_tiles(graph, op, writes=writes, reads=reads, uniforms=uniforms, ncols=ncols,
                              rows_max=rows_max, rows=rows, k=k, weights=weights, mats=mats, norm=norm, eps=eps,
                              constants=constants)
    kind = flavor(graph, rows_max)
    wide = reads_wide(graph, rows_max, k, weights, constants.get("GAMMA", 0))
    wg = WG
    if mats == 1 and op != "qkv_rope":  # the op's own cps stands for teams in decode
        cps = PREFILL_CPS if rows_max > 1 else LANES_CPS if kind == "single" else cps
    items = {"single": wg, "subgroup": SUBGROUP_ITEMS, "workgroup": 1}[kind]
    tiled = rows_max > 1 and items % PREFILL_TILE_ROWS == 0 and PREFILL_TILE_ROWS * k * 4 <= TILE_X_BYTES
    tile_rows = PREFILL_TILE_ROWS if tiled else 1
    d = graph.dispatch(op, shader=op, writes=writes, reads=reads, uniforms=uniforms,
                       aliases=(("common/team.wgsl", f"common/team_{kind}.wgsl"),), variant=kind,
                       constants={**shape_constants(op, k, cps, mats, norm, eps, weights), "WG": wg, "ITEMS": items,
                                  "TILE_ROWS": tile_rows, "WIDE": wide, "PAIRS": wide and reads_pairs(k, weights),
                                  **constants})

    def resize():
        r = live_rows_of(op, rows, rows_max)
        d.set_workgroups(max(1, ceil(ceil(ncols / cps) * tile_rows / items) * ceil(r / tile_rows)))

    on_change(graph, (rows,), resize)
    return d


def dispatch_tiles(graph, op: str, *, writes, reads, uniforms, ncols: int, rows_max: int, rows: SymInt, k: int,
                   weights, mats: int, norm: bool, eps: float, constants: dict):
    """The prefill kernel by shared tiles: a workgroup of 256 per tile_rows rows x TILE_ITEMS items
    (MATRIX_ITEMS on subgroup matrices)."""
    if TILE_M not in (64, 128) or MATRIX_TILE_M not in (64, 128):
        raise OpError(f"{op}: TILE_M={TILE_M}, MATRIX_TILE_M={MATRIX_TILE_M}: shared tiles are 64 or 128 rows")
    cps = 4 // mats
    variant = "matrix" if matrix_tiles(graph) else "tiles"
    tile_m = tile_rows(graph, variant)
    items = MATRIX_ITEMS if variant == "matrix" else TILE_ITEMS
    entry = "common/fused_matrix.wgsl" if variant == "matrix" else "common/fused_tiles.wgsl"
    d = graph.dispatch(op, shader=op, writes=writes, reads=reads, uniforms=uniforms, local_size=(256, 1, 1),
                       aliases=(("common/team.wgsl", "common/team_single.wgsl"), ("common/fused_entry.wgsl", entry)),
                       variant=variant,
                       constants={**shape_constants(op, k, cps, mats, norm, eps, weights), "WG": 256,
                                  "ITEMS": tile_m * items, "TILE_ROWS": 1, "TILE_M": tile_m, "WIDE": False,
                                  "PAIRS": False, **constants})

    def resize():
        r = live_rows_of(op, rows, rows_max)
        d.set_workgroups(max(1, ceil(ncols / (items * cps)) * ceil(r / tile_m)))

    on_change(graph, (rows,), resize)
    return d


def expect_rows(op: str, label: str, t, cols: int):
    expect_tensor(op, label, t, "f32", 2)
    if t.shape[1] != cols:
        raise OpError(f"{op}: {label} {t!r} must have {cols} columns")
