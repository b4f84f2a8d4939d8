// embedding: out[s, k] = table[tokens[s], k], dequantized from the table's stored format:
// FORMAT 0 = f32, 1 = q8gsw (int8 * scale), 2 = q4gsw ((nib - 8) * scale), 3 = q4gaw
// (nib * scale + offset), 4 = q8gaw (int8 * scale + offset); scales/offsets are (G, PADDED_N)
// with n the token id. Rows come out times SCALE (Gemma: sqrt(K)).
// #include "common/grid.wgsl"
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid.x;
  if (i >= params.rows * K) { return; }
  let k = i % K;
  let n = u32(clamp(tokens[i / K], 0, i32(V) - 1));  // ids are checked on the host; never read out of bounds
  let g = (k / GS) * PADDED_N + n;
  var v = 0.0;
  if (FORMAT == 0u) {
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
