// silu_mul: out[i] = silu(gate[i]) * up[i] = gate / (1 + exp(-gate)) * up, for i < count.
// #include "common/grid.wgsl"
// #include "common/elementwise.wgsl"
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (S, F) f32
@group(0) @binding(1) var<storage, read> gate: array<f32>;       // (S, F) f32
@group(0) @binding(2) var<storage, read> up: array<f32>;         // (S, F) f32
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = element(wid, lid, nwg);
  if (i >= params.count) { return; }
  let g = gate[i];
  out[i] = g / (1.0 + exp(-g)) * up[i];
}
