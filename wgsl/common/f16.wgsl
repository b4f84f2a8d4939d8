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

fn f16_low(word: u32) -> f32 {
  return bitcast<f32>(f16_bits(word & 0xFFFFu));
}

fn f16_high(word: u32) -> f32 {
  return bitcast<f32>(f16_bits(word >> 16u));
}
