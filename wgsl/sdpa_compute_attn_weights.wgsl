// attn[h, s, c] = scale * dot(q[s, h, :], k_cache[c, h / (HQ/HKV), :]) for visible c (causal).
// One invocation per (h, s, c < ctx); the workgroup count follows ctx (resize hook).
// #include "common/grid.wgsl"
// #include "common/sdpa_header.wgsl"
// #include "common/activation.wgsl"
override SCALE: f32;
override WINDOW: u32 = 0u;  // sliding window: keys WINDOW or more positions back score -3.4e38 (exp: 0)
override SOFTCAP: f32 = 0.0;  // Gemma 2: a score s becomes SOFTCAP * tanh(s / SOFTCAP); 0: none

@group(0) @binding(0) var<storage, read_write> attn: array<f32>;  // (HQ, S_MAX, CMAX) f32
@group(0) @binding(1) var<storage, read> q: array<f32>;           // (1, S_MAX, HQ, D) f32
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;     // (1, CMAX, HKV, D) f32
@group(0) @binding(3) var<uniform> params: SdpaParams;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let ctx = params.ctx;
  let i = flat_workgroup(wid, nwg) * WG + lid.x;
  if (i >= HQ * params.s * ctx) { return; }
  let c = i % ctx;
  let s = (i / ctx) % params.s;
  let h = i / (ctx * params.s);
  if (c > s + params.pos) { return; }  // masked: softmax and AV never read it
  let qb = (s * HQ + h) * D;
  let kb = (c * HKV + h / (HQ / HKV)) * D;
  var dot = 0.0;
  for (var d = 0u; d < D; d++) {
    dot += q[qb + d] * k_cache[kb + d];
  }
  let sc = select(soft_cap(dot * SCALE, SOFTCAP), dot * SCALE, SOFTCAP == 0.0);
  let hidden = WINDOW != 0u && s + params.pos >= c + WINDOW;
  attn[(h * S_MAX + s) * CMAX + c] = select(sc, -3.4e38, hidden);
}
