// attention_combine: merge the splits' softmax partials of each (row, query head) into the
// attention output: out[m, h, d] = sum_s e^(max_s - M) acc_s[d] / sum_s e^(max_s - M) sum_s.
// An invocation per four output elements; only the splits that hold keys of row m are read,
// in one pass (a running max rescales what is summed so far).
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
  // One pass with a running max, four splits at a time: their loads go out together.
  var top = -3.4e38;
  var num = vec4<f32>(0.0);
  var den = 0.0;
  for (var s0 = 0u; s0 < used; s0 += 4u) {
    var ml: array<vec4<f32>, 4>;
    var acc: array<vec4<f32>, 4>;
    for (var k = 0u; k < 4u; k++) {
      let r = r0 + min(s0 + k, used - 1u) * (D4 + 1u);
      ml[k] = part[r + D4];
      acc[k] = part[r + d];
    }
    for (var k = 0u; k < 4u; k++) {
      if (s0 + k < used) {
        let top2 = max(top, ml[k].x);
        let rescale = exp(top - top2);
        let e = exp(ml[k].x - top2);
        num = num * rescale + e * acc[k];
        den = den * rescale + e * ml[k].y;
        top = top2;
      }
    }
  }
  out[i] = num / den;
}
