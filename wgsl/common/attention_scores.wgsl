// A query-key score as sdpa_with_kv_cache's (scaled, Gemma 2's soft cap) and which keys a row
// sees: shared by attention.wgsl (decode, split context) and flash_attention.wgsl (prefill).
// #include "common/activation.wgsl"
override SCALE: f32;             // 1 / sqrt(D)
override WINDOW: u32 = 0u;       // sliding window: a row sees the WINDOW latest positions; 0: all
override SOFTCAP: f32 = 0.0;     // Gemma 2: a score s becomes SOFTCAP * tanh(s / SOFTCAP); 0: none

// Keys outside the window score this: exp() of it less the max is 0, and a split of only such
// keys gets no weight in attention_combine.
const HIDDEN = -3.4e38;

fn hidden(c: u32, at: u32) -> bool { return WINDOW != 0u && at >= c + WINDOW; }

fn score(qk: f32) -> f32 {
  let s = qk * SCALE;
  return select(soft_cap(s, SOFTCAP), s, SOFTCAP == 0.0);
}
