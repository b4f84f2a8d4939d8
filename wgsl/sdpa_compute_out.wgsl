// out[s, h, d] = sum over visible c of attn[h, s, c] * v_cache[c, h / (HQ/HKV), d].
// Lanes style: one invocation per (s, h, d). REDUCE: a workgroup per (s, h) whose threads
// split (d, stripes of c) and sum the stripes in shared memory (WG a multiple of D).
// #include "common/grid.wgsl"
// #include "common/sdpa_header.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<f32>;   // (1, S_MAX, HQ, D) f32
@group(0) @binding(1) var<storage, read> attn: array<f32>;        // (HQ, S_MAX, CMAX) f32
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;     // (1, CMAX, HKV, D) f32
@group(0) @binding(3) var<uniform> params: SdpaParams;

fn out_shared(sh: u32, t: u32) {
  let s = sh / HQ;
  let h = sh % HQ;
  let d = t % D;
  let stripes = WG / D;
  let visible = s + params.pos + 1u;
  let ab = (h * S_MAX + s) * CMAX;
  let vh = h / (HQ / HKV);
  var acc = 0.0;
  for (var c = t / D; c < visible; c += stripes) {
    acc += attn[ab + c] * v_cache[(c * HKV + vh) * D + d];
  }
  red[t] = acc;
  workgroupBarrier();
  if (t < D) {
    var sum = 0.0;
    for (var k = 0u; k < stripes; k++) { sum += red[k * D + t]; }
    out[sh * D + t] = sum;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  if (REDUCE) {
    let sh = flat_workgroup(wid, nwg);  // uniform per workgroup
    if (sh < params.s * HQ) { out_shared(sh, lid.x); }
    return;
  }
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
