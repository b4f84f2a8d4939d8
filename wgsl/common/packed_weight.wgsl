// Reading packed weight rows as little-endian u32 words. The including shader declares
// `weight: array<u32>` and the overrides ALIGNED (every row starts on a word boundary) and
// KW (words per row when ALIGNED).

fn weight_byte(b: u32) -> u32 {
  return (weight[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu;
}

// Word i of row n, whose rows are `row_bytes` long: four bytes starting at byte 4i of the row.
fn row_word(n: u32, i: u32, row_bytes: u32) -> u32 {
  if (ALIGNED) {
    return weight[n * KW + i];
  }
  let b = n * row_bytes + 4u * i;
  if ((b & 3u) == 0u) {
    return weight[b >> 2u];
  }
  return weight_byte(b) | (weight_byte(b + 1u) << 8u) | (weight_byte(b + 2u) << 16u) | (weight_byte(b + 3u) << 24u);
}
