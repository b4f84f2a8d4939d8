// The fused kernels' prefill entry point on GPUs (pyapp/runtime/ops/fused/_fused.py SHARED_TILES):
// a workgroup of 256 computes a tile of TILE_M rows x 16 items (an item: CPS columns of MATS
// matrices, four sums; CPS * MATS == 4), walking K in slices of 32 (K % 32 == 0). For each slice
// it stages x (times gamma when NORM) and the weights, decoded and scaled once per tile instead of
// once per row, in shared memory k-major, so that an invocation's block of sums (TILE_M / 16 rows,
// one item) reads one vec4 of weights and a vec4 of x per 4 rows per k: 16 multiply-adds a load.
override TILE_M: u32 = 64u;  // 64 or 128
const TILE_ITEMS = 16u;
const SLICE = 32u;

var<workgroup> xt: array<vec4<f32>, 1024>;  // [k][row quad]: x' of rows 4q .. 4q + 3 at k of the slice
var<workgroup> wt: array<vec4<f32>, 512>;   // [k][item]: the item's four weights at k
var<workgroup> squares_of: array<f32, 512>; // each loader's sum of x^2 over its k (NORM), by row and unit

// An invocation's sums: rows TILE_M / 16 * g + i of the tile (i < 4, or < 8 when TILE_M is 128).
struct Block {
  r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>,
  r4: vec4<f32>, r5: vec4<f32>, r6: vec4<f32>, r7: vec4<f32>,
}

fn slice_into(b: Block, g: u32, item: u32) -> Block {
  var o = b;
  let quads = TILE_M / 4u;
  let own = g * (TILE_M / 64u);  // the invocation's first row quad
  for (var k = 0u; k < SLICE; k++) {
    let wk = wt[k * TILE_ITEMS + item];
    let a = xt[k * quads + own];
    o.r0 += a.x * wk;
    o.r1 += a.y * wk;
    o.r2 += a.z * wk;
    o.r3 += a.w * wk;
    if (TILE_M == 128u) {
      let c = xt[k * quads + own + 1u];
      o.r4 += c.x * wk;
      o.r5 += c.y * wk;
      o.r6 += c.z * wk;
      o.r7 += c.w * wk;
    }
  }
  return o;
}

fn block_row(b: Block, i: u32) -> vec4<f32> {
  switch (i) {
    case 0u: { return b.r0; }
    case 1u: { return b.r1; }
    case 2u: { return b.r2; }
    case 3u: { return b.r3; }
    case 4u: { return b.r4; }
    case 5u: { return b.r5; }
    case 6u: { return b.r6; }
    default: { return b.r7; }
  }
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
  let quads = TILE_M / 4u;

  // As a loader, invocation lid stages unit lid % 4 (8 k) of each slice for rows lid / 4 + 64p
  // of x and for weight slot lid / 4 (sum slot % 4 of item slot / 4).
  let unit = lid % 4u;
  let slot = lid / 4u;
  let mats = item_mats((item0 + slot / 4u) * CPS);
  let j = slot % 4u;
  let m = mat_of(mats.a, mats.b, j);
  let col = mats.n0 + j % CPS;

  // As a computer, it owns rows TILE_M / 16 * g .. of the tile and item `item`.
  let g = lid / TILE_ITEMS;
  let item = lid % TILE_ITEMS;
  let z = vec4<f32>(0.0);
  var acc = Block(z, z, z, z, z, z, z, z);
  var ss = vec2<f32>(0.0);  // the loader's squares of its rows lid / 4 and lid / 4 + 64
  for (var k0 = 0u; k0 < K; k0 += SLICE) {
    let u = k0 / 8u + unit;
    for (var p = 0u; p < TILE_M / 64u; p++) {
      let r = lid / 4u + 64u * p;
      var xu = x_unit(x_row(min(row0 + r, live - 1u)), u);  // rows past the live ones repeat the last; dropped
      if (NORM) {
        ss[p] += dot8(xu, xu);
        xu = mul8(xu, gamma_unit(GAMMA, u));
      }
      for (var i = 0u; i < 4u; i++) {
        xt[(8u * unit + i) * quads + r / 4u][r % 4u] = xu.lo[i];
        xt[(8u * unit + 4u + i) * quads + r / 4u][r % 4u] = xu.hi[i];
      }
    }
    let q = codes_of(m, col, u);
    let so = group_at(m, col, 8u * u);
    for (var i = 0u; i < 4u; i++) {
      wt[(8u * unit + i) * TILE_ITEMS + slot / 4u][j] = so.x * q.lo[i] + so.y;
      wt[(8u * unit + 4u + i) * TILE_ITEMS + slot / 4u][j] = so.x * q.hi[i] + so.y;
    }
    workgroupBarrier();
    acc = slice_into(acc, g, item);
    workgroupBarrier();
  }
  squares_of[lid] = ss.x;
  squares_of[256u + lid] = ss.y;
  workgroupBarrier();

  let n0 = (item0 + item) * CPS;
  for (var i = 0u; i < TILE_M / 16u; i++) {
    let r = TILE_M / 16u * g + i;
    if (row0 + r < live && n0 < ncols()) {
      var f = 1.0;
      if (NORM) {
        let s = 4u * r;  // loaders 4r .. 4r + 3 (rows past 64: of the second half)
        f = inv_rms(squares_of[s] + squares_of[s + 1u] + squares_of[s + 2u] + squares_of[s + 3u]);
      }
      store(Item(n0, row0 + r, true), Sums(block_row(acc, i) * f, vec4<f32>(0.0), 0.0));
    }
  }
}
