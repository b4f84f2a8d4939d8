// flash_attention: causal GQA attention for a prefill's rows in one pass (GPUs; pyapp/runtime/ops/
// fused/attention.py). A workgroup takes one kv head and a tile of BQ rows: its G * BQ query
// vectors walk the keys they see in tiles of BK, each key tile read once into shared memory for
// all of them, with an online softmax (running max and sum per query vector), so that the keys
// and values are read once per BQ rows, not once per row, and nothing goes through memory
// between the scores and the output. Row m of this step is at position pos + m.
// #include "common/grid.wgsl"
// #include "common/attention_scores.wgsl"
override HQ: u32;                // query heads
override HKV: u32;               // key/value heads
override D: u32;                 // head dim (a multiple of 4, <= 256)
override G: u32 = HQ / HKV;      // query heads per kv head
override BQ: u32;                // rows per tile: G * BQ * D / 4 <= 512 and G * BQ <= 64
override BK: u32;                // keys per tile: BK * D / 4 <= 512, BK <= 32
override D4: u32 = D / 4u;
override QV: u32 = G * BQ;       // query vectors of a tile: row r, head j at r * G + j
// Rows of the key/value tile and of the scores are padded by one, so that invocations reading
// one column of them (a key each, a query vector each) hit different banks of shared memory.
override KS: u32 = D4 + 1u;      // vec4s a key row
override PS: u32 = BK + 1u;      // scores a query vector

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;  // (S, HQ * D) f32
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;          // (S, HQ * D) f32
@group(0) @binding(2) var<storage, read> k_cache: array<vec4<f32>>;    // (CMAX, HKV * D) f32
@group(0) @binding(3) var<storage, read> v_cache: array<vec4<f32>>;    // (CMAX, HKV * D) f32
@group(0) @binding(4) var<uniform> pos: vec4<u32>;                     // SymInt input_pos: .x
@group(0) @binding(5) var<uniform> live: vec4<u32>;                    // rows this step: .x

const WG = 256u;
var<workgroup> qs: array<vec4<f32>, 512>;  // (QV, D4): the tile's query vectors
var<workgroup> kv: array<vec4<f32>, 576>;  // (BK, KS): the key tile, then the value tile
var<workgroup> ps: array<f32, 2112>;       // (QV, PS): scores, then exp(score - max)
var<workgroup> top: array<f32, 64>;        // per query vector: the running max,
var<workgroup> total: array<f32, 64>;      // the running sum of exp,
var<workgroup> rescale: array<f32, 64>;    // and this key tile's correction of the earlier sums

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let wgi = flat_workgroup(wid, nwg);
  let hk = wgi % HKV;
  let m0 = (wgi / HKV) * BQ;
  let rows = live.x;
  if (m0 >= rows) { return; }  // uniform: the whole workgroup leaves
  let m1 = min(m0 + BQ, rows);  // rows m0 .. m1 - 1 are live
  for (var i = t; i < QV * D4; i += WG) {
    let v = i / D4;
    let row = min(m0 + v / G, m1 - 1u);
    qs[i] = q[(row * HQ + hk * G + v % G) * D4 + i % D4];
  }
  if (t < QV) {
    top[t] = HIDDEN;
    total[t] = 0.0;
  }
  // the keys the tile's rows see: from its first row's window (all from 0 without one) to its last row
  let last = pos.x + m1 - 1u;
  var c0 = 0u;
  if (WINDOW != 0u && pos.x + m0 + 1u > WINDOW) { c0 = pos.x + m0 + 1u - WINDOW; }
  // an invocation's share of the (QV, D4) output: vec4s t and t + 256
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  for (; c0 <= last; c0 += BK) {
    let n = min(BK, last + 1u - c0);
    workgroupBarrier();  // the previous tile's values are used
    for (var i = t; i < n * D4; i += WG) { kv[(i / D4) * KS + i % D4] = k_cache[((c0 + i / D4) * HKV + hk) * D4 + i % D4]; }
    workgroupBarrier();
    for (var i = t; i < QV * BK; i += WG) {
      let v = i / BK;
      let c = i % BK;
      let at = pos.x + m0 + v / G;  // the position of the query vector's row
      var s = HIDDEN;
      if (c < n && c0 + c <= at && !hidden(c0 + c, at)) {
        var qk = 0.0;
        for (var d = 0u; d < D4; d++) { qk += dot(qs[v * D4 + d], kv[c * KS + d]); }
        s = score(qk);
      }
      ps[v * PS + c] = s;
    }
    workgroupBarrier();
    for (var i = t; i < n * D4; i += WG) { kv[(i / D4) * KS + i % D4] = v_cache[((c0 + i / D4) * HKV + hk) * D4 + i % D4]; }
    if (t < QV) {
      var mx = top[t];
      for (var c = 0u; c < n; c++) { mx = max(mx, ps[t * PS + c]); }
      var sum = 0.0;
      for (var c = 0u; c < n; c++) {
        let s = ps[t * PS + c];
        let e = select(exp(s - mx), 0.0, s == HIDDEN);  // a hidden key weighs nothing, even before any seen one
        ps[t * PS + c] = e;
        sum += e;
      }
      let corr = exp(top[t] - mx);
      rescale[t] = corr;
      total[t] = total[t] * corr + sum;
      top[t] = mx;
    }
    workgroupBarrier();
    if (t < QV * D4) {
      let v = t / D4;
      var a = acc0 * rescale[v];
      for (var c = 0u; c < n; c++) { a += ps[v * PS + c] * kv[c * KS + t % D4]; }
      acc0 = a;
    }
    if (t + WG < QV * D4) {
      let v = (t + WG) / D4;
      var a = acc1 * rescale[v];
      for (var c = 0u; c < n; c++) { a += ps[v * PS + c] * kv[c * KS + (t + WG) % D4]; }
      acc1 = a;
    }
  }
  for (var h = 0u; h < 2u; h++) {
    let i = t + h * WG;
    let v = i / D4;
    if (i < QV * D4 && m0 + v / G < m1) {
      out[((m0 + v / G) * HQ + hk * G + v % G) * D4 + i % D4] = select(acc0, acc1, h == 1u) / total[v];
    }
  }
}
