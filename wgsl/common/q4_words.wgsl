// How the 4-bit linears read a weight word (8 nibbles); included by linear_q4gsw and linear_q4gaw.
const WORD_K = 8u;                 // nibbles per word: k = 8i + j in bits 4j..4j+3
override ROW_BYTES: u32 = (K + 1u) / 2u;  // derived, never passed

fn code_at(w: u32, j: u32) -> f32 {
  return f32((w >> (4u * j)) & 0xFu);
}

fn word_xq(w: u32, e: u32) -> f32 {
  let a = x[e >> 2u];
  let b = x[(e >> 2u) + 1u];
  return dot(vec4<f32>(a.x, a.z, b.x, b.z), vec4<f32>(unpack4xU8(w & 0x0F0F0F0Fu)))          // even k
       + dot(vec4<f32>(a.y, a.w, b.y, b.w), vec4<f32>(unpack4xU8((w >> 4u) & 0x0F0F0F0Fu)));  // odd k
}
