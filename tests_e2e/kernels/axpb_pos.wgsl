// A user kernel for the infrastructure tests: out[i] = x[i] * SCALE + pos, for i < n.
// `pos` is a SymInt (a live uniform); `n` is a uniform a resize hook may rewrite.
override WG: u32 = 64;
override SCALE: f32 = 1.0;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (N,) f32
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N,) f32
@group(0) @binding(2) var<uniform> pos: vec4<i32>;               // SymInt: .x
@group(0) @binding(3) var<uniform> n: vec4<u32>;                 // .x = elements to write

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid.x;  // 2-D folded grid
  if (i >= n.x) { return; }
  out[i] = x[i] * SCALE + f32(pos.x);
}
