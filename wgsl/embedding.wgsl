// embedding: out[s, k] = table[tokens[s], k], dequantized from the table's stored format:
// FORMAT 0 = f32, 1 = q8gsw (int8 * scale), 2 = q4gsw ((nib - 8) * scale), 3 = q4gaw
// (nib * scale + offset), 4 = q8gaw (int8 * scale + offset); scales/offsets are (G, PADDED_N)
// with n the token id; 5 = q4k, 6 = q6k: the GGUF's own Q4_K / Q6_K blocks (runtime/ops/formats.py;
// q6k's d in `scales`, (V, K / 256)); 7..10: the codes of 1..4 with the file's f16 scales
// (formats.HALF_TABLES: (V, PADDED_N) words a row); 11 = q5k, Q5_K's blocks; 12, 13 = Q5_0, Q5_1
// (formats.FIFTH_BITS: 2's and 3's nibbles, the half tables, fifth bits in `offsets`). Rows come out times SCALE (Gemma: sqrt(K)).
// #include "common/grid.wgsl"
// #include "common/f16.wgsl"
override FORMAT: u32;
override K: u32;                 // embedding dim
override V: u32;                 // vocab rows
override GS: u32 = 32u;
override PADDED_N: u32 = 8u;
override WG: u32 = 64u;
override SCALE: f32 = 1.0;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (S, K) f32
@group(0) @binding(1) var<storage, read> tokens: array<i32>;     // (S,) i32
@group(0) @binding(2) var<storage, read> table: array<u32>;      // (V, K) as stored, LE words
@group(0) @binding(3) var<storage, read> scales: array<u32>;     // (G, PADDED_N) f32 bits, f16 pairs, or placeholder
@group(0) @binding(4) var<storage, read> offsets: array<u32>;    // (G, PADDED_N) f32 bits, Q5's fifth bits (V, K / 32), or placeholder
struct Params {  // graph.uniform(..., rows=) in its op (tests/test_shaders.py checks)
  rows: u32,      // live rows
}
@group(0) @binding(5) var<uniform> params: Params;

fn byte_at(b: u32) -> u32 {
  return (table[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu;
}

// Element k of row n of Q4_K blocks (144 bytes: d, dmin, 12 bytes of 6-bit scales and mins, 128 of
// nibbles) or Q5_K's (176 bytes: that header, 32 bytes of fifth bits, then the nibbles; bit j of
// qh byte l is k = 32j + l's): d * sc * q - dmin * m of its sub-block of 32 (ggml's get_scale_min_k4).
fn k_quant_at(n: u32, k: u32, q5: bool) -> f32 {
  let b = (n * (K / 256u) + k / 256u) * select(144u, 176u, q5);
  let e = k % 256u;
  let j = e / 32u;
  var q = (byte_at(b + select(16u, 48u, q5) + (e / 64u) * 32u + e % 32u) >> ((j % 2u) * 4u)) & 0xFu;
  if (q5) { q |= ((byte_at(b + 16u + e % 32u) >> j) & 1u) << 4u; }
  var sm = vec2<u32>(byte_at(b + 4u + j) & 63u, byte_at(b + 8u + j) & 63u);
  if (j >= 4u) {
    let low = byte_at(b + 8u + j);
    sm = vec2<u32>((low & 0xFu) | ((byte_at(b + j) >> 6u) << 4u), (low >> 4u) | ((byte_at(b + 4u + j) >> 6u) << 4u));
  }
  let dm = f16x2(table[b / 4u]);
  return dm.x * f32(sm.x) * f32(q) - dm.y * f32(sm.y);
}

// Element k of row n of Q6_K blocks without their d (208 bytes: ql, qh, 16 int8 scales; d in
// scales[n, k / 256]): d * sc * (q - 32) of its sub-block of 16.
fn q6k_at(n: u32, k: u32) -> f32 {
  let b = (n * (K / 256u) + k / 256u) * 208u;
  let e = k % 256u;
  let half = e / 128u;
  let r = e % 128u;
  let low = (byte_at(b + half * 64u + r % 64u) >> ((r / 64u) * 4u)) & 0xFu;
  let high = (byte_at(b + 128u + half * 32u + r % 32u) >> ((r / 32u) * 2u)) & 3u;
  let sc = bitcast<i32>(byte_at(b + 192u + e / 16u) << 24u) >> 24u;
  return bitcast<f32>(scales[n * (K / 256u) + k / 256u]) * f32(sc) * f32(i32(low | (high << 4u)) - 32);
}

fn codes_format(f: u32) -> u32 {  // the half formats' codes are 1..4's; Q5_0/Q5_1's nibbles 2's / 3's
  if (f >= 7u && f <= 10u) { return f - 6u; }
  if (f == 12u || f == 13u) { return f - 10u; }
  return f;
}

// (scale, offset) of group g of row n: the f32 tables, or the f16 words of the half formats.
fn group(n: u32, g: u32) -> vec2<f32> {
  if (FORMAT == 9u || FORMAT == 10u || FORMAT == 13u) { return f16x2(scales[n * PADDED_N + g]); }
  if (FORMAT == 7u || FORMAT == 8u || FORMAT == 12u) {
    let pair = f16x2(scales[n * PADDED_N + g / 2u]);
    return vec2<f32>(select(pair.x, pair.y, g % 2u == 1u), 0.0);
  }
  let t = g * PADDED_N + n;
  if (FORMAT == 3u || FORMAT == 4u) { return vec2<f32>(bitcast<f32>(scales[t]), bitcast<f32>(offsets[t])); }
  return vec2<f32>(bitcast<f32>(scales[t]), 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid.x;
  if (i >= params.rows * K) { return; }
  let k = i % K;
  let n = u32(clamp(tokens[i / K], 0, i32(V) - 1));  // ids are checked on the host; never read out of bounds
  let codes = codes_format(FORMAT);
  var v = 0.0;
  if (FORMAT == 5u || FORMAT == 11u) {
    v = k_quant_at(n, k, FORMAT == 11u);
  } else if (FORMAT == 6u) {
    v = q6k_at(n, k);
  } else if (FORMAT == 0u) {
    v = bitcast<f32>(table[n * K + k]);
  } else {
    let so = group(n, k / GS);
    if (codes == 1u || codes == 4u) {
      v = f32(bitcast<i32>(byte_at(n * K + k) << 24u) >> 24u) * so.x;
    } else {
      var nib = (byte_at(n * ((K + 1u) / 2u) + k / 2u) >> ((k & 1u) * 4u)) & 0xFu;
      var zero = select(0.0, 8.0, codes == 2u);
      if (FORMAT == 12u || FORMAT == 13u) {  // the fifth bit: bit k % 32 of the group's word
        nib |= ((offsets[n * (K / 32u) + k / 32u] >> (k % 32u)) & 1u) << 4u;
        zero *= 2.0;
      }
      v = (f32(nib) - zero) * so.x;
    }
    if (codes == 3u || codes == 4u) { v += so.y; }
  }
  out[i] = v * SCALE;
}
