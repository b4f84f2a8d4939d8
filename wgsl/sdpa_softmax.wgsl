// Row softmax over the visible keys c <= s + input_pos of attn[h, s, :], in place.
// The row max is subtracted first, so logits near 177 do not overflow exp().
// Lanes style: one invocation per (h, s) row, no barriers. REDUCE: a workgroup per row.
// #include "common/grid.wgsl"
// #include "common/sdpa_header.wgsl"

@group(0) @binding(0) var<storage, read_write> attn: array<f32>;  // (HQ, S_MAX, CMAX) f32
@group(0) @binding(1) var<uniform> params: SdpaParams;

fn softmax_shared(row: u32, t: u32) {
  let visible = row % params.s + params.pos + 1u;
  let base = ((row / params.s) * S_MAX + row % params.s) * CMAX;
  var top = -3.4e38;
  for (var c = t; c < visible; c += WG) { top = max(top, attn[base + c]); }
  red[t] = top;
  top = tree(true, t);
  var total = 0.0;
  for (var c = t; c < visible; c += WG) {
    let e = exp(attn[base + c] - top);
    attn[base + c] = e;
    total += e;
  }
  red[t] = total;
  let inv = 1.0 / tree(false, t);
  for (var c = t; c < visible; c += WG) { attn[base + c] *= inv; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  if (REDUCE) {
    let r = flat_workgroup(wid, nwg);  // uniform: the barriers stay in uniform control flow
    if (r < HQ * params.s) { softmax_shared(r, lid.x); }
    return;
  }
  let row = flat_workgroup(wid, nwg) * WG + lid.x;
  if (row >= HQ * params.s) { return; }
  let h = row / params.s;
  let s = row % params.s;
  let visible = s + params.pos + 1u;
  let base = (h * S_MAX + s) * CMAX;
  var top = attn[base];
  for (var c = 1u; c < visible; c++) {
    top = max(top, attn[base + c]);
  }
  var total = 0.0;
  for (var c = 0u; c < visible; c++) {
    let e = exp(attn[base + c] - top);
    attn[base + c] = e;
    total += e;
  }
  let inv = 1.0 / total;
  for (var c = 0u; c < visible; c++) {
    attn[base + c] *= inv;
  }
}
