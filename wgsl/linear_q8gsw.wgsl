// linear_q8gsw: out[m, n] = sum_k x[m, k] * q(n, k) * scales[k / GS, n] + bias[n]
// q is int8: word i of a row holds k = 4i + j in bits 8j..8j+7 (unpack4xI8 sign-extends).
// #include "common/grid.wgsl"
// #include "common/linear_header.wgsl"
// #include "common/packed_weight.wgsl"
// #include "common/linear_decode.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (M, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (M, K) f32, 16-byte padded
@group(0) @binding(2) var<storage, read> weight: array<u32>;     // (N, K) int8, LE words
@group(0) @binding(3) var<storage, read> scales: array<f32>;     // (G, PADDED_N) f32
@group(0) @binding(4) var<storage, read> bias: array<f32>;       // (N,) f32 or a placeholder
@group(0) @binding(5) var<uniform> params: vec4<u32>;            // (M = live rows, -, -, -)

const WORD_K = 4u;  // int8 values per weight word

fn word_xq(w: u32, i: u32) -> f32 {
  return dot(x[i], vec4<f32>(unpack4xI8(w)));
}

fn group_scale(t: u32) -> f32 { return scales[t]; }
fn group_offset(t: u32) -> f32 { return 0.0; }

fn x_at(e: u32) -> f32 {
  return x[e >> 2u][e & 3u];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  if (DECODE) {
    let c = (flat_workgroup(wid, nwg) * WG + lid.x) * DR;
    if (c < N) { decode_columns(c); }
    return;
  }
  let slot = linear_slot(wid, lid, nwg);
  let n = slot.x;
  let m0 = slot.y;
  let M = rows_m();
  if (m0 >= M) { return; }
  let rows = min(TILE_M, M - m0);
  let words = (K + 3u) / 4u;
  let fast = ALIGNED && (K % 4u) == 0u;
  var acc = vec4<f32>(0.0);
  for (var g = 0u; g * GS < K; g++) {
    var part = vec4<f32>(0.0);
    let i1 = min((g + 1u) * (GS / 4u), words);
    for (var i = g * (GS / 4u); i < i1; i++) {
      let w = row_word(n, i, K);
      let k0 = 4u * i;
      if (fast && TILE_M == 1u) {
        part.x += dot(x[(m0 * K + k0) >> 2u], vec4<f32>(unpack4xI8(w)));  // decode: one row
      } else if (fast) {
        let q = vec4<f32>(unpack4xI8(w));
        for (var t = 0u; t < rows; t++) {
          part[t] += dot(x[((m0 + t) * K + k0) >> 2u], q);
        }
      } else {
        let count = min(4u, K - k0);
        for (var j = 0u; j < count; j++) {
          let q = f32(bitcast<i32>(w << (24u - 8u * j)) >> 24u);
          for (var t = 0u; t < rows; t++) {
            part[t] += x_at((m0 + t) * K + k0 + j) * q;
          }
        }
      }
    }
    acc += part * scales[g * PADDED_N + n];
  }
  linear_store(n, m0, rows, acc);
}
