// sample: llama.cpp's sampler chain over one row of logits in one workgroup, seeded by
// Philox4x32-10 at the row's position; the token goes where the next step reads it (see
// pyapp/runtime/ops/fused/sample.py for the chain, ties and rounding). No sort: top-k and top-p are
// radix selects over a monotone u32 key of the adjusted logit (4 rounds of 8 bits, exact
// integer counts and 64-bit fixed-point masses), the draw a scan in token-id order.
override V: u32;                 // vocabulary
override WG: u32;                // invocations: a power of two, >= 32
override HIST: u32;              // history slots: the token at position p lives in slot p % HIST
override RING: u32;              // decode ring slots
override DRAWS: u32 = 1u;        // draws at positions P .. P + DRAWS - 1 (tests draw many at once)
override ADVANCE: bool = false;  // decode: write the ring, advance input_pos and step
override CANDIDATES: bool = true; // top-k at most WG reads its candidates only (off: benchmarks)

@group(0) @binding(0) var<storage, read_write> tokens: array<u32>;         // (>= max(2, DRAWS),): token id, its logit bits
@group(0) @binding(1) var<storage, read_write> ring: array<u32>;           // (RING,) decode: token ids of this submit
@group(0) @binding(2) var<storage, read_write> hist: array<u32>;           // (HIST,) token ids by position % HIST
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>; // (2V,) [0, V) zero between runs; [V, 2V) candidates
@group(0) @binding(4) var<storage, read_write> vals: array<f32>;           // (V,) adjusted logits
@group(0) @binding(5) var<storage, read_write> pos: vec4<u32>;             // SymInt input_pos
@group(0) @binding(6) var<storage, read_write> step: vec4<u32>;            // SymInt step: the ring slot
@group(0) @binding(7) var<storage, read_write> last_row: vec4<u32>;       // SymInt: P = input_pos + last_row
@group(0) @binding(8) var<storage, read> logits: array<f32>;               // (V,) f32
@group(0) @binding(9) var<storage, read> settings: Settings;

struct Bias {  // a logit bias entry
  id: u32,
  value: f32,
}

struct Settings {  // pack_settings in ops/fused/sample.py (SETTINGS_FIELDS; tests/test_chat_sampling.py checks)
  temperature: f32,
  top_k: u32,
  top_p: f32,
  min_p: f32,
  repeat_penalty: f32,
  frequency_penalty: f32,
  presence_penalty: f32,
  last_n: u32,          // 0: no penalties
  seed: vec2<u32>,      // (low, high) words of the 64-bit seed
  n_bias: u32,          // entries of bias in use
  pad: u32,
  bias: array<Bias>,    // ops/fused/sample.py's BIAS entries, the first n_bias used
}

struct Found {
  key: u32,            // the key the select stopped at
  above: vec2<u32>,    // (hi, lo): count or mass of kept keys above it
  inbin: vec2<u32>,    // (hi, lo): count or mass of kept keys equal to it
  id: u32,             // nth_tied's answer
}

var<workgroup> lo_bins: array<atomic<u32>, 256>;
var<workgroup> hi_bins: array<atomic<u32>, 256>;
var<workgroup> groups: array<vec2<u32>, 16>;  // (hi, lo) sums of 16 bins each
var<workgroup> part: array<f32, WG>;     // draw: inclusive prefix of each invocation's weight sum
var<workgroup> offs: array<f32, 32>;     // the prefix before each of 32 runs of part
var<workgroup> part_n: array<u32, WG>;   // nth_tied, candidates: counts per invocation; top-k: the invocations' maxima
var<workgroup> offs_n: array<u32, 32>;   // candidates: the prefix before each of 32 runs of part_n
var<workgroup> n_live: u32;             // elements the chain looks at after top-k's bound: V, or the candidates
var<workgroup> top: atomic<u32>;
var<workgroup> found: Found;
var<workgroup> goal: vec2<u32>;          // the select's target (hi, lo)
var<workgroup> verdict: vec2<u32>;       // top-p: ties needed, ties there

var<private> vmax: f32;
var<private> tkey: u32 = 0u;             // kept so far: key > tkey, or key == tkey and id <= tid
var<private> tid: u32 = 0xFFFFFFFFu;
var<private> live_n: u32;                // V, or the count of candidates in counts[V ..] (in id order)
var<private> compact: bool = false;

fn live(j: u32) -> u32 {  // the id of the chain's j-th element
  if (compact) { return atomicLoad(&counts[V + j]); }
  return j;
}

