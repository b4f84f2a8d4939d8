// attention: each split's share of causal GQA attention for rows of this step, as softmax
// partials (max, sum of exp, sum of exp * v) that attention_combine merges.
// Real GPUs: a workgroup per (kv head, row, split) scores its keys for all HQ / HKV query heads
// of the kv head at once, so each key and value row is read once. SERIAL (CPU Vulkan): an
// invocation per (query head, row, split) runs an online softmax, without barriers.
// #include "common/grid.wgsl"
// #include "common/attention_header.wgsl"
// #include "common/attention_scores.wgsl"
override CHMAX: u32;             // the longest split (positions): chunk_for(CMAX)
override CMAX: u32;

const G_MAX = 8u;                // query heads per kv head, at most
override G: u32 = HQ / HKV;      // query heads per kv head

@group(0) @binding(0) var<storage, read_write> part: array<vec4<f32>>; // (S, HQ, NSPLIT, D/4 + 1) vec4
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;          // (S, HQ * D) f32
@group(0) @binding(2) var<storage, read> k_cache: array<vec4<f32>>;    // (CMAX, HKV * D) f32
@group(0) @binding(3) var<storage, read> v_cache: array<vec4<f32>>;    // (CMAX, HKV * D) f32
@group(0) @binding(4) var<uniform> pos: vec4<u32>;                     // SymInt input_pos: .x
@group(0) @binding(5) var<uniform> live: vec4<u32>;                    // rows this step: .x

var<workgroup> qs: array<vec4<f32>, G_MAX * 32>;  // the group's query rows: G * D <= 1024
var<workgroup> p: array<f32, G_MAX * CHMAX>;      // scores, then exp(score - max)
var<workgroup> top: array<f32, G_MAX>;
var<workgroup> red: array<vec4<f32>, WG>;         // the stripes' partial sums of p * v

fn serial(i: u32) {
  let s = i % NSPLIT;
  let m = (i / NSPLIT) % live.x;
  let h = i / (NSPLIT * live.x);
  if (h >= HQ) { return; }
  let chunk = chunk_for(pos.x + live.x);
  let c0 = s * chunk;
  let c1 = min(c0 + chunk, pos.x + m + 1u);
  if (c0 >= c1) { return; }
  let qb = (m * HQ + h) * D4;
  let kvh = h / G;
  var acc: array<vec4<f32>, 64>;  // D <= 256
  var mx = -3.4e38;
  var sum = 0.0;
  for (var c = c0; c < c1; c++) {
    let kb = (c * HKV + kvh) * D4;
    var qk = 0.0;
    for (var d = 0u; d < D4; d++) { qk += dot(q[qb + d], k_cache[kb + d]); }
    let sc = select(score(qk), HIDDEN, hidden(c, pos.x + m));
    let mx2 = max(mx, sc);
    let corr = exp(mx - mx2);
    let e = exp(sc - mx2);
    sum = sum * corr + e;
    for (var d = 0u; d < D4; d++) { acc[d] = acc[d] * corr + e * v_cache[kb + d]; }
    mx = mx2;
  }
  let r = record(m, h, s);
  for (var d = 0u; d < D4; d++) { part[r + d] = acc[d]; }
  part[r + D4] = vec4<f32>(mx, sum, 0.0, 0.0);
}

fn grouped(wgi: u32, t: u32) {
  let s = wgi % NSPLIT;
  let m = (wgi / NSPLIT) % live.x;
  let hk = wgi / (NSPLIT * live.x);  // uniform per workgroup: the barriers below stay uniform
  let chunk = chunk_for(pos.x + live.x);
  let c0 = s * chunk;
  let c1 = min(c0 + chunk, pos.x + m + 1u);
  if (hk >= HKV || c0 >= c1) { return; }
  let n = c1 - c0;
  for (var i = t; i < G * D4; i += WG) { qs[i] = q[(m * HQ + hk * G) * D4 + i]; }
  workgroupBarrier();
  for (var c = t; c < n; c += WG) {  // a key per invocation: its row is read once for the G heads
    let kb = ((c0 + c) * HKV + hk) * D4;
    var dots: array<f32, G_MAX>;
    dots = array<f32, G_MAX>();
    for (var d = 0u; d < D4; d++) {
      let kv = k_cache[kb + d];
      for (var j = 0u; j < G; j++) { dots[j] += dot(qs[j * D4 + d], kv); }
    }
    let gone = hidden(c0 + c, pos.x + m);
    for (var j = 0u; j < G; j++) { p[j * CHMAX + c] = select(score(dots[j]), HIDDEN, gone); }
  }
  workgroupBarrier();
  if (t < G) {  // each head's max over this split
    var mx = -3.4e38;
    for (var c = 0u; c < n; c++) { mx = max(mx, p[t * CHMAX + c]); }
    top[t] = mx;
  }
  workgroupBarrier();
  for (var i = t; i < G * n; i += WG) {
    let j = i / n;
    let c = i % n;
    p[j * CHMAX + c] = exp(p[j * CHMAX + c] - top[j]);
  }
  workgroupBarrier();
  // p @ v: each (head, four dims) of the G * D/4 is summed over the keys by `stripes` invocations
  // that take every stripes-th key, then added up through shared memory (G * D / 4 <= WG).
  let gd = G * D4;
  let stripes = WG / gd;
  let j = (t % gd) / D4;
  let d = t % D4;
  let stripe = t / gd;
  var acc = vec4<f32>(0.0);
  if (stripe < stripes) {
    let vb = (c0 * HKV + hk) * D4 + d;  // key c's row: vb + c * HKV * D4
    for (var c = stripe; c < n; c += 4u * stripes) {  // four keys at a time: their loads go out together
      var vs: array<vec4<f32>, 4>;
      for (var k = 0u; k < 4u; k++) { vs[k] = v_cache[vb + min(c + k * stripes, n - 1u) * HKV * D4]; }
      for (var k = 0u; k < 4u; k++) {
        if (c + k * stripes < n) { acc += p[j * CHMAX + c + k * stripes] * vs[k]; }
      }
    }
  }
  red[t] = acc;
  workgroupBarrier();
  if (t < gd) {
    var total = red[t];
    for (var k = 1u; k < stripes; k++) { total += red[k * gd + t]; }
    part[record(m, hk * G + j, s) + d] = total;
  }
  if (t < G) {
    var sum = 0.0;
    for (var c = 0u; c < n; c++) { sum += p[t * CHMAX + c]; }
    part[record(m, hk * G + t, s) + D4] = vec4<f32>(top[t], sum, 0.0, 0.0);
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
