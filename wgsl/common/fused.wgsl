// The matrix-vector work and the entry point shared by the model's fused kernels
// (pyapp/runtime/ops/_fused.py).
// A layer's weights live in one arena, bound as `w: array<u32>`; a matrix in it is described by
// a Mat (common/blocks.wgsl: its format and where its codes and group tables are). The including shader
// declares `w`, `x: array<vec4<f32>>` (rows of K f32) and the overrides K, GS, CPS, MATS,
// NORM and EPS, and includes "common/team.wgsl" first. Work goes in units of 8 consecutive k
// (one q4 word, two q8 words or eight f32 words) inside loop groups of GS values, GS dividing
// every matrix's own group size (K % GS == 0; f32 rows count as groups too, with scale 1).
// #include "common/blocks.wgsl"

fn x_unit(row: u32, u: u32) -> X8 {
  let b = row * (K / 4u) + 2u * u;
  return X8(x[b], x[b + 1u]);
}

fn gamma_unit(at: u32, u: u32) -> X8 {
  let a = at + 8u * u;
  return X8(vec4<f32>(wf(a), wf(a + 1u), wf(a + 2u), wf(a + 3u)),
            vec4<f32>(wf(a + 4u), wf(a + 5u), wf(a + 6u), wf(a + 7u)));
}

fn dot8(a: X8, b: X8) -> f32 {
  return dot(a.lo, b.lo) + dot(a.hi, b.hi);
}

// One work item's sums over this lane's groups: v[j] = sum_k x'[row, k] * W_j[k] for its
// columns j (CPS from a, then CPS from b when MATS == 2; CPS * MATS <= 4, or <= 8 when WIDE,
// columns 4..7 in u), ss = sum_k x[row, k]^2. x' = x * gamma (the RMSNorm weight at word
// `gamma`) when NORM; the 1/rms factor comes later. A lane takes whole groups, so each group's
// scale and offset apply once to its sums. No arrays: everything stays in registers.
struct Sums {
  v: vec4<f32>,
  u: vec4<f32>,
  ss: f32,
}

fn sum_at(s: Sums, j: u32) -> f32 {
  if (j < 4u) { return s.v[j]; }
  return s.u[j - 4u];
}

fn mat_of(a: Mat, b: Mat, j: u32) -> Mat {
  if (j < CPS) { return a; }
  return b;
}

fn accumulate(team: Team, a: Mat, b: Mat, n0: u32, row: u32, gamma: u32) -> Sums {
  if (WIDE) { return accumulate_wide(team, a, b, n0, row, gamma); }
  var sums = Sums(vec4<f32>(0.0), vec4<f32>(0.0), 0.0);
  let units = GS / 8u;
  for (var g = team.lane; g < K / GS; g += team.size) {
    var xq = vec4<f32>(0.0);  // per column: sum of x' * code over the group
    var xs = 0.0;             // sum of x' over the group
    for (var u = g * units; u < (g + 1u) * units; u++) {
      var xu = x_unit(row, u);
      if (NORM) {
        sums.ss += dot8(xu, xu);
        let gm = gamma_unit(gamma, u);
        xu = X8(xu.lo * gm.lo, xu.hi * gm.hi);
      }
      xs += dot(xu.lo + xu.hi, vec4<f32>(1.0));
      for (var j = 0u; j < CPS * MATS; j++) { xq[j] += dot8(xu, codes_of(mat_of(a, b, j), n0 + j % CPS, u)); }
    }
    for (var j = 0u; j < CPS * MATS; j++) {
      let so = group_of(mat_of(a, b, j), n0 + j % CPS, g);
      sums.v[j] += so.x * xq[j] + so.y * xs;
    }
  }
  return sums;
}

// WIDE: the team's lanes take chunks of 32 consecutive k in turn, so that lane l reads bytes
// next to lane l + 1's (one 16-byte read of codes a chunk for q4, two for q8) and a chunk's
// group tables are read once or twice. Every part of the arena starts on 256 bytes and a row
// holds K / 32 whole chunks (K % 32 == 0), so the 16-byte reads are aligned.
fn x_chunk(row: u32, c: u32) -> X32 {
  let b = row * (K / 4u) + 8u * c;
  return X32(X8(x[b], x[b + 1u]), X8(x[b + 2u], x[b + 3u]), X8(x[b + 4u], x[b + 5u]), X8(x[b + 6u], x[b + 7u]));
}

