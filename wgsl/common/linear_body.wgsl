// The entry point shared by the group-quantized linears. Per group g, w = q * scale + offset,
// so out[m, n] = sum_g scale * sum(x * q) + offset * sum(x) (+ bias): q4gsw is offset = -8 * scale.
// The including shader declares the bindings and defines, for its format:
//   WORD_K              values per u32 weight word (8 nibbles or 4 int8)
//   ROW_BYTES           bytes per weight row
//   code_at(w, j)       the j-th raw value of word w
//   word_xq(w, e)       sum over the word's values of x[e + j] * code (e a multiple of WORD_K, vectorized)
//   group_scale(t), group_offset(t) for t = g * PADDED_N + n
// Paths: DECODE (M == 1, aligned): DR columns per invocation, so each x load serves DR words;
// REDUCE (the same on real GPUs): one workgroup per DR columns, its WG threads split the words
// (each x load again serving DR rows of weights) and sum in shared memory; otherwise one column
// for TILE_M rows (each word decoded once for all rows), scalar for odd K.
const DR = 4u;
var<workgroup> partial: array<vec4<f32>, WG>;

fn reduce_columns(n0: u32, t: u32) {
  var acc = vec4<f32>(0.0);
  for (var i = t; i < K / WORD_K; i += WG) {
    let e = WORD_K * i;
    let xs = x_sum(e);
    let s = (e / GS) * PADDED_N + n0;  // n0 + r < PADDED_N: N rounds up to 8
    for (var r = 0u; r < DR; r++) {
      let w = weight[min(n0 + r, N - 1u) * KW + i];  // rows past N: not stored
      acc[r] += word_xq(w, e) * group_scale(s + r) + xs * group_offset(s + r);
    }
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step /= 2u) {  // WG is a power of two
    if (t < step) { partial[t] += partial[t + step]; }
    workgroupBarrier();
  }
  if (t < DR && n0 + t < N) { store(n0 + t, 0u, partial[0][t]); }
}

fn x_at(e: u32) -> f32 {
  return x[e >> 2u][e & 3u];
}

fn x_sum(e: u32) -> f32 {  // sum of x[e .. e + WORD_K)
  var s = x[e >> 2u];
  if (WORD_K == 8u) { s += x[(e >> 2u) + 1u]; }
  return dot(s, vec4<f32>(1.0));
}

fn decode_columns(n0: u32) {
  var acc = vec4<f32>(0.0);
  let words = K / WORD_K;
  for (var g = 0u; g * GS < K; g++) {
    var xq = vec4<f32>(0.0);
    var xs = 0.0;
    let i1 = min((g + 1u) * (GS / WORD_K), words);
    for (var i = g * (GS / WORD_K); i < i1; i++) {
      xs += x_sum(WORD_K * i);
      for (var r = 0u; r < DR; r++) {
        xq[r] += word_xq(weight[min(n0 + r, N - 1u) * KW + i], WORD_K * i);  // rows past N: not stored
      }
    }
    for (var r = 0u; r < DR; r++) {
      let t = g * PADDED_N + n0 + r;  // n0 + r < PADDED_N: N rounds up to 8
      acc[r] += xq[r] * group_scale(t) + xs * group_offset(t);
    }
  }
  for (var r = 0u; r < DR; r++) {
    if (n0 + r < N) { store(n0 + r, 0u, acc[r]); }
  }
}

fn general_column(n: u32, m0: u32, rows: u32) {
  let words = (K + WORD_K - 1u) / WORD_K;
  let fast = ALIGNED && (K % WORD_K) == 0u;
  var acc = vec4<f32>(0.0);
  for (var g = 0u; g * GS < K; g++) {
    var xq = vec4<f32>(0.0);
    var xs = vec4<f32>(0.0);
    let i1 = min((g + 1u) * (GS / WORD_K), words);
    for (var i = g * (GS / WORD_K); i < i1; i++) {
      let w = row_word(n, i, ROW_BYTES);
      let k0 = WORD_K * i;
      if (fast) {
        for (var t = 0u; t < rows; t++) {
          let e = (m0 + t) * K + k0;
          xq[t] += word_xq(w, e);
          xs[t] += x_sum(e);
        }
      } else {
        for (var j = 0u; j < min(WORD_K, K - k0); j++) {
          let q = code_at(w, j);
          for (var t = 0u; t < rows; t++) {
            let xv = x_at((m0 + t) * K + k0 + j);
            xq[t] += xv * q;
            xs[t] += xv;
          }
        }
      }
    }
    let t = g * PADDED_N + n;
    acc += xq * group_scale(t) + xs * group_offset(t);
  }
  for (var t = 0u; t < rows; t++) {
    store(n, m0 + t, acc[t]);
  }
}

fn store(n: u32, m: u32, value: f32) {
  var b = 0.0;
  if (HAS_BIAS) { b = bias[n]; }
  out[m * N + n] = value + b;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  if (REDUCE) {
    let n0 = flat_workgroup(wid, nwg) * DR;  // uniform per workgroup: the barriers stay uniform
    if (n0 < N) { reduce_columns(n0, lid.x); }
    return;
  }
  let idx = flat_workgroup(wid, nwg) * WG + lid.x;
  if (DECODE) {
    if (idx * DR < N) { decode_columns(idx * DR); }
    return;
  }
  let n = idx % N;
  let m0 = (idx / N) * TILE_M;
  let m = params.m;
  if (m0 < m) { general_column(n, m0, min(TILE_M, m - m0)); }
}
