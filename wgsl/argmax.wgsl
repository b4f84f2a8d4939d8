// argmax over x[0..N): STAGE 0 has each of CHUNKS invocations scan CHUNK elements into
// (max, index) pairs; STAGE 1 has one invocation scan those pairs. The lowest index wins a
// tie, as numpy's argmax. Two dispatches without barriers (SwiftShader runs barriers slowly).
// #include "common/grid.wgsl"
override STAGE: u32;
override N: u32;                 // elements of x
override CHUNK: u32;             // elements per stage-0 invocation
override CHUNKS: u32;            // ceil(N / CHUNK)
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> dst: array<u32>;  // stage 0: (CHUNKS, 2); stage 1: (2,) = (index, max bits)
@group(0) @binding(1) var<storage, read> src: array<u32>;        // stage 0: x (N,) f32 bits; stage 1: pairs

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat_workgroup(wid, nwg) * WG + lid.x;
  if (STAGE == 0u) {
    if (c >= CHUNKS) { return; }
    let end = min((c + 1u) * CHUNK, N);
    var best = c * CHUNK;
    for (var i = best + 1u; i < end; i++) {
      if (bitcast<f32>(src[i]) > bitcast<f32>(src[best])) { best = i; }
    }
    dst[2u * c] = src[best];
    dst[2u * c + 1u] = best;
  } else {
    if (c > 0u) { return; }
    var best = 0u;
    for (var j = 1u; j < CHUNKS; j++) {
      if (bitcast<f32>(src[2u * j]) > bitcast<f32>(src[2u * best])) { best = j; }
    }
    dst[0] = src[2u * best + 1u];
    dst[1] = src[2u * best];
  }
}
