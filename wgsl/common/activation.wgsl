// The feed-forward's gate activations: 0 SiLU (llama's SwiGLU), 1 GELU in its tanh form (Gemma's
// GeGLU): 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))), written with exp so that a large |g|
// saturates instead of overflowing.
const ACT_SILU = 0u;
const ACT_GELU_TANH = 1u;

fn activate(act: u32, g: f32) -> f32 {
  if (act == ACT_GELU_TANH) {
    let u = 0.7978845608028654 * (g + 0.044715 * g * g * g);
    return g / (1.0 + exp(-2.0 * u));  // 0.5 g (1 + tanh u) = g * sigmoid(2u)
  }
  return g / (1.0 + exp(-g));
}
