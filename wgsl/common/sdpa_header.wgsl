// Shapes shared by the SDPA kernels (pyapp/runtime/ops/sdpa_with_kv_cache.py). Batch is 1.
override S_MAX: u32;             // rows the q/out/attn buffers hold; this step uses params.z
override HQ: u32;                // query heads
override HKV: u32;               // key/value heads; query head h reads kv head h / (HQ / HKV)
override D: u32;                 // head dim
override CMAX: u32;              // cache length; attn weights are (HQ, S_MAX, CMAX)
override WG: u32 = 64u;
override REDUCE: bool = false;   // real GPUs: a workgroup per row shares the loop (a power-of-two WG)
// #include "common/reduce.wgsl"

// params = (input_pos, ctx = input_pos + S, S, -), rewritten by the resize hook.
// Causal rule: query row s sees keys c <= s + input_pos.
struct SdpaParams {
  pos: u32,
  ctx: u32,
  s: u32,
  pad: u32,
}