fn key_of(x: f32) -> u32 {  // monotone: a < b as floats <=> key_of(a) < key_of(b)
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
}

fn val_of(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7FFFFFFFu, (k >> 31u) == 1u));
}

fn in_threshold(k: u32, i: u32) -> bool {
  return k > tkey || (k == tkey && i <= tid);
}

fn fixed(x: f32) -> u32 {  // exp(x - vmax) in units of 2^-31: exact integer sums in any order
  return u32(exp(x - vmax) * 2147483648.0);
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.y + b.y;
  return vec2<u32>(a.x + b.x + select(0u, 1u, lo < a.y), lo);
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x - select(0u, 1u, a.y < b.y), a.y - b.y);
}

fn ge64(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.x > b.x || (a.x == b.x && a.y >= b.y);
}

fn f64ish(a: vec2<u32>) -> f32 {
  return f32(a.x) * 4294967296.0 + f32(a.y);
}

fn bin(b: u32) -> vec2<u32> {
  return vec2<u32>(atomicLoad(&hi_bins[b]), atomicLoad(&lo_bins[b]));
}

// The largest key whose kept count (mass) from the top reaches goal: 4 rounds of 8 bits over
// the kept elements. Counting, the goal is set before the call; weighing each by fixed()
// (`mass`), it is `fraction` of the kept total, known after round 0's histogram (top-p).
fn radix_select(t: u32, mass: bool, fraction: f32) -> Found {
  var prefix = 0u;
  var mask = 0u;
  var above = vec2<u32>(0u, 0u);
  for (var r = 0u; r < 4u; r++) {
    let shift = 24u - 8u * r;
    for (var b = t; b < 256u; b += WG) {
      atomicStore(&lo_bins[b], 0u);
      atomicStore(&hi_bins[b], 0u);
    }
    workgroupBarrier();
    for (var j = t; j < live_n; j += WG) {
      let i = live(j);
      let x = vals[i];
      let k = key_of(x);
      if ((k & mask) == prefix && in_threshold(k, i)) {
        let b = (k >> shift) & 255u;
        let q = select(1u, fixed(x), mass);
        let old = atomicAdd(&lo_bins[b], q);
        if (old + q < old) { atomicAdd(&hi_bins[b], 1u); }
      }
    }
    workgroupBarrier();
    if (t < 16u) {  // two levels (16 groups of 16 bins) keep invocation 0's scan short
      var sum = vec2<u32>(0u, 0u);
      for (var b = 16u * t; b < 16u * t + 16u; b++) { sum = add64(sum, bin(b)); }
      groups[t] = sum;
    }
    workgroupBarrier();
    if (t == 0u) {
      if (mass && r == 0u) {
        var total = vec2<u32>(0u, 0u);
        for (var g = 0u; g < 16u; g++) { total = add64(total, groups[g]); }
        let want = fraction * f64ish(total);
        let hi = floor(want / 4294967296.0);
        goal = vec2<u32>(u32(hi), u32(want - hi * 4294967296.0));
      }
      var cum = above;
      var g = 15u;
      loop {  // the group where the goal is reached (or the last)
        let next = add64(cum, groups[g]);
        if (ge64(next, goal) || g == 0u) { break; }
        cum = next;
        g -= 1u;
      }
      var b = 16u * g + 15u;
      loop {
        let m = bin(b);
        let next = add64(cum, m);
        if (ge64(next, goal) || b == 16u * g) {
          found = Found(prefix | (b << shift), cum, m, 0u);
          break;
        }
        cum = next;
        b -= 1u;
      }
    }
    let f = workgroupUniformLoad(&found);
    prefix = f.key;
    mask |= 255u << shift;
    above = f.above;
  }
  return workgroupUniformLoad(&found);
}

// The id of the n-th lowest (n >= 1) element whose key is `key`: each invocation counts its
// own contiguous range, invocation 0 finds the range, that range's invocation the element.
fn nth_tied(t: u32, key: u32, n: u32) -> u32 {
  let span = (live_n + WG - 1u) / WG;
  let lo = t * span;
  let hi = min(lo + span, live_n);
  var c = 0u;
  for (var j = lo; j < hi; j++) {
    if (key_of(vals[live(j)]) == key) { c++; }
  }
  part_n[t] = c;
  workgroupBarrier();
  if (t == 0u) {
    var left = n;
    var owner = 0u;
    for (var j = 0u; j < WG; j++) {
      owner = j;
      if (part_n[j] >= left) { break; }
      left -= part_n[j];
    }
    goal = vec2<u32>(owner, left);
  }
  workgroupBarrier();
  if (t == goal.x) {
    var left = goal.y;
    for (var j = lo; j < hi; j++) {
      let i = live(j);
      if (key_of(vals[i]) == key) {
        left--;
        if (left == 0u) {
          found.id = i;
          break;
        }
      }
    }
  }
  return workgroupUniformLoad(&found).id;
}

