// softcap: x[i] = CAP * tanh(x[i] / CAP) in place, for i < count (Gemma 2's final logits).
// #include "common/grid.wgsl"
// #include "common/elementwise.wgsl"
// #include "common/activation.wgsl"
override WG: u32 = 64u;
override CAP: f32;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;    // (S, N) f32
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = element(wid, lid, nwg);
  if (i >= params.count) { return; }
  x[i] = soft_cap(x[i], CAP);
}
