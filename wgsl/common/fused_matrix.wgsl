// The fused kernels' prefill entry point on subgroup matrices (pyapp/runtime/ops/fused/_fused.py
// MATRIX_TILES; Chrome's chromium-experimental-subgroup-matrix with shader-f16): the shared
// tiles of common/fused_tiles.wgsl with the inner product on the matrix units. A workgroup of
// 256 (eight subgroups of 32) computes TILE_M rows x 32 items (128 sums), walking K in slices
// of 32. Each slice stages x (times gamma when NORM) as f16 [row][k] and the weights, decoded
// once per tile, as f16 [sum][k]; subgroup s owns row block s % 4 (and s % 4 + 4 when TILE_M is
// 128) times column blocks 4 (s / 4) .. + 3, accumulating 16x16 f32 blocks. The RMSNorm factor
// (f32, from the loaders' sums of x^2) and the epilogue apply when a block is drained.
enable f16;
enable chromium_experimental_subgroup_matrix;
// A subgroup's blocks are picked by lid / 32: uniform in its subgroup, which Tint cannot tell.
diagnostic(off, chromium.subgroup_matrix_uniformity);

override TILE_M: u32 = 64u;  // 64 or 128
const TILE_ITEMS = 32u;
const SLICE = 32u;
const XS = 40u;  // f16 stride of a staged row (SLICE + 8 against bank conflicts)
const DS = 20u;  // f32 stride of a drained block's row
// A matrix load reaches offset + stride * 16 even where its last element is nearer: one row spare.
var<workgroup> xs: array<f16, TILE_M * XS + XS>;  // [row][k] of the slice: x' in f16
var<workgroup> ws: array<f16, 128 * XS + XS>;  // [sum][k]: the tile's 128 weight columns in f16
var<workgroup> drained: array<f32, 8 * 16 * DS>;  // each subgroup's block being written out
var<workgroup> squares_of: array<f32, 512>;  // each loader's sum of x^2 over its k (NORM), by row and unit

alias Left = subgroup_matrix_left<f16, 16, 16>;
alias Right = subgroup_matrix_right<f16, 16, 16>;
alias Acc = subgroup_matrix_result<f32, 16, 16>;

fn right_at(cb: u32, s: u32) -> Right {  // weight columns cb * 16 .. + 15 at k s .. s + 15 of the slice
  return subgroupMatrixLoad<Right, col_major>(&ws, cb * 16u * XS + s, XS);
}

fn left_at(rb: u32, s: u32) -> Left {  // rows rb * 16 .. + 15 at k s .. s + 15 of the slice
  return subgroupMatrixLoad<Left, row_major>(&xs, rb * 16u * XS + s, XS);
}