const M0 = 0xD2511F53u;
const M1 = 0xCD9E8D57u;

fn mulhilo(a: u32, b: u32) -> vec2<u32> {  // (high, low) words of the 64-bit product
  let a0 = a & 0xFFFFu; let a1 = a >> 16u; let b0 = b & 0xFFFFu; let b1 = b >> 16u;
  let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
  return vec2<u32>(a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), a * b);
}

fn philox(counter: u32, seed: vec2<u32>) -> vec4<u32> {  // Philox4x32-10 of (counter, 0, 0, 0)
  var c = vec4<u32>(counter, 0u, 0u, 0u);
  var k = seed;
  for (var r = 0u; r < 10u; r++) {
    let p0 = mulhilo(M0, c.x);
    let p1 = mulhilo(M1, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k += vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// Top-k keeps keys >= the k-th largest, which is >= bound, the k-th largest of the invocations'
// maxima (k of them are >= it). Where few keys reach bound, their ids (in id order: counted per
// contiguous range, then written at the ranges' prefix) are all the rest of the chain reads.
fn keep_candidates(t: u32, best: u32, k: u32) {
  part_n[t] = best;
  workgroupBarrier();
  for (var size = 2u; size <= WG; size <<= 1u) {  // bitonic sort, descending
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      let o = t ^ stride;
      if (o > t) {
        let a = part_n[t];
        let b = part_n[o];
        if ((a < b) == ((t & size) == 0u)) {
          part_n[t] = b;
          part_n[o] = a;
        }
      }
      workgroupBarrier();
    }
  }
  let bound = part_n[k - 1u];
  workgroupBarrier();
  let span = (V + WG - 1u) / WG;
  let lo = t * span;
  let hi = min(lo + span, V);
  var c = 0u;
  for (var i = lo; i < hi; i++) {
    if (key_of(vals[i]) >= bound) { c++; }
  }
  part_n[t] = c;
  workgroupBarrier();
  let run = WG / 32u;  // inclusive prefix sums of the counts in two serial levels, as the draw's
  if (t < 32u) {
    for (var j = t * run + 1u; j < t * run + run; j++) { part_n[j] += part_n[j - 1u]; }
  }
  workgroupBarrier();
  if (t == 0u) {
    var off = 0u;
    for (var g = 0u; g < 32u; g++) {
      offs_n[g] = off;
      off += part_n[g * run + run - 1u];
    }
    n_live = select(V, off, off <= V / 4u);  // many candidates: the whole row is as quick
  }
  workgroupBarrier();
  if (t >= run) { part_n[t] += offs_n[t / run]; }
  let n = workgroupUniformLoad(&n_live);
  if (n < V) {
    var at = V + part_n[t] - c;
    for (var i = lo; i < hi; i++) {
      if (key_of(vals[i]) >= bound) {
        atomicStore(&counts[at], i);
        at++;
      }
    }
  }
  storageBarrier();
  live_n = n;
  compact = n < V;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) t: u32) {
  let temperature = settings.temperature;
  let top_k = settings.top_k;
  let top_p = settings.top_p;
  let min_p = settings.min_p;
  let last_n = settings.last_n;
  let n_bias = settings.n_bias;
  let p = pos.x + last_row.x;  // the position whose logits these are
  // logit bias, then penalties over the last last_n tokens (positions p - last_n + 1 .. p)
  for (var i = t; i < V; i += WG) { vals[i] = logits[i]; }
  if (t == 0u) { atomicStore(&top, 0u); }
  storageBarrier();
  for (var j = t; j < n_bias; j += WG) {
    let b = settings.bias[j];
    if (b.id < V) { vals[b.id] += b.value; }
  }
  storageBarrier();
  let window = min(last_n, p + 1u);
  for (var j = t; j < window; j += WG) {
    let id = hist[(p - j) % HIST];
    if (id < V) { atomicAdd(&counts[id], 1u); }
  }
  storageBarrier();
  for (var j = t; j < window; j += WG) {
    let id = hist[(p - j) % HIST];
    if (id < V) {
      let n = atomicExchange(&counts[id], 0u);  // the first of a token's slots applies it, once
      if (n > 0u) {
        let x = vals[id];
        let r = settings.repeat_penalty;
        vals[id] = select(x / r, x * r, x <= 0.0) - f32(n) * settings.frequency_penalty - settings.presence_penalty;
      }
    }
  }
  storageBarrier();
  var best = 0u;
  for (var i = t; i < V; i += WG) { best = max(best, key_of(vals[i])); }
  atomicMax(&top, best);
  let top_key = workgroupUniformLoad(&top);
  vmax = val_of(top_key);
  live_n = V;
  if (CANDIDATES && top_k > 0u && top_k <= WG && top_k < V) { keep_candidates(t, best, top_k); }
  // top-k: the k-th key from the top; of the keys equal to it, the lowest ids
  if (top_k > 0u && top_k < V) {
    if (t == 0u) { goal = vec2<u32>(0u, top_k); }
    let f = radix_select(t, false, 0.0);
    tkey = f.key;
    if (top_k - f.above.y < f.inbin.y) { tid = nth_tied(t, f.key, top_k - f.above.y); }
  }
  // top-p over the top-k: the shortest run from the top whose mass reaches top_p of theirs
  if (top_p < 1.0) {
    let f = radix_select(t, true, top_p);
    if (t == 0u) {  // how many of the ties at the key it stopped at reach the goal
      let q = f32(max(fixed(val_of(f.key)), 1u));
      verdict = vec2<u32>(max(1u, u32(ceil(f64ish(sub64(goal, f.above)) / q))), u32(round(f64ish(f.inbin) / q)));
    }
    let need = workgroupUniformLoad(&verdict);
    if (f.key != tkey) { tid = 0xFFFFFFFFu; }
    tkey = f.key;
    if (need.x < need.y) { tid = nth_tied(t, f.key, need.x); }
  }
  if (temperature == 0.0) {  // greedy after the bias and penalties: the first of the order
    tkey = top_key;
    tid = nth_tied(t, top_key, 1u);
  }
  // the draw: weights exp((x - max) / T) of the kept, in id order; r = u * sum
  let span = (live_n + WG - 1u) / WG;
  let lo = t * span;
  let hi = min(lo + span, live_n);
  let inv_t = select(1.0 / temperature, 0.0, temperature == 0.0);
  var s = 0.0;
  for (var j = lo; j < hi; j++) {
    let i = live(j);
    let x = vals[i];
    if (in_threshold(key_of(x), i) && exp(x - vmax) >= min_p) { s += exp((x - vmax) * inv_t); }
  }
  part[t] = s;
  // inclusive prefix sums in two serial levels (32 runs of WG / 32): a range whose sum is 0
  // then has the same prefix as the range before it, so the search below never lands on one
  workgroupBarrier();
  let run = WG / 32u;
  if (t < 32u) {
    for (var j = t * run + 1u; j < t * run + run; j++) { part[j] += part[j - 1u]; }
  }
  workgroupBarrier();
  if (t == 0u) {
    var off = 0.0;
    for (var g = 0u; g < 32u; g++) {
      offs[g] = off;
      off += part[g * run + run - 1u];
    }
  }
  workgroupBarrier();
  if (t >= run) { part[t] += offs[t / run]; }
  workgroupBarrier();
  let total = part[WG - 1u];
  let seed = settings.seed;
  for (var d = t; d < DRAWS; d += WG) {
    let r = f32(philox(p + d, seed).x >> 8u) * (1.0 / 16777216.0) * total;
    var a = 0u;
    var b = WG - 1u;
    while (a < b) {
      let m = (a + b) / 2u;
      if (part[m] > r) { b = m; } else { a = m + 1u; }
    }
    var acc = 0.0;
    if (a > 0u) { acc = part[a - 1u]; }
    var pick = 0xFFFFFFFFu;
    let end = min(a * span + span, live_n);
    for (var j = a * span; j < end; j++) {
      let i = live(j);
      let x = vals[i];
      if (in_threshold(key_of(x), i) && exp(x - vmax) >= min_p) {
        pick = i;  // the last kept one, if rounding leaves acc <= r to the end
        acc += exp((x - vmax) * inv_t);
        if (acc > r) { break; }
      }
    }
    tokens[d] = pick;
    if (d == 0u) {
      if (DRAWS == 1u) { tokens[1] = bitcast<u32>(logits[pick]); }
      hist[(p + 1u) % HIST] = pick;
      if (ADVANCE) {
        ring[step.x % RING] = pick;
        step.x += 1u;
        pos.x += 1u;
      }
    }
  }
}
