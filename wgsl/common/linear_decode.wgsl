// The decode path (M == 1, aligned K) of the group-quantized linears: each invocation computes
// DR output columns, so every x load serves DR weight words (x loads dominated on SwiftShader).
// Per group, w = q * scale + offset, so out = scale * sum(x * q) + offset * sum(x). The
// including shader defines word_xq(w, i) (sum over word i's k of x * q), WORD_K (k per word),
// group_scale(t) and group_offset(t) for t = g * PADDED_N + n.
const DR = 4u;

fn x_sum(i: u32) -> f32 {
  if (WORD_K == 8u) {
    return dot(x[2u * i] + x[2u * i + 1u], vec4<f32>(1.0));
  }
  return dot(x[i], vec4<f32>(1.0));
}

fn decode_columns(n0: u32) {
  var acc = vec4<f32>(0.0);
  let words = K / WORD_K;
  for (var g = 0u; g * GS < K; g++) {
    var xq = vec4<f32>(0.0);
    var xs = 0.0;
    let i1 = min((g + 1u) * (GS / WORD_K), words);
    for (var i = g * (GS / WORD_K); i < i1; i++) {
      xs += x_sum(i);
      for (var r = 0u; r < DR; r++) {
        xq[r] += word_xq(weight[min(n0 + r, N - 1u) * KW + i], i);  // rows past N: computed, not stored
      }
    }
    for (var r = 0u; r < DR; r++) {
      let t = g * PADDED_N + n0 + r;  // n0 + r < PADDED_N: N rounds up to 8
      acc[r] += xq[r] * group_scale(t) + xs * group_offset(t);
    }
  }
  for (var r = 0u; r < DR; r++) {
    if (n0 + r < N) {
      var b = 0.0;
      if (HAS_BIAS) { b = bias[n0 + r]; }
      out[n0 + r] = acc[r] + b;
    }
  }
}
