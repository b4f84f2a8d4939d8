// attention: each split's share of causal GQA attention for rows of this step, as softmax
// partials (max, sum of exp, sum of exp * v) that attention_combine merges.
// Real GPUs: a workgroup per (kv head, row, split) scores its keys for all HQ / HKV query heads
// of the kv head at once, so each key and value row is read once. SERIAL (CPU Vulkan): an
// invocation per (query head, row, split) runs an online softmax, without barriers.
// #include "common/grid.wgsl"
// #include "common/attention_header.wgsl"
override SCALE: f32;             // 1 / sqrt(D)
override CHMAX: u32;             // the longest split (positions): chunk_for(CMAX)
override CMAX: u32;

const G_MAX = 8u;                // query heads per kv head, at most (workgroup path)

@group(0) @binding(0) var<storage, read_write> part: array<f32>;   // (S, HQ, NSPLIT, D + 2) f32
@group(0) @binding(1) var<storage, read> q: array<f32>;            // (S, HQ * D) f32
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;      // (CMAX, HKV * D) f32
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;      // (CMAX, HKV * D) f32
@group(0) @binding(4) var<uniform> pos: vec4<u32>;                 // SymInt input_pos: .x
@group(0) @binding(5) var<uniform> live: vec4<u32>;                // rows this step: .x

var<workgroup> qs: array<f32, G_MAX * 128>;                          // the group's query rows
var<workgroup> p: array<f32, G_MAX * CHMAX>;                         // scores, then exp(score - max)
var<workgroup> top: array<f32, G_MAX>;

fn serial(i: u32) {
  let s = i % NSPLIT;
  let m = (i / NSPLIT) % live.x;
  let h = i / (NSPLIT * live.x);
  if (h >= HQ) { return; }
  let chunk = chunk_for(pos.x + live.x);
  let c0 = s * chunk;
  let c1 = min(c0 + chunk, pos.x + m + 1u);
  if (c0 >= c1) { return; }
  let qb = m * HQ * D + h * D;
  let kvb = (h / (HQ / HKV)) * D;
  var acc: array<vec4<f32>, 32>;
  var mx = -3.4e38;
  var sum = 0.0;
  for (var c = c0; c < c1; c++) {
    var dot = 0.0;
    for (var d = 0u; d < D; d++) { dot += q[qb + d] * k_cache[c * HKV * D + kvb + d]; }
    let sc = dot * SCALE;
    let mx2 = max(mx, sc);
    let corr = exp(mx - mx2);
    let e = exp(sc - mx2);
    sum = sum * corr + e;
    for (var d = 0u; d < D / 4u; d++) {
      let vb = c * HKV * D + kvb + 4u * d;
      acc[d] = acc[d] * corr + e * vec4<f32>(v_cache[vb], v_cache[vb + 1u], v_cache[vb + 2u], v_cache[vb + 3u]);
    }
    mx = mx2;
  }
  let r = record(m, h, s);
  part[r] = mx;
  part[r + 1u] = sum;
  for (var d = 0u; d < D / 4u; d++) {
    for (var j = 0u; j < 4u; j++) { part[r + PARTIAL + 4u * d + j] = acc[d][j]; }
  }
}

fn grouped(wgi: u32, t: u32) {
  let g = HQ / HKV;
  let s = wgi % NSPLIT;
  let m = (wgi / NSPLIT) % live.x;
  let hk = wgi / (NSPLIT * live.x);  // uniform per workgroup: the barriers below stay uniform
  let chunk = chunk_for(pos.x + live.x);
  let c0 = s * chunk;
  let c1 = min(c0 + chunk, pos.x + m + 1u);
  if (hk >= HKV || c0 >= c1) { return; }
  let n = c1 - c0;
  let kvb = hk * D;
  for (var i = t; i < g * D; i += WG) { qs[i] = q[m * HQ * D + hk * g * D + i]; }
  workgroupBarrier();
  for (var c = t; c < n; c += WG) {  // a key per invocation: its scores for the g heads
    let kb = (c0 + c) * HKV * D + kvb;
    for (var j = 0u; j < g; j++) {
      var dot = 0.0;
      for (var d = 0u; d < D; d++) { dot += qs[j * D + d] * k_cache[kb + d]; }
      p[j * CHMAX + c] = dot * SCALE;
    }
  }
  workgroupBarrier();
  if (t < g) {  // each head's max over this split
    var mx = -3.4e38;
    for (var c = 0u; c < n; c++) { mx = max(mx, p[t * CHMAX + c]); }
    top[t] = mx;
  }
  workgroupBarrier();
  for (var i = t; i < g * n; i += WG) {
    let j = i / n;
    let c = i % n;
    p[j * CHMAX + c] = exp(p[j * CHMAX + c] - top[j]);
  }
  workgroupBarrier();
  for (var i = t; i < g * D; i += WG) {  // an output dim per invocation: sum over the keys
    let j = i / D;
    let d = i % D;
    var acc = 0.0;
    for (var c = 0u; c < n; c++) { acc += p[j * CHMAX + c] * v_cache[(c0 + c) * HKV * D + kvb + d]; }
    part[record(m, hk * g + j, s) + PARTIAL + d] = acc;
  }
  if (t < g) {
    var sum = 0.0;
    for (var c = 0u; c < n; c++) { sum += p[t * CHMAX + c]; }
    let r = record(m, hk * g + t, s);
    part[r] = top[t];
    part[r + 1u] = sum;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  if (SERIAL) {
    serial(flat_workgroup(wid, nwg) * WG + lid);
  } else {
    grouped(flat_workgroup(wid, nwg), lid);
  }
}
