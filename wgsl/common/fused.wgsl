// The matrix-vector work and the entry point shared by the model's fused kernels
// (pyapp/runtime/ops/_fused.py).
// A layer's weights live in one arena, bound as `w: array<u32>`; a matrix in it is described by
// a Mat (its format and the word offsets of its codes and group tables). The including shader
// declares `w`, `x: array<vec4<f32>>` (rows of K f32) and the overrides K, GS, CPS, MATS,
// NORM and EPS, and includes "common/team.wgsl" first. Work goes in units of 8 consecutive k
// (one q4 word, two q8 words or eight f32 words) inside loop groups of GS values, GS dividing
// every matrix's own group size (K % GS == 0; f32 rows count as groups too, with scale 1).
// #include "common/f16.wgsl"

const FMT_F32 = 0u;   // f32 rows (GGUF F32/F16)
const FMT_Q8 = 1u;    // q8gsw: int8 codes, w = q * scale
const FMT_Q4S = 2u;   // q4gsw: nibbles stored as q + 8, w = q * scale
const FMT_Q4A = 3u;   // q4gaw: nibbles q, w = q * scale + offset
const FMT_Q8A = 4u;   // q8gaw: int8 codes, w = q * scale + offset
const FMT_Q4K = 5u;   // q4k: GGUF Q4_K blocks as the file holds them, 36 words for 256 k (groups of 32)
const FMT_Q6K = 6u;   // q6k: Q6_K blocks but their d, 52 words for 256 k (groups of 16); d in `scales`
// The same codes as FMT_Q8 .. FMT_Q8A (code - 6) with the file's f16 tables (formats.HALF_TABLES):
// `scales` is (N, pn) words, row-major: two groups' scales a word, or a group's scale and offset.
const FMT_Q8H = 7u;
const FMT_Q4SH = 8u;
const FMT_Q4AH = 9u;
const FMT_Q8AH = 10u;
const FMT_Q5K = 11u;  // q5k: GGUF Q5_K blocks as the file holds them, 44 words for 256 k (groups of 32)
// Q5_0 / Q5_1 (formats.FIFTH_BITS): q4gsw's / q4gaw's nibbles of the low 4 bits, f16 tables as the
// half formats', and each group's fifth bits as a word at `offsets` (N, K / 32); w = (q - 16) * d
// or q * d + m.
const FMT_Q5SH = 12u;
const FMT_Q5AH = 13u;

fn is_half(fmt: u32) -> bool {  // f16 tables
  return (fmt >= FMT_Q8H && fmt <= FMT_Q8AH) || fmt == FMT_Q5SH || fmt == FMT_Q5AH;
}

fn codes_fmt(fmt: u32) -> u32 {  // the format whose codes fmt stores (the fifth bits aside)
  if (fmt == FMT_Q5SH || fmt == FMT_Q5AH) { return fmt - 10u; }
  if (is_half(fmt)) { return fmt - 6u; }
  return fmt;
}

fn fifths(m: Mat, n: u32, k: u32) -> u32 {  // the word of fifth bits of k's group (K % 32 == 0)
  return w[m.offsets + n * (K / 32u) + k / 32u];
}

fn high4b(bits: u32) -> vec4<f32> {  // 16 times bits 0..3, one to a lane (i * 7 apart: no carries)
  return vec4<f32>(unpack4xU8(((bits & 0xFu) * 0x00204081u) & 0x01010101u)) * 16.0;
}

// (scale, offset) of group g of row n from f16 tables.
fn half_group(m: Mat, n: u32, g: u32) -> vec2<f32> {
  if (m.fmt == FMT_Q4AH || m.fmt == FMT_Q8AH || m.fmt == FMT_Q5AH) { return f16x2(w[m.scales + n * m.pn + g]); }
  let pair = f16x2(w[m.scales + n * m.pn + g / 2u]);
  let s = select(pair.x, pair.y, g % 2u == 1u);
  if (m.fmt == FMT_Q4SH) { return vec2<f32>(s, -8.0 * s); }
  if (m.fmt == FMT_Q5SH) { return vec2<f32>(s, -16.0 * s); }
  return vec2<f32>(s, 0.0);
}

struct Mat {
  fmt: u32,
  codes: u32,     // word offset of row 0 of the codes (q4k: of its first block)
  scales: u32,    // word offset of the (G, pn) f32 scales (q6k: its (N, K / 256) d; q4k: none; half: above)
  offsets: u32,   // word offset of the (G, pn) f32 offsets (the affine formats)
  pn: u32,        // padded N: the row length of the group tables
  n: u32,         // rows (output features)
  gs: u32,        // its group size: a multiple of GS, the kernel's loop group
}

