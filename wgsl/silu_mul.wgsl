// silu_mul: out[i] = silu(gate[i]) * up[i] = gate / (1 + exp(-gate)) * up, for i < count;
// ACT 1: GeGLU's gelu(gate) * up instead (Gemma; the tanh form, as llama.cpp and HF's gelu_pytorch_tanh).
// #include "common/grid.wgsl"
// #include "common/elementwise.wgsl"
// #include "common/activation.wgsl"
override WG: u32 = 64u;
override ACT: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (S, F) f32
@group(0) @binding(1) var<storage, read> gate: array<f32>;       // (S, F) f32
@group(0) @binding(2) var<storage, read> up: array<f32>;         // (S, F) f32
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = element(wid, lid, nwg);
  if (i >= params.count) { return; }
  out[i] = activate(ACT, gate[i]) * up[i];
}
