// qk_norm_rope: Qwen3's per-head RMSNorm of the queries and keys, then RoPE, in place: q (S, HQ*D)
// and the key cache's rows at input_pos + m (qkv_rope wrote them unrotated). Each head has D
// values, so an invocation takes a whole (row, head) of the HQ + HKV heads: no barrier.
// #include "common/grid.wgsl"
override HQ: u32;                // query heads
override HKV: u32;               // key heads
override D: u32;                 // head dim (even)
override CMAX: u32;              // cache positions (rows of the RoPE tables)
override EPS: f32;
override QW: u32;                // word offset of the query heads' norm weight (D,) in the arena
override KW: u32;                // the key heads'
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> q: array<f32>;        // (S, HQ*D) f32
@group(0) @binding(1) var<storage, read_write> k_cache: array<f32>;  // (CMAX, HKV*D) f32
@group(0) @binding(2) var<storage, read> w: array<u32>;              // the layer's weight arena
@group(0) @binding(3) var<storage, read> rope: array<f32>;           // cos (CMAX, D/2), then sin
@group(0) @binding(4) var<uniform> pos: vec4<u32>;                   // SymInt input_pos: .x
@group(0) @binding(5) var<uniform> live: vec4<u32>;                  // rows this step: .x

fn value(is_q: bool, at: u32) -> f32 {
  if (is_q) { return q[at]; }
  return k_cache[at];
}

fn store(is_q: bool, at: u32, v: f32) {
  if (is_q) { q[at] = v; } else { k_cache[at] = v; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  let m = i / (HQ + HKV);
  let h = i % (HQ + HKV);
  if (m >= live.x) { return; }
  let p = pos.x + m;
  let is_q = h < HQ;
  var base = (p * HKV + h - HQ) * D;
  var weight = KW;
  if (is_q) {
    base = (m * HQ + h) * D;
    weight = QW;
  }
  var ss = 0.0;
  for (var d = 0u; d < D; d++) {
    let v = value(is_q, base + d);
    ss += v * v;
  }
  let inv = inverseSqrt(ss / f32(D) + EPS);
  for (var j = 0u; j < D / 2u; j++) {  // pair (2j, 2j + 1), rotated by the angle of position p
    let a = value(is_q, base + 2u * j) * inv * bitcast<f32>(w[weight + 2u * j]);
    let b = value(is_q, base + 2u * j + 1u) * inv * bitcast<f32>(w[weight + 2u * j + 1u]);
    let c = rope[p * (D / 2u) + j];
    let s = rope[CMAX * (D / 2u) + p * (D / 2u) + j];
    store(is_q, base + 2u * j, a * c - b * s);
    store(is_q, base + 2u * j + 1u, a * s + b * c);
  }
}