// Write out a subgroup's block (rows rb * 16.., sums cb * 16..) through its part of `drained`:
// each of its 32 invocations stores two of the block's 64 items (16 rows x 4 items).
fn drain(a: Acc, sg: u32, lane: u32, rb: u32, cb: u32, row0: u32, item0: u32, live: u32) {
  subgroupMatrixStore<row_major>(&drained, sg * 16u * DS, a, DS);
  workgroupBarrier();
  for (var e = lane; e < 64u; e += 32u) {
    let r = rb * 16u + e / 4u;
    let n0 = (item0 + cb * 4u + e % 4u) * CPS;
    if (row0 + r < live && n0 < ncols()) {
      let at = sg * 16u * DS + (e / 4u) * DS + (e % 4u) * 4u;
      var f = 1.0;
      if (NORM) {
        let s = 4u * r;  // loaders 4r .. 4r + 3 (rows past 64: of the second half)
        f = inv_rms(squares_of[s] + squares_of[s + 1u] + squares_of[s + 2u] + squares_of[s + 3u]);
      }
      let v = vec4<f32>(drained[at], drained[at + 1u], drained[at + 2u], drained[at + 3u]);
      store(Item(n0, row0 + r, true), Sums(v * f, vec4<f32>(0.0), 0.0));
    }
  }
  workgroupBarrier();
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

  // As a loader, invocation lid stages unit lid % 4 (8 k) of each slice for rows lid / 4 + 64p
  // of x and for weight columns (sums) lid / 4 and lid / 4 + 64 of the tile.
  let unit = lid % 4u;
  let slot = lid / 4u;
  let j = slot % 4u;  // the sum within its item, for both columns
  let lo = item_mats((item0 + slot / 4u) * CPS);
  let hi = item_mats((item0 + 16u + slot / 4u) * CPS);
  let m_lo = mat_of(lo.a, lo.b, j);
  let m_hi = mat_of(hi.a, hi.b, j);
  let col_lo = lo.n0 + j % CPS;
  let col_hi = hi.n0 + j % CPS;

  // As a computer, subgroup sg (the device's subgroups are 32: Device.half_matrices) owns its blocks.
  let sg = lid / 32u;
  let rb = sg % 4u;
  let cb = 4u * (sg / 4u);
  var t0 = Acc(); var t1 = Acc(); var t2 = Acc(); var t3 = Acc();  // row block rb
  var b0 = Acc(); var b1 = Acc(); var b2 = Acc(); var b3 = Acc();  // rb + 4 (TILE_M == 128)
  var ss = vec2<f32>(0.0);  // the loader's squares of its rows lid / 4 and lid / 4 + 64
  for (var k0 = 0u; k0 < K; k0 += SLICE) {
    let u = k0 / 8u + unit;
    for (var p = 0u; p < TILE_M / 64u; p++) {
      let r = slot + 64u * p;
      var xu = x_unit(x_row(min(row0 + r, live - 1u)), u);  // rows past the live ones repeat the last; dropped
      if (NORM) {
        ss[p] += dot8(xu, xu);
        xu = mul8(xu, gamma_unit(GAMMA, u));
      }
      let at = r * XS + 8u * unit;
      for (var i = 0u; i < 4u; i++) {
        xs[at + i] = f16(xu.lo[i]);
        xs[at + 4u + i] = f16(xu.hi[i]);
      }
    }
    let q_lo = codes_of(m_lo, col_lo, u);
    let q_hi = codes_of(m_hi, col_hi, u);
    let so_lo = group_at(m_lo, col_lo, 8u * u);
    let so_hi = group_at(m_hi, col_hi, 8u * u);
    let a_lo = slot * XS + 8u * unit;
    let a_hi = (slot + 64u) * XS + 8u * unit;
    for (var i = 0u; i < 4u; i++) {
      ws[a_lo + i] = f16(so_lo.x * q_lo.lo[i] + so_lo.y);
      ws[a_lo + 4u + i] = f16(so_lo.x * q_lo.hi[i] + so_lo.y);
      ws[a_hi + i] = f16(so_hi.x * q_hi.lo[i] + so_hi.y);
      ws[a_hi + 4u + i] = f16(so_hi.x * q_hi.hi[i] + so_hi.y);
    }
    workgroupBarrier();
    for (var s = 0u; s < SLICE; s += 16u) {
      let r0 = right_at(cb, s);
      let r1 = right_at(cb + 1u, s);
      let r2 = right_at(cb + 2u, s);
      let r3 = right_at(cb + 3u, s);
      let l = left_at(rb, s);
      t0 = subgroupMatrixMultiplyAccumulate(l, r0, t0);
      t1 = subgroupMatrixMultiplyAccumulate(l, r1, t1);
      t2 = subgroupMatrixMultiplyAccumulate(l, r2, t2);
      t3 = subgroupMatrixMultiplyAccumulate(l, r3, t3);
      if (TILE_M == 128u) {
        let l2 = left_at(rb + 4u, s);
        b0 = subgroupMatrixMultiplyAccumulate(l2, r0, b0);
        b1 = subgroupMatrixMultiplyAccumulate(l2, r1, b1);
        b2 = subgroupMatrixMultiplyAccumulate(l2, r2, b2);
        b3 = subgroupMatrixMultiplyAccumulate(l2, r3, b3);
      }
    }
    workgroupBarrier();
  }
  squares_of[lid] = ss.x;
  squares_of[256u + lid] = ss.y;
  workgroupBarrier();

  let lane = lid % 32u;
  drain(t0, sg, lane, rb, cb, row0, item0, live);
  drain(t1, sg, lane, rb, cb + 1u, row0, item0, live);
  drain(t2, sg, lane, rb, cb + 2u, row0, item0, live);
  drain(t3, sg, lane, rb, cb + 3u, row0, item0, live);
  if (TILE_M == 128u) {
    drain(b0, sg, lane, rb + 4u, cb, row0, item0, live);
    drain(b1, sg, lane, rb + 4u, cb + 1u, row0, item0, live);
    drain(b2, sg, lane, rb + 4u, cb + 2u, row0, item0, live);
    drain(b3, sg, lane, rb + 4u, cb + 3u, row0, item0, live);
  }
}