fn gamma_chunk(at: u32, c: u32) -> X32 {
  let a = at / 4u + 8u * c;
  return X32(X8(wv(a), wv(a + 1u)), X8(wv(a + 2u), wv(a + 3u)), X8(wv(a + 4u), wv(a + 5u)), X8(wv(a + 6u), wv(a + 7u)));
}

fn mul8(a: X8, b: X8) -> X8 {
  return X8(a.lo * b.lo, a.hi * b.hi);
}

fn sum8(a: X8) -> f32 {
  return dot(a.lo + a.hi, vec4<f32>(1.0));
}

// A chunk's share of column j's sum: the codes of chunk c of row r times x', scaled per group.
fn chunk_term(m: Mat, r: u32, c: u32, xc: X32, xs: vec2<f32>) -> f32 {
  let q = chunk_codes(m, r, c);
  let d = vec2<f32>(dot8(xc.a, q.a) + dot8(xc.b, q.b), dot8(xc.c, q.c) + dot8(xc.d, q.d));
  let lo = group_at(m, r, 32u * c);
  if (m.gs % 32u == 0u) { return lo.x * (d.x + d.y) + lo.y * (xs.x + xs.y); }  // the chunk is inside one group
  let hi = group_at(m, r, 32u * c + 16u);                                       // groups of 16: one per half
  return lo.x * d.x + lo.y * xs.x + hi.x * d.y + hi.y * xs.y;
}

fn x_normed(xc: X32, gamma: u32, c: u32) -> X32 {  // x' = x * gamma when NORM
  if (!NORM) { return xc; }
  let gm = gamma_chunk(gamma, c);
  return X32(mul8(xc.a, gm.a), mul8(xc.b, gm.b), mul8(xc.c, gm.c), mul8(xc.d, gm.d));
}

fn squares(xc: X32) -> f32 {
  return dot8(xc.a, xc.a) + dot8(xc.b, xc.b) + dot8(xc.c, xc.c) + dot8(xc.d, xc.d);
}

fn halves(xc: X32) -> vec2<f32> {  // x' summed over each half of a chunk
  return vec2<f32>(sum8(xc.a) + sum8(xc.b), sum8(xc.c) + sum8(xc.d));
}

fn accumulate_wide(team: Team, a: Mat, b: Mat, n0: u32, row: u32, gamma: u32) -> Sums {
  if (PAIRS) { return accumulate_pairs(team, a, b, n0, row, gamma); }
  var sums = Sums(vec4<f32>(0.0), vec4<f32>(0.0), 0.0);
  for (var c = team.lane; c < K / 32u; c += team.size) {
    let raw = x_chunk(row, c);
    if (NORM) { sums.ss += squares(raw); }
    let xc = x_normed(raw, gamma, c);
    let xs = halves(xc);
    for (var j = 0u; j < CPS * MATS; j++) {
      let t = chunk_term(mat_of(a, b, j), n0 + j % CPS, c, xc, xs);
      if (j < 4u) { sums.v[j] += t; } else { sums.u[j - 4u] += t; }
    }
  }
  return sums;
}

// PAIRS (every matrix a GGUF block format, K % 64 == 0): lanes take two chunks at once, so a
// Q4_K lane reads the 32 bytes of nibbles that hold both (low, then high) once and its block's
// header once for the two sub-blocks.
fn q4k_pair(m: Mat, r: u32, k: u32, x0: X32, x1: X32, xs: vec2<f32>) -> f32 {  // k % 64 == 0
  let n = min(r, m.n - 1u);
  let h = w4[q4k_block(m, n, k) / 4u];
  let at = q4k_word(m, n, k) / 4u;  // the 8 words whose low nibbles are chunk k / 32, high the next
  let q0 = w4[at];
  let q1 = w4[at + 1u];
  let d0 = dot8(x0.a, X8(low4(q0.x, 0u), low4(q0.y, 0u))) + dot8(x0.b, X8(low4(q0.z, 0u), low4(q0.w, 0u)))
         + dot8(x0.c, X8(low4(q1.x, 0u), low4(q1.y, 0u))) + dot8(x0.d, X8(low4(q1.z, 0u), low4(q1.w, 0u)));
  let d1 = dot8(x1.a, X8(low4(q0.x, 4u), low4(q0.y, 4u))) + dot8(x1.b, X8(low4(q0.z, 4u), low4(q0.w, 4u)))
         + dot8(x1.c, X8(low4(q1.x, 4u), low4(q1.y, 4u))) + dot8(x1.d, X8(low4(q1.z, 4u), low4(q1.w, 4u)));
  let dm = f16x2(h.x);
  let j = (k / 32u) % 8u;
  let s0 = vec2<f32>(q4k_scale_min(h, j));
  let s1 = vec2<f32>(q4k_scale_min(h, j + 1u));
  return dm.x * (s0.x * d0 + s1.x * d1) - dm.y * (s0.y * xs.x + s1.y * xs.y);
}

