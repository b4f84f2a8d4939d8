// rms_norm: out[r, :] = x[first + r, :] / sqrt(mean(x^2) + EPS) * weight, for r < rows.
// One invocation per row, no barriers. `first` lets the final norm take only the last row.
// #include "common/grid.wgsl"
override DIM: u32;
override EPS: f32;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (rows, DIM) f32
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (S, DIM) f32
@group(0) @binding(2) var<storage, read> weight: array<f32>;     // (DIM,) f32
@group(0) @binding(3) var<uniform> params: vec4<u32>;            // (first, rows, -, -)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = flat_workgroup(wid, nwg) * WG + lid.x;
  if (r >= params.y) { return; }
  let src = (params.x + r) * DIM;
  var ss = 0.0;
  for (var i = 0u; i < DIM; i++) {
    let v = x[src + i];
    ss += v * v;
  }
  let inv = 1.0 / sqrt(ss / f32(DIM) + EPS);
  for (var i = 0u; i < DIM; i++) {
    out[r * DIM + i] = x[src + i] * inv * weight[i];
  }
}
