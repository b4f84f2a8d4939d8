// The fused kernels' prefill entry point on GPUs (pyapp/runtime/ops/fused/_fused.py TILED_PREFILL):
// a workgroup of 256 computes a tile of TILE_M rows x TILE_ITEMS items (an item: CPS columns of
// MATS matrices, four sums; CPS * MATS == 4), walking K in slices of SLICE (K % 32 == 0). For
// each slice it stages x (times gamma when NORM) and the weights, decoded and scaled once per
// tile instead of once per row, in shared memory k-major, so that an invocation's 4 x 4 block of
// sums (4 rows, one item) reads one vec4 of each per k: 16 multiply-adds per two shared loads.
const TILE_M = 64u;
const TILE_ITEMS = 16u;
const SLICE = 32u;
const QUADS = 16u;  // TILE_M / 4: the vec4s of rows at one k

var<workgroup> xt: array<vec4<f32>, 512>;  // [k][row quad]: x' of rows 4q .. 4q + 3 at k of the slice
var<workgroup> wt: array<vec4<f32>, 512>;  // [k][item]: the item's four weights at k
var<workgroup> squares_of: array<f32, 256>;  // each loader's sum of x^2 over its k (NORM)

// The tile's block of one invocation: rows 4 * quad + i of the tile, sums of item `item`.
struct Block {
  r0: vec4<f32>,
  r1: vec4<f32>,
  r2: vec4<f32>,
  r3: vec4<f32>,
}

fn slice_into(b: Block, quad: u32, item: u32) -> Block {
  var o = b;
  for (var k = 0u; k < SLICE; k++) {
    let a = xt[k * QUADS + quad];
    let wk = wt[k * TILE_ITEMS + item];
    o.r0 += a.x * wk;
    o.r1 += a.y * wk;
    o.r2 += a.z * wk;
    o.r3 += a.w * wk;
  }
  return o;
}

fn block_row(b: Block, i: u32) -> vec4<f32> {
  if (i == 0u) { return b.r0; }
  if (i == 1u) { return b.r1; }
  if (i == 2u) { return b.r2; }
  return b.r3;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = flat_workgroup(wid, nwg);
  let across = (ncols() + TILE_ITEMS * CPS - 1u) / (TILE_ITEMS * CPS);  // tiles across a band of rows
  let row0 = (group / across) * TILE_M;
  let item0 = (group % across) * TILE_ITEMS;
  let live = live_rows();
  if (row0 >= live) { return; }  // uniform: the whole workgroup leaves

  // As a loader, invocation lid stages unit lid % 4 (8 k) of each slice for row lid / 4 of x
  // and for weight slot lid / 4 (sum slot % 4 of item slot / 4).
  let unit = lid % 4u;
  let lrow = lid / 4u;
  let xrow = x_row(min(row0 + lrow, live - 1u));  // rows past the live ones repeat the last; dropped
  let slot = lid / 4u;
  let mats = item_mats((item0 + slot / 4u) * CPS);
  let j = slot % 4u;
  let m = mat_of(mats.a, mats.b, j);
  let col = mats.n0 + j % CPS;

  // As a computer, it owns rows 4 * quad .. + 3 of the tile and item `item`.
  let quad = lid / TILE_ITEMS;
  let item = lid % TILE_ITEMS;
  var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  var ss = 0.0;
  for (var k0 = 0u; k0 < K; k0 += SLICE) {
    let u = k0 / 8u + unit;
    var xu = x_unit(xrow, u);
    if (NORM) {
      ss += dot8(xu, xu);
      xu = mul8(xu, gamma_unit(GAMMA, u));
    }
    let q = codes_of(m, col, u);
    let so = group_at(m, col, 8u * u);
    let wq = X8(so.x * q.lo + so.y, so.x * q.hi + so.y);
    for (var i = 0u; i < 4u; i++) {
      let k = 8u * unit + i;
      xt[k * QUADS + lrow / 4u][lrow % 4u] = xu.lo[i];
      xt[(k + 4u) * QUADS + lrow / 4u][lrow % 4u] = xu.hi[i];
      wt[k * TILE_ITEMS + slot / 4u][j] = wq.lo[i];
      wt[(k + 4u) * TILE_ITEMS + slot / 4u][j] = wq.hi[i];
    }
    workgroupBarrier();
    acc = slice_into(acc, quad, item);
    workgroupBarrier();
  }
  squares_of[lid] = ss;
  workgroupBarrier();

  let n0 = (item0 + item) * CPS;
  for (var i = 0u; i < 4u; i++) {
    let r = 4u * quad + i;
    if (row0 + r < live && n0 < ncols()) {
      var f = 1.0;
      if (NORM) { f = inv_rms(squares_of[4u * r] + squares_of[4u * r + 1u] + squares_of[4u * r + 2u] + squares_of[4u * r + 3u]); }
      store(Item(n0, row0 + r, true), Sums(block_row(acc, i) * f, vec4<f32>(0.0), 0.0));
    }
  }
}
