// Shapes shared by the SDPA kernels (pyapp/runtime/ops/sdpa_with_kv_cache.py). Batch is 1.
override S_MAX: u32;             // rows the q/out/attn buffers hold; this step uses params.z
override HQ: u32;                // query heads
override HKV: u32;               // key/value heads; query head h reads kv head h / (HQ / HKV)
override D: u32;                 // head dim
override CMAX: u32;              // cache length; attn weights are (HQ, S_MAX, CMAX)
override WG: u32 = 64u;
override REDUCE: bool = false;   // real GPUs: a workgroup per row shares the loop (a power-of-two WG)
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

// params = (input_pos, ctx = input_pos + S, S, -), rewritten by the resize hook.
// Causal rule: query row s sees keys c <= s + input_pos.
struct SdpaParams {
  pos: u32,
  ctx: u32,
  s: u32,
  pad: u32,
}
