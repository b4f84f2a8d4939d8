// linear_f32: out[m, n] = sum_k x[m, k] * weight[n, k] + bias[n], fp32 weights (GGUF F32/F16).
// One invocation per output element; vec4 loads when K is a multiple of 4.
// #include "common/grid.wgsl"
override N: u32;
override K: u32;
override HAS_BIAS: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (M, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (M, K) f32, 16-byte padded
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>; // (N, K) f32, 16-byte padded
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // (N,) f32 or a placeholder
struct Params {  // graph.uniform(..., m=) in its op (tests/test_shaders.py checks)
  m: u32,         // live rows (the op's resize hook)
}
@group(0) @binding(4) var<uniform> params: Params;

fn at(e: u32, from_weight: bool) -> f32 {
  if (from_weight) { return weight[e >> 2u][e & 3u]; }
  return x[e >> 2u][e & 3u];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_workgroup(wid, nwg) * WG + lid.x;
  let n = idx % N;
  let m = idx / N;
  if (m >= params.m) { return; }
  var acc = 0.0;
  if (K % 4u == 0u) {
    for (var i = 0u; i < K / 4u; i++) {
      acc += dot(x[m * (K / 4u) + i], weight[n * (K / 4u) + i]);
    }
  } else {
    for (var k = 0u; k < K; k++) {
      acc += at(m * K + k, false) * at(n * K + k, true);
    }
  }
  if (HAS_BIAS) { acc += bias[n]; }
  out[m * N + n] = acc;
}
