// attention_combine: merge the splits' softmax partials of each (row, query head) into the
// attention output: out[m, h, d] = sum_s e^(max_s - M) acc_s[d] / sum_s e^(max_s - M) sum_s.
// An invocation per four output elements; only the splits that hold keys of row m are read.
// #include "common/grid.wgsl"
// #include "common/attention_header.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;  // (S, HQ * D) f32
@group(0) @binding(1) var<storage, read> part: array<vec4<f32>>;       // (S, HQ, NSPLIT, D/4 + 1) vec4
@group(0) @binding(2) var<uniform> pos: vec4<u32>;                     // SymInt input_pos: .x
@group(0) @binding(3) var<uniform> live: vec4<u32>;                    // rows this step: .x

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= live.x * HQ * D4) { return; }
  let d = i % D4;
  let h = (i / D4) % HQ;
  let m = i / (D4 * HQ);
  let chunk = chunk_for(pos.x + live.x);
  let used = (pos.x + m + chunk) / chunk;  // splits with keys 0 ..= pos + m
  let r0 = record(m, h, 0u);
  var top = -3.4e38;
  for (var s = 0u; s < used; s++) { top = max(top, part[r0 + s * (D4 + 1u) + D4].x); }
  var num = vec4<f32>(0.0);
  var den = 0.0;
  for (var s = 0u; s < used; s++) {
    let r = r0 + s * (D4 + 1u);
    let ml = part[r + D4];
    let e = exp(ml.x - top);
    num += e * part[r + d];
    den += e * ml.y;
  }
  out[i] = num / den;
}
