// add: x[i] += y[i] in place, for i < count (the residual stream).
// #include "common/grid.wgsl"
// #include "common/elementwise.wgsl"
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;    // (S, DIM) f32
@group(0) @binding(1) var<storage, read> y: array<f32>;          // (S, DIM) f32
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = element(wid, lid, nwg);
  if (i >= params.count) { return; }
  x[i] += y[i];
}
