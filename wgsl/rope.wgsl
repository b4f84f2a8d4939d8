// rope: rotate each adjacent pair (2i, 2i+1) of t[s, h, :] by the angle of position pos + s,
// in place. cos/sin come from tables computed once in float64 (llama.cpp's pairing for GGUF).
// #include "common/grid.wgsl"
override H: u32;                 // heads
override D: u32;                 // head dim (even)
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> t: array<f32>;    // (S, H, D) f32
@group(0) @binding(1) var<storage, read> cos_t: array<f32>;      // (Cmax, D/2) f32
@group(0) @binding(2) var<storage, read> sin_t: array<f32>;      // (Cmax, D/2) f32
struct Params {  // graph.uniform(..., pos=, rows=) in its op (tests/test_shaders.py checks)
  pos: u32,       // position of row 0
  rows: u32,      // live rows
}
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = D / 2u;
  let idx = flat_workgroup(wid, nwg) * WG + lid.x;
  if (idx >= params.rows * H * half) { return; }
  let i = idx % half;
  let s = idx / (half * H);
  let e = (idx / half) * D + 2u * i;           // (s, h) row, pair i
  let a = (params.pos + s) * half + i;
  let c = cos_t[a];
  let sn = sin_t[a];
  let x0 = t[e];
  let x1 = t[e + 1u];
  t[e] = x0 * c - x1 * sn;
  t[e + 1u] = x0 * sn + x1 * c;
}
