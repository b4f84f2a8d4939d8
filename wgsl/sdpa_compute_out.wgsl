// out[s, h, d] = sum over visible c of attn[h, s, c] * v_cache[c, h / (HQ/HKV), d].
// One invocation per (s, h, d) output element.
// #include "common/grid.wgsl"
// #include "common/sdpa_header.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<f32>;   // (1, S_MAX, HQ, D) f32
@group(0) @binding(1) var<storage, read> attn: array<f32>;        // (HQ, S_MAX, CMAX) f32
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;     // (1, CMAX, HKV, D) f32
@group(0) @binding(3) var<uniform> params: SdpaParams;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid.x;
  if (i >= params.s * HQ * D) { return; }
  let d = i % D;
  let h = (i / D) % HQ;
  let s = i / (D * HQ);
  let visible = s + params.pos + 1u;
  let ab = (h * S_MAX + s) * CMAX;
  let vh = h / (HQ / HKV);
  var acc = 0.0;
  for (var c = 0u; c < visible; c++) {
    acc += attn[ab + c] * v_cache[(c * HKV + vh) * D + d];
  }
  out[i] = acc;
}