// Eight raw codes of a row (w = s * code + o within the row's group).
struct X8 {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

fn wf(i: u32) -> f32 {
  return bitcast<f32>(w[i]);
}

// Q4_K: a block is f16 d and dmin (word 0), 12 bytes of 6-bit scales and mins (words 1..3) and
// 128 bytes of nibbles (words 4..35): byte 32c + l holds k = 64c + l (low) and 64c + 32 + l.
// Q5_K has the same header, then 32 bytes of fifth bits (qh, words 4..11: bit j of byte l is
// k = 32j + l's) before its nibbles (words 12..43); the q4k_ functions serve it too.
fn q4k_block(m: Mat, n: u32, k: u32) -> u32 {
  return m.codes + (n * (K / 256u) + k / 256u) * select(36u, 44u, m.fmt == FMT_Q5K);
}

fn q5k_qh(m: Mat, n: u32, k: u32) -> u32 {  // the qh word holding k .. k + 3's fifth bits (k % 4 == 0)
  return q4k_block(m, n, k) + 4u + (k % 32u) / 4u;
}

fn high4(qh: u32, k: u32) -> vec4<f32> {  // 16 times the fifth bits of four consecutive k
  return vec4<f32>(unpack4xU8((qh >> ((k % 256u) / 32u)) & 0x01010101u)) * 16.0;
}

// The group of 32 holding k: (d * scale, -dmin * min), ggml's get_scale_min_k4 on the block's
// header, read as one 16-byte piece (blocks are 36 words and start on 16 bytes): .x is d and
// dmin, .y/.z/.w bytes 0-3, 4-7, 8-11 of the packed scales and mins.
fn q4k_group(m: Mat, n: u32, k: u32) -> vec2<f32> {
  let h = w4[q4k_block(m, n, k) / 4u];
  let sm = vec2<f32>(q4k_scale_min(h, (k / 32u) % 8u));
  let dm = f16x2(h.x);
  return vec2<f32>(dm.x * sm.x, -(dm.y * sm.y));
}

fn q4k_word(m: Mat, n: u32, k: u32) -> u32 {  // the word of nibbles holding k .. k + 3 (k % 4 == 0)
  return q4k_block(m, n, k) + select(4u, 12u, m.fmt == FMT_Q5K) + ((k % 256u) / 64u) * 8u + (k % 32u) / 4u;
}

fn low4(word: u32, shift: u32) -> vec4<f32> {  // four consecutive k: the low or high nibbles of a word
  return vec4<f32>(unpack4xU8((word >> shift) & 0x0F0F0F0Fu));
}

// Q6_K without its d: ql (words 0..31), qh (32..47), 16 int8 scales (48..51). In each half h of
// 128 k, k = 128h + 32q + l is the low nibble (q < 2) or high nibble of ql byte 64h + 32(q % 2) + l
// and bits 2q, 2q + 1 of qh byte 32h + l; q - 32 its value, scale d * scales[(k % 256) / 16].
fn q6k_block(m: Mat, n: u32, k: u32) -> u32 {
  return m.codes + (n * (K / 256u) + k / 256u) * 52u;
}

fn q6k_ql(m: Mat, n: u32, k: u32) -> u32 {  // the ql word holding k .. k + 3 (k % 4 == 0); qh's is q6k_qh
  let e = k % 256u;
  return q6k_block(m, n, k) + (e / 128u) * 16u + ((e / 32u) % 2u) * 8u + (e % 32u) / 4u;
}

fn q6k_qh(m: Mat, n: u32, k: u32) -> u32 {
  let e = k % 256u;
  return q6k_block(m, n, k) + 32u + (e / 128u) * 8u + (e % 32u) / 4u;
}

fn q6k_values(ql: u32, qh: u32, k: u32) -> vec4<f32> {  // four consecutive k from their ql and qh words
  let q = (k / 32u) % 4u;
  let codes = ((ql >> ((q / 2u) * 4u)) & 0x0F0F0F0Fu) | (((qh >> (2u * q)) & 0x03030303u) << 4u);
  return vec4<f32>(vec4<i32>(unpack4xU8(codes)) - vec4<i32>(32));
}

fn q6k_group(m: Mat, n: u32, k: u32) -> vec2<f32> {
  let s = (k % 256u) / 16u;
  let sc = bitcast<i32>(w[q6k_block(m, n, k) + 48u + s / 4u] << (24u - 8u * (s % 4u))) >> 24u;
  return vec2<f32>(wf(m.scales + n * (K / 256u) + k / 256u) * f32(sc), 0.0);
}

fn codes_of(m: Mat, row: u32, u: u32) -> X8 {
  let n = min(row, m.n - 1u);  // a last chunk past N reads a real row; its result is dropped
  let f = codes_fmt(m.fmt);
  if (f == FMT_Q6K) {
    let k = 8u * u;
    let a = q6k_ql(m, n, k);
    let h = q6k_qh(m, n, k);
    return X8(q6k_values(w[a], w[h], k), q6k_values(w[a + 1u], w[h + 1u], k));
  }
  if (f == FMT_Q4K || f == FMT_Q5K) {
    let a = q4k_word(m, n, 8u * u);
    let shift = ((u / 4u) % 2u) * 4u;  // k / 32 odd: the high nibbles
    var q = X8(low4(w[a], shift), low4(w[a + 1u], shift));
    if (f == FMT_Q5K) {
      let h = q5k_qh(m, n, 8u * u);
      q = X8(q.lo + high4(w[h], 8u * u), q.hi + high4(w[h + 1u], 8u * u));
    }
    return q;
  }
  if (f == FMT_F32) {
    let a = m.codes + n * K + 8u * u;
    return X8(vec4<f32>(wf(a), wf(a + 1u), wf(a + 2u), wf(a + 3u)),
              vec4<f32>(wf(a + 4u), wf(a + 5u), wf(a + 6u), wf(a + 7u)));
  }
  if (f == FMT_Q8 || f == FMT_Q8A) {
    let a = m.codes + n * (K / 4u) + 2u * u;
    return X8(vec4<f32>(unpack4xI8(w[a])), vec4<f32>(unpack4xI8(w[a + 1u])));
  }
  let q = nibbles(w[m.codes + n * (K / 8u) + u]);
  if (m.fmt == FMT_Q5SH || m.fmt == FMT_Q5AH) {
    return fifth(q, fifths(m, n, 8u * u) >> ((u % 4u) * 8u));
  }
  return q;
}

// Loop group g (GS values) of row n: (scale, offset) of the matrix's group that holds it, so
// that a weight is scale * code + offset.
fn group_of(m: Mat, row: u32, g: u32) -> vec2<f32> {
  if (m.fmt == FMT_F32) { return vec2<f32>(1.0, 0.0); }
  if (m.fmt == FMT_Q4K || m.fmt == FMT_Q5K) { return q4k_group(m, min(row, m.n - 1u), g * GS); }
  if (m.fmt == FMT_Q6K) { return q6k_group(m, min(row, m.n - 1u), g * GS); }
  if (is_half(m.fmt)) { return half_group(m, min(row, m.n - 1u), g * GS / m.gs); }
  let t = (g * GS / m.gs) * m.pn + min(row, m.n - 1u);
  let s = wf(m.scales + t);
  if (m.fmt == FMT_Q4A || m.fmt == FMT_Q8A) { return vec2<f32>(s, wf(m.offsets + t)); }
  if (m.fmt == FMT_Q4S) { return vec2<f32>(s, -8.0 * s); }
  return vec2<f32>(s, 0.0);
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
struct X32 {
  a: X8,
  b: X8,
  c: X8,
  d: X8,
}

fn wv(i: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(w4[i]);
}

fn nibbles(word: u32) -> X8 {
  let even = vec4<f32>(unpack4xU8(word & 0x0F0F0F0Fu));
  let odd = vec4<f32>(unpack4xU8((word >> 4u) & 0x0F0F0F0Fu));
  return X8(vec4<f32>(even.x, odd.x, even.y, odd.y), vec4<f32>(even.z, odd.z, even.w, odd.w));
}

fn bytes8(a: u32, b: u32) -> X8 {
  return X8(vec4<f32>(unpack4xI8(a)), vec4<f32>(unpack4xI8(b)));
}

// Codes of chunk c of a row (k = 32c .. 32c + 31).
fn chunk_codes(m: Mat, row: u32, c: u32) -> X32 {
  let n = min(row, m.n - 1u);
  let f = codes_fmt(m.fmt);
  if (f == FMT_F32) {
    let a = (m.codes + n * K) / 4u + 8u * c;
    return X32(X8(wv(a), wv(a + 1u)), X8(wv(a + 2u), wv(a + 3u)), X8(wv(a + 4u), wv(a + 5u)), X8(wv(a + 6u), wv(a + 7u)));
  }
  if (f == FMT_Q4K || f == FMT_Q5K) {
    let a = q4k_word(m, n, 32u * c) / 4u;  // 8 words on 16 bytes: blocks are 36 (44) words
    let shift = (c % 2u) * 4u;
    let lo = w4[a];
    let hi = w4[a + 1u];
    var q = X32(X8(low4(lo.x, shift), low4(lo.y, shift)), X8(low4(lo.z, shift), low4(lo.w, shift)),
                X8(low4(hi.x, shift), low4(hi.y, shift)), X8(low4(hi.z, shift), low4(hi.w, shift)));
    if (f == FMT_Q5K) {  // the chunk's fifth bits: bit c % 8 of the block's 32 qh bytes
      let k = 32u * c;
      let h = q5k_qh(m, n, k) / 4u;
      let h0 = w4[h];
      let h1 = w4[h + 1u];
      q = X32(X8(q.a.lo + high4(h0.x, k), q.a.hi + high4(h0.y, k)), X8(q.b.lo + high4(h0.z, k), q.b.hi + high4(h0.w, k)),
              X8(q.c.lo + high4(h1.x, k), q.c.hi + high4(h1.y, k)), X8(q.d.lo + high4(h1.z, k), q.d.hi + high4(h1.w, k)));
    }
    return q;
  }
  if (f == FMT_Q6K) {
    let k = 32u * c;
    let a = q6k_ql(m, n, k) / 4u;  // 8 words of ql and 8 of qh, each on 16 bytes: blocks are 52 words
    let h = q6k_qh(m, n, k) / 4u;
    let l0 = w4[a];
    let l1 = w4[a + 1u];
    let h0 = w4[h];
    let h1 = w4[h + 1u];
    return X32(X8(q6k_values(l0.x, h0.x, k), q6k_values(l0.y, h0.y, k)), X8(q6k_values(l0.z, h0.z, k), q6k_values(l0.w, h0.w, k)),
               X8(q6k_values(l1.x, h1.x, k), q6k_values(l1.y, h1.y, k)), X8(q6k_values(l1.z, h1.z, k), q6k_values(l1.w, h1.w, k)));
  }
  if (f == FMT_Q8 || f == FMT_Q8A) {
    let a = (m.codes + n * (K / 4u)) / 4u + 2u * c;
    let lo = w4[a];
    let hi = w4[a + 1u];
    return X32(bytes8(lo.x, lo.y), bytes8(lo.z, lo.w), bytes8(hi.x, hi.y), bytes8(hi.z, hi.w));
  }
  let q = w4[(m.codes + n * (K / 8u)) / 4u + c];
  if (m.fmt == FMT_Q5SH || m.fmt == FMT_Q5AH) {
    let h = fifths(m, n, 32u * c);
    return X32(fifth(nibbles(q.x), h), fifth(nibbles(q.y), h >> 8u), fifth(nibbles(q.z), h >> 16u), fifth(nibbles(q.w), h >> 24u));
  }
  return X32(nibbles(q.x), nibbles(q.y), nibbles(q.z), nibbles(q.w));
}

fn fifth(q: X8, bits: u32) -> X8 {  // eight codes with their fifth bits (bits 0..7 of `bits`)
  return X8(q.lo + high4b(bits), q.hi + high4b(bits >> 4u));
}

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

// (scale, offset) of the matrix's group holding k of row n.
fn group_at(m: Mat, row: u32, k: u32) -> vec2<f32> {
  if (m.fmt == FMT_F32) { return vec2<f32>(1.0, 0.0); }
  if (m.fmt == FMT_Q4K || m.fmt == FMT_Q5K) { return q4k_group(m, min(row, m.n - 1u), k); }
  if (m.fmt == FMT_Q6K) { return q6k_group(m, min(row, m.n - 1u), k); }
  if (is_half(m.fmt)) { return half_group(m, min(row, m.n - 1u), k / m.gs); }
  let t = (k / m.gs) * m.pn + min(row, m.n - 1u);
  let s = wf(m.scales + t);
  if (m.fmt == FMT_Q4A || m.fmt == FMT_Q8A) { return vec2<f32>(s, wf(m.offsets + t)); }
  if (m.fmt == FMT_Q4S) { return vec2<f32>(s, -8.0 * s); }
  return vec2<f32>(s, 0.0);
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
fn q4k_scale_min(h: vec4<u32>, j: u32) -> vec2<u32> {
  let at = (j % 4u) * 8u;
  let lo = (h.y >> at) & 0xFFu;
  let mid = (h.z >> at) & 0xFFu;
  let hi = (h.w >> at) & 0xFFu;
  if (j < 4u) { return vec2<u32>(lo & 63u, mid & 63u); }
  return vec2<u32>((hi & 0xFu) | ((lo >> 6u) << 4u), (hi >> 4u) | ((mid >> 6u) << 4u));
}

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
