// How the 8-bit linears read a weight word (4 int8); included by linear_q8gsw and linear_q8gaw.
const WORD_K = 4u;               // int8 values per word: k = 4i + j in bits 8j..8j+7
override ROW_BYTES: u32 = K;     // derived, never passed

fn code_at(w: u32, j: u32) -> f32 {
  return f32(bitcast<i32>(w << (24u - 8u * j)) >> 24u);  // sign-extend byte j
}

fn word_xq(w: u32, e: u32) -> f32 {
  return dot(x[e >> 2u], vec4<f32>(unpack4xI8(w)));
}
