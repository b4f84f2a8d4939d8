// Workgroup reductions for the "workgroups" kernel style (real GPUs). The includer declares
// `override WG` (a power of two) and calls tree() from uniform control flow only.
var<workgroup> red: array<f32, WG>;

// Tree-combine red[0..WG) into red[0] (max or sum); every thread of the workgroup calls it.
fn tree(use_max: bool, t: u32) -> f32 {
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step /= 2u) {
    if (t < step) {
      if (use_max) { red[t] = max(red[t], red[t + step]); } else { red[t] += red[t + step]; }
    }
    workgroupBarrier();
  }
  let v = red[0];
  workgroupBarrier();  // red is reused right after
  return v;
}
