// embedding: out[s, k] = table[tokens[s], k], dequantized from the table's stored format:
// FORMAT 0 = f32, 1 = q8gsw (int8 * scale), 2 = q4gsw ((nib - 8) * scale), 3 = q4gaw
// (nib * scale + offset), 4 = q8gaw (int8 * scale + offset); scales/offsets are (G, PADDED_N)
// with n the token id; 5 = q4k, 6 = q6k: the GGUF's own Q4_K / Q6_K blocks (runtime/ops/formats.py;
// q6k's d in `scales`, (V, K / 256)). Rows come out times SCALE (Gemma: sqrt(K)).
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
@group(0) @binding(3) var<storage, read> scales: array<f32>;     // (G, PADDED_N) f32 or placeholder
@group(0) @binding(4) var<storage, read> offsets: array<f32>;    // (G, PADDED_N) f32 or placeholder
struct Params {  // graph.uniform(..., rows=) in its op (tests/test_shaders.py checks)
  rows: u32,      // live rows
}
@group(0) @binding(5) var<uniform> params: Params;

fn byte_at(b: u32) -> u32 {
  return (table[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu;
}

// Element k of row n of Q4_K blocks (144 bytes: d, dmin, 12 bytes of 6-bit scales and mins, 128 of
// nibbles): d * sc * q - dmin * m of its sub-block of 32 (ggml's get_scale_min_k4).
fn q4k_at(n: u32, k: u32) -> f32 {
  let b = (n * (K / 256u) + k / 256u) * 144u;
  let e = k % 256u;
  let j = e / 32u;
  let q = (byte_at(b + 16u + (e / 64u) * 32u + e % 32u) >> ((j % 2u) * 4u)) & 0xFu;
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
  return scales[n * (K / 256u) + k / 256u] * f32(sc) * f32(i32(low | (high << 4u)) - 32);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid.x;
  if (i >= params.rows * K) { return; }
  let k = i % K;
  let n = u32(clamp(tokens[i / K], 0, i32(V) - 1));  // ids are checked on the host; never read out of bounds
  let g = (k / GS) * PADDED_N + n;
  var v = 0.0;
  if (FORMAT == 5u) {
    v = q4k_at(n, k);
  } else if (FORMAT == 6u) {
    v = q6k_at(n, k);
  } else if (FORMAT == 0u) {
    v = bitcast<f32>(table[n * K + k]);
  } else if (FORMAT == 1u || FORMAT == 4u) {
    v = f32(bitcast<i32>(byte_at(n * K + k) << 24u) >> 24u) * scales[g];
    if (FORMAT == 4u) { v += offsets[g]; }
  } else {
    let nib = (byte_at(n * ((K + 1u) / 2u) + k / 2u) >> ((k & 1u) * 4u)) & 0xFu;
    if (FORMAT == 2u) {
      v = (f32(nib) - 8.0) * scales[g];
    } else {
      v = f32(nib) * scales[g] + offsets[g];
    }
  }
  out[i] = v * SCALE;
}
