// attention_combine: merge the splits' softmax partials of each (row, query head) into the
// attention output: out[m, h, d] = sum_s e^(max_s - M) acc_s[d] / sum_s e^(max_s - M) sum_s.
// An invocation per output element; only the splits that hold keys of row m are read.
// #include "common/grid.wgsl"
// #include "common/attention_header.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<f32>;    // (S, HQ * D) f32
@group(0) @binding(1) var<storage, read> part: array<f32>;         // (S, HQ, NSPLIT, D + 2) f32
@group(0) @binding(2) var<uniform> pos: vec4<u32>;                 // SymInt input_pos: .x
@group(0) @binding(3) var<uniform> live: vec4<u32>;                // rows this step: .x

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= live.x * HQ * D) { return; }
  let d = i % D;
  let h = (i / D) % HQ;
  let m = i / (D * HQ);
  let chunk = chunk_for(pos.x + live.x);
  let used = (pos.x + m + chunk) / chunk;  // splits with keys 0 ..= pos + m
  var top = -3.4e38;
  for (var s = 0u; s < used; s++) { top = max(top, part[record(m, h, s)]); }
  var num = 0.0;
  var den = 0.0;
  for (var s = 0u; s < used; s++) {
    let r = record(m, h, s);
    let e = exp(part[r] - top);
    num += e * part[r + PARTIAL + d];
    den += e * part[r + 1u];
  }
  out[i] = num / den;
}
