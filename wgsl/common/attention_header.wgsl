// Shapes shared by the split-context attention kernels (pyapp/runtime/ops/attention.py).
// Row m of this step is at position pos + m and sees keys 0 ..= pos + m (causal). The keys are
// cut into splits of `chunk` positions (at least CH_MIN, at most NSPLIT splits), so the work of a
// split stays flat as the context grows; attention_combine merges the splits' softmax partials.
override HQ: u32;                // query heads
override HKV: u32;               // key/value heads: query head h reads kv head h / (HQ / HKV)
override D: u32;                 // head dim (<= 128)
override NSPLIT: u32;            // splits per row at most
override CH_MIN: u32 = 32u;      // positions per split at least
override WG: u32 = 64u;
override SERIAL: bool = false;   // lanes style: an invocation per (head, row, split), no barriers
override D4: u32 = D / 4u;       // head dim in vec4s

fn chunk_for(ctx: u32) -> u32 {  // ctx: positions the last row of this step sees
  return max(CH_MIN, (ctx + NSPLIT - 1u) / NSPLIT);
}

// A split's record in `part` (vec4s): D/4 accumulators (sum of exp * v), then (max, sum of exp, -, -).
fn record(m: u32, h: u32, s: u32) -> u32 {
  return ((m * HQ + h) * NSPLIT + s) * (D4 + 1u);
}
