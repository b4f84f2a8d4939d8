// The matrix-vector work shared by the model's fused kernels (pyapp/runtime/ops/_fused.py).
// A layer's weights live in one arena, bound as `w: array<u32>`; a matrix in it is described by
// a Mat (its format and the word offsets of its codes and group tables). The including shader
// declares `w`, `x: array<vec4<f32>>` (rows of K f32) and the overrides K, GS, TM, CPS, MATS,
// NORM and EPS, and includes "common/team.wgsl" first. Work goes in units of 8 consecutive k:
// one q4 word, two q8 words or eight f32 words; groups hold whole units (GS % 8 == 0).

const FMT_F32 = 0u;   // f32 rows (GGUF F32/F16)
const FMT_Q8 = 1u;    // q8gsw: int8 codes, w = q * scale
const FMT_Q4S = 2u;   // q4gsw: nibbles stored as q + 8, w = q * scale
const FMT_Q4A = 3u;   // q4gaw: nibbles q, w = q * scale + offset
const MAX_TM = 8u;    // rows per work item, at most

struct Mat {
  fmt: u32,
  codes: u32,     // word offset of row 0 of the codes
  scales: u32,    // word offset of the (G, pn) f32 scales
  offsets: u32,   // word offset of the (G, pn) f32 offsets (q4gaw)
  pn: u32,        // padded N: the row length of the group tables
  n: u32,         // rows (output features)
}

// Eight weights of row n: w[k] = s * (lo, hi)[k] + o.
struct Unit {
  lo: vec4<f32>,
  hi: vec4<f32>,
  s: f32,
  o: f32,
}

struct X8 {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

fn wf(i: u32) -> f32 {
  return bitcast<f32>(w[i]);
}

fn unit_of(m: Mat, row: u32, u: u32) -> Unit {
  let n = min(row, m.n - 1u);  // a last chunk past N reads a real row; its result is dropped
  if (m.fmt == FMT_F32) {
    let a = m.codes + n * K + 8u * u;
    return Unit(vec4<f32>(wf(a), wf(a + 1u), wf(a + 2u), wf(a + 3u)),
                vec4<f32>(wf(a + 4u), wf(a + 5u), wf(a + 6u), wf(a + 7u)), 1.0, 0.0);
  }
  let t = (8u * u / GS) * m.pn + n;  // this unit's group, column n
  let s = wf(m.scales + t);
  if (m.fmt == FMT_Q8) {
    let a = m.codes + n * (K / 4u) + 2u * u;
    return Unit(vec4<f32>(unpack4xI8(w[a])), vec4<f32>(unpack4xI8(w[a + 1u])), s, 0.0);
  }
  let word = w[m.codes + n * (K / 8u) + u];  // k = 8u + j in bits 4j..4j+3
  let even = vec4<f32>(unpack4xU8(word & 0x0F0F0F0Fu));         // j = 0, 2, 4, 6
  let odd = vec4<f32>(unpack4xU8((word >> 4u) & 0x0F0F0F0Fu));  // j = 1, 3, 5, 7
  var o = -8.0 * s;
  if (m.fmt == FMT_Q4A) { o = wf(m.offsets + t); }
  return Unit(vec4<f32>(even.x, odd.x, even.y, odd.y), vec4<f32>(even.z, odd.z, even.w, odd.w), s, o);
}

fn x_unit(row: u32, u: u32) -> X8 {
  let b = row * (K / 4u) + 2u * u;
  return X8(x[b], x[b + 1u]);
}

fn gamma_unit(at: u32, u: u32) -> X8 {
  let a = at + 8u * u;
  return X8(vec4<f32>(wf(a), wf(a + 1u), wf(a + 2u), wf(a + 3u)),
            vec4<f32>(wf(a + 4u), wf(a + 5u), wf(a + 6u), wf(a + 7u)));
}

// One work item's sums: v[t][j] = sum_k x'[r0 + t, k] * W_j[k] for its columns j (CPS from a,
// then CPS from b when MATS == 2), and ss[t] = sum_k x[r0 + t, k]^2, over this lane's units.
// x' = x * gamma (the RMSNorm weight at word `gamma`) when NORM; the 1/rms factor comes later.
struct Acc {
  v: array<vec4<f32>, MAX_TM>,
  ss: array<f32, MAX_TM>,
}

fn accumulate(team: Team, a: Mat, b: Mat, n0: u32, r0: u32, rows: u32, gamma: u32) -> Acc {
  var acc: Acc;
  for (var u = team.lane; u < K / 8u; u += team.size) {
    var wu: array<Unit, 4>;
    for (var c = 0u; c < CPS; c++) {
      wu[c] = unit_of(a, n0 + c, u);
      if (MATS == 2u) { wu[CPS + c] = unit_of(b, n0 + c, u); }
    }
    var g = X8(vec4<f32>(1.0), vec4<f32>(1.0));
    if (NORM) { g = gamma_unit(gamma, u); }
    for (var t = 0u; t < rows; t++) {
      var xu = x_unit(r0 + t, u);
      if (NORM) {
        acc.ss[t] += dot(xu.lo, xu.lo) + dot(xu.hi, xu.hi);
        xu = X8(xu.lo * g.lo, xu.hi * g.hi);
      }
      let xs = dot(xu.lo + xu.hi, vec4<f32>(1.0));
      for (var j = 0u; j < CPS * MATS; j++) {
        acc.v[t][j] += wu[j].s * (dot(xu.lo, wu[j].lo) + dot(xu.hi, wu[j].hi)) + wu[j].o * xs;
      }
    }
  }
  return acc;
}

// The item's row tile, from its index: items run over (row tile, column chunk), chunks fastest.
struct Item {
  n0: u32,    // first column (of NCOLS)
  r0: u32,    // first row
  rows: u32,  // rows of the tile that exist this step (0: nothing to do)
}

fn item_at(global: u32, ncols: u32, live_rows: u32) -> Item {
  let chunks = (ncols + CPS - 1u) / CPS;
  let r0 = (global / chunks) * TM;
  var rows = 0u;
  if (r0 < live_rows) { rows = min(TM, live_rows - r0); }
  return Item((global % chunks) * CPS, r0, rows);
}

fn inv_rms(ss: f32) -> f32 {
  return inverseSqrt(ss / f32(K) + EPS);
}
