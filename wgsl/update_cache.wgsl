// update_cache: cache[0, pos:pos+S] = value[0], in place. Offset and count come from a uniform
// that the op's resize hook rewrites when input_pos or seq_len change; nothing is rebuilt.
// #include "common/grid.wgsl"
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> cache: array<f32>;  // (1, Cmax, H, D) f32
@group(0) @binding(1) var<storage, read> value: array<f32>;        // (1, S_max, H, D) f32
struct Params {  // graph.uniform(..., offset=, count=) in its op (tests/test_shaders.py checks)
  offset: u32,    // pos * H * D: where the value goes
  count: u32,     // S * H * D: elements written
}
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid.x;
  if (i >= params.count) { return; }
  cache[params.offset + i] = value[i];
}
