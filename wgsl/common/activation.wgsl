// The feed-forward's gate activations: 0 SiLU (llama's SwiGLU), 1 GELU in its tanh form (Gemma's
// GeGLU): 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))), written with exp so that a large |g|
// saturates instead of overflowing; and Gemma 2's soft cap.
const ACT_SILU = 0u;
const ACT_GELU_TANH = 1u;

fn activate(act: u32, g: f32) -> f32 {
  if (act == ACT_GELU_TANH) {
    let u = 0.7978845608028654 * (g + 0.044715 * g * g * g);
    return g / (1.0 + exp(-2.0 * u));  // 0.5 g (1 + tanh u) = g * sigmoid(2u)
  }
  return g / (1.0 + exp(-g));
}

// cap * tanh(x / cap), from exp of a non-positive argument: a large |x| saturates at +-cap.
fn soft_cap(x: f32, cap: f32) -> f32 {
  let e = exp(-2.0 * abs(x) / cap);
  return sign(x) * cap * (1.0 - e) / (1.0 + e);
}
