// The weight formats the fused kernels read from a layer's arena (pyapp/runtime/model/weights.py
// places them; FORMAT_CODES there are the FMT_ codes here): a Mat names a matrix's format and the
// word offsets of its codes and group tables; codes_of and chunk_codes decode 8 or 32
// consecutive codes of a row, group_of and group_at give the (scale, offset) of the group holding
// them, so that a weight is scale * code + offset. The including shader binds the arena as
// `w: array<u32>` and `w4: array<vec4<u32>>` and declares K and GS (common/fused_header.wgsl).
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
  return group_at(m, row, g * GS);
}

// 32 consecutive codes of a row (a chunk: k = 32c .. 32c + 31), as the WIDE reads take them.
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

// Q4_K's 6-bit scale and min of sub-block j from the block's header h (ggml's get_scale_min_k4).
fn q4k_scale_min(h: vec4<u32>, j: u32) -> vec2<u32> {
  let at = (j % 4u) * 8u;
  let lo = (h.y >> at) & 0xFFu;
  let mid = (h.z >> at) & 0xFFu;
  let hi = (h.w >> at) & 0xFFu;
  if (j < 4u) { return vec2<u32>(lo & 63u, mid & 63u); }
  return vec2<u32>((hi & 0xFu) | ((lo >> 6u) << 4u), (hi >> 4u) | ((mid >> 6u) << 4u));
}
