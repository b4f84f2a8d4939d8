// f16 bits -> f32 bits with integer ops, as numpy converts (subnormals kept, NaN payloads
// shifted, not quieted): unpack2x16float may flush subnormals to zero.
fn f16_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1Fu;
  let m = h & 0x3FFu;
  if (e == 0x1Fu) { return sign | 0x7F800000u | (m << 13u); }
  if (e != 0u) { return sign | ((e + 112u) << 23u) | (m << 13u); }
  if (m == 0u) { return sign; }
  let p = firstLeadingBit(m);  // subnormal: m * 2^-24 = 1.f * 2^(p - 24), a normal f32
  return sign | ((p + 103u) << 23u) | ((m << (23u - p)) & 0x7FFFFFu);
}

// The two f16 of a word (low half first), exactly: unpack2x16float, with subnormals (exponent 0)
// made m * 2^-24 in f32 in case it flushed them.
fn f16x2(word: u32) -> vec2<f32> {
  let halves = vec2<u32>(word & 0xFFFFu, word >> 16u);
  let sign = select(vec2<f32>(1.0), vec2<f32>(-1.0), (halves & vec2<u32>(0x8000u)) != vec2<u32>(0u));
  let subnormal = sign * vec2<f32>(halves & vec2<u32>(0x3FFu)) * 5.9604644775390625e-8;
  return select(unpack2x16float(word), subnormal, (halves & vec2<u32>(0x7C00u)) == vec2<u32>(0u));
}
