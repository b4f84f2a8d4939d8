// linear_q4gaw: out[m, n] = sum_k x[m, k] * (nib(n, k) * scales[g, n] + offsets[g, n]) + bias[n]
// Per group: scale * sum(x * q) + offset * sum(x), both sums in fp32. Packing as linear_q4gsw.
// #include "common/grid.wgsl"
// #include "common/linear_header.wgsl"
// #include "common/packed_weight.wgsl"
// #include "common/linear_decode.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (M, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (M, K) f32, 16-byte padded
@group(0) @binding(2) var<storage, read> weight: array<u32>;     // (N, ceil(K/2)) u8, LE words
@group(0) @binding(3) var<storage, read> scales: array<f32>;     // (G, PADDED_N) f32
@group(0) @binding(4) var<storage, read> offsets: array<f32>;    // (G, PADDED_N) f32
@group(0) @binding(5) var<storage, read> bias: array<f32>;       // (N,) f32 or a placeholder
@group(0) @binding(6) var<uniform> params: vec4<u32>;            // (M = live rows, -, -, -)

// (sum of x * q, sum of x) over the 8 k of word w, x from flat element e (a multiple of 8).
fn word_sums(w: u32, e: u32) -> vec2<f32> {
  let even = vec4<f32>(unpack4xU8(w & 0x0F0F0F0Fu));          // k0 + 0, 2, 4, 6
  let odd = vec4<f32>(unpack4xU8((w >> 4u) & 0x0F0F0F0Fu));   // k0 + 1, 3, 5, 7
  let a = x[e >> 2u];
  let b = x[(e >> 2u) + 1u];
  let xq = dot(vec4<f32>(a.x, a.z, b.x, b.z), even) + dot(vec4<f32>(a.y, a.w, b.y, b.w), odd);
  return vec2<f32>(xq, dot(a + b, vec4<f32>(1.0)));
}

const WORD_K = 8u;  // nibbles per weight word

// sum over word i's 8 k of x[k] * q (q the raw nibble, 0..15); M == 1
fn word_xq(w: u32, i: u32) -> f32 {
  let a = x[2u * i];
  let b = x[2u * i + 1u];
  return dot(vec4<f32>(a.x, a.z, b.x, b.z), vec4<f32>(unpack4xU8(w & 0x0F0F0F0Fu)))
       + dot(vec4<f32>(a.y, a.w, b.y, b.w), vec4<f32>(unpack4xU8((w >> 4u) & 0x0F0F0F0Fu)));
}

fn group_scale(t: u32) -> f32 { return scales[t]; }
fn group_offset(t: u32) -> f32 { return offsets[t]; }

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
  let row_bytes = (K + 1u) / 2u;
  let words = (K + 7u) / 8u;
  let fast = ALIGNED && (K % 8u) == 0u;
  var acc = vec4<f32>(0.0);
  for (var g = 0u; g * GS < K; g++) {
    var xq = vec4<f32>(0.0);
    var xs = vec4<f32>(0.0);
    let i1 = min((g + 1u) * (GS / 8u), words);
    for (var i = g * (GS / 8u); i < i1; i++) {
      let w = row_word(n, i, row_bytes);
      let k0 = 8u * i;
      if (fast && TILE_M == 1u) {
        let sums = word_sums(w, m0 * K + k0);  // decode: one row, no row loop
        xq.x += sums.x;
        xs.x += sums.y;
      } else if (fast) {
        for (var t = 0u; t < rows; t++) {
          let sums = word_sums(w, (m0 + t) * K + k0);
          xq[t] += sums.x;
          xs[t] += sums.y;
        }
      } else {
        let count = min(8u, K - k0);
        for (var j = 0u; j < count; j++) {
          let q = f32((w >> (4u * j)) & 0xFu);
          for (var t = 0u; t < rows; t++) {
            let xv = x_at((m0 + t) * K + k0 + j);
            xq[t] += xv * q;
            xs[t] += xv;
          }
        }
      }
    }
    acc += xq * scales[g * PADDED_N + n] + xs * offsets[g * PADDED_N + n];
  }
  linear_store(n, m0, rows, acc);
}