fn accumulate_pairs(team: Team, a: Mat, b: Mat, n0: u32, row: u32, gamma: u32) -> Sums {
  var sums = Sums(vec4<f32>(0.0), vec4<f32>(0.0), 0.0);
  for (var p = team.lane; p < K / 64u; p += team.size) {
    let raw0 = x_chunk(row, 2u * p);
    let raw1 = x_chunk(row, 2u * p + 1u);
    if (NORM) { sums.ss += squares(raw0) + squares(raw1); }
    let x0 = x_normed(raw0, gamma, 2u * p);
    let x1 = x_normed(raw1, gamma, 2u * p + 1u);
    let xs0 = halves(x0);
    let xs1 = halves(x1);
    let xs = vec2<f32>(xs0.x + xs0.y, xs1.x + xs1.y);  // x' over each chunk
    for (var j = 0u; j < CPS * MATS; j++) {
      let m = mat_of(a, b, j);
      let r = n0 + j % CPS;
      var t = 0.0;
      if (m.fmt == FMT_Q4K) {
        t = q4k_pair(m, r, 64u * p, x0, x1, xs);
      } else {
        t = chunk_term(m, r, 2u * p, x0, xs0) + chunk_term(m, r, 2u * p + 1u, x1, xs1);
      }
      if (j < 4u) { sums.v[j] += t; } else { sums.u[j - 4u] += t; }
    }
  }
  return sums;
}

// A work item: CPS columns of one row. A workgroup's ITEMS items are a tile of TILE_ROWS rows
// times ITEMS / TILE_ROWS column chunks, so that one weight read serves the tile's rows and one
// read of x its columns (prefill); tiles run over column chunks fastest, then over bands of rows.
struct Item {
  n0: u32,     // first column (of NCOLS)
  row: u32,
  live: bool,  // the row exists this step and the chunk in the matrix
}

fn item_at(group: u32, item: u32, ncols: u32, live_rows: u32) -> Item {
  let chunks = (ncols + CPS - 1u) / CPS;
  let across = ITEMS / TILE_ROWS;
  let tiles = (chunks + across - 1u) / across;  // tiles across a band of rows
  let row = (group / tiles) * TILE_ROWS + item / across;
  let chunk = (group % tiles) * across + item % across;
  return Item(chunk * CPS, row, row < live_rows && chunk < chunks);
}

fn inv_rms(ss: f32) -> f32 {
  return inverseSqrt(ss / f32(K) + EPS);
}

// The team's sums, normed: the RMSNorm factor of the row applied to the column sums.
fn normed(team: Team, s: Sums) -> Sums {
  let f = inv_rms(team_sum(team, vec4<f32>(s.ss)).x);
  var u = vec4<f32>(0.0);
  if (CPS * MATS > 4u) { u = team_sum(team, s.u) * f; }
  return Sums(team_sum(team, s.v) * f, u, 0.0);
}

// What a fused shader provides for an item: the matrices its columns come from (Mats), the row
// of x it reads (x_row), and its epilogue (store: the item's sums, normed when NORM, written out).
struct Mats {
  a: Mat,
  b: Mat,    // MATS == 2: columns CPS.. of the item (swiglu's up); else a again
  n0: u32,   // the item's first column within them
}

fn finish(team: Team, s: Sums) -> Sums {  // the team's sums: normed (NORM), or summed
  if (NORM) { return normed(team, s); }
  var u = vec4<f32>(0.0);
  if (CPS * MATS > 4u) { u = team_sum(team, s.u); }
  return Sums(team_sum(team, s.v), u, 0.0);
}

fn compute_item(team: Team, at: Item) {
  let m = item_mats(at.n0);
  let s = finish(team, accumulate(team, m.a, m.b, m.n0, x_row(at.row), GAMMA));
  if (team.lane == 0u) { store(at, s); }
}

// The entry point: a team per work item (common/fused_entry.wgsl), or for GPU prefill tiles of
// rows x columns staged in shared memory (common/fused_tiles.wgsl; _fused.py picks).
// #include "common/fused_entry.wgsl"
