// gguf_repack: a chunk of whole rows of one GGUF tensor, raw as the file holds them, -> the
// tensor's stored parts in its weight arena (pyapp/runtime/ops/formats.py), bit for bit what the host
// exporter (pyapp/convert/gguf_types.py) writes. One invocation per stored word of a row: a code word
// (8 nibbles, even k low, or 4 int8) or one f32; invocation w < G of a row also writes that row's
// scale (and offset) of group w (with BLOCKS, its word of f16 tables). Padding in the arena is never written.
// f16 is decoded with integer ops (common/f16.wgsl): unpack2x16float may flush subnormals.
// Scales are products of an f16 and a small integer, exact in f32, so they match numpy's.
// #include "common/grid.wgsl"
// #include "common/f16.wgsl"
override TYPE: u32;       // a GGUF type: the codes below (SHADER_TYPES in pyapp/runtime/gguf/repack.py)
// The arena keeps the file's own bytes (describe.AS_BLOCKS): Q4_K/Q5_K/Q6_K's blocks (formats.GGUF_BLOCKS),
// Q6_K's d as an f32 plane; the other types' f16 scales (and offsets) beside our codes (HALF_TABLES).
override BLOCKS: bool = false;
override WG: u32 = 64u;

const F32 = 0u;
const F16 = 1u;
const BF16 = 2u;
const Q4_0 = 3u;
const Q4_1 = 4u;
const Q5_0 = 5u;
const Q5_1 = 6u;
const Q8_0 = 7u;
const Q4_K = 8u;
const Q5_K = 9u;
const Q6_K = 10u;
const Q2_K = 11u;
const Q3_K = 12u;
const IQ4_NL = 13u;
const IQ4_XS = 14u;

// IQ4_NL/IQ4_XS's non-linear 4-bit codebook (ggml's kvalues_iq4nl): stored as the int8 it names.
const IQ4_VALUES = array<i32, 16>(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

struct Params {
  k: u32,          // elements per row (1 for a vector: its elements are rows)
  rows: u32,       // rows in this chunk
  first_row: u32,  // the chunk's first row in the tensor
  codes: u32,      // word offset in the arena of the codes, or of the f32 rows
  scales: u32,     // word offset of the (G, padded_n) f32 scales
  offsets: u32,    // word offset of the (G, padded_n) f32 offsets (affine formats)
  padded_n: u32,
  head: u32,       // head size D of the halves -> pairs row permutation; 0: none
}

@group(0) @binding(0) var<storage, read_write> arena: array<u32>;  // a weight arena, LE words
@group(0) @binding(1) var<storage, read> src: array<u32>;          // (rows, row bytes) GGUF blocks, LE
@group(0) @binding(2) var<uniform> params: Params;

fn block_elems() -> u32 {
  if (TYPE <= BF16) { return 1u; }
  return select(32u, 256u, TYPE >= Q4_K && TYPE != IQ4_NL);
}

fn block_bytes() -> u32 {
  switch TYPE {
    case F32: { return 4u; }
    case F16, BF16: { return 2u; }
    case Q4_0: { return 18u; }
    case Q4_1: { return 20u; }
    case Q5_0: { return 22u; }
    case Q5_1: { return 24u; }
    case Q8_0: { return 34u; }
    case Q4_K: { return 144u; }
    case Q5_K: { return 176u; }
    case Q2_K: { return 84u; }
    case Q3_K: { return 110u; }
    case IQ4_NL: { return 18u; }
    case IQ4_XS: { return 136u; }
    default: { return 210u; }  // Q6_K
  }
}

fn fifth_bits() -> bool {  // Q5_0/Q5_1 kept as nibbles beside the file's qh words (formats.FIFTH_BITS)
  return BLOCKS && (TYPE == Q5_0 || TYPE == Q5_1);
}

fn codes_per_word() -> u32 {
  if (TYPE <= BF16) { return 1u; }
  return select(4u, 8u, TYPE == Q4_0 || TYPE == Q4_1 || TYPE == Q4_K || TYPE == Q2_K || TYPE == Q3_K || fifth_bits());
}

fn group_size() -> u32 {
  return select(32u, 16u, TYPE == Q6_K || TYPE == Q2_K || TYPE == Q3_K);
}

fn affine() -> bool {
  return TYPE == Q4_1 || TYPE == Q5_1 || TYPE == Q4_K || TYPE == Q5_K || TYPE == Q2_K;
}

fn byte_at(b: u32) -> u32 {
  return (src[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu;
}

fn u16_at(b: u32) -> u32 {
  return byte_at(b) | (byte_at(b + 1u) << 8u);
}

fn u32_at(b: u32) -> u32 {
  let s = (b & 3u) * 8u;
  let lo = src[b >> 2u] >> s;
  if (s == 0u) { return lo; }  // a shift by 32 would be a shift by 0
  return lo | (src[(b >> 2u) + 1u] << (32u - s));
}

fn f16_at(b: u32) -> f32 {
  return bitcast<f32>(f16_bits(u16_at(b)));
}

// Of a 32-element block's 16 bytes at `at`: byte i holds elements i (low) and i + 16 (high).
fn nibble32(at: u32, e: u32) -> u32 {
  return (byte_at(at + (e & 15u)) >> ((e >> 4u) * 4u)) & 0xFu;
}

// Of Q4_K/Q5_K's 128 bytes at `at`: byte c*32 + l holds elements c*64 + l (low) and c*64 + 32 + l.
fn nibble256(at: u32, e: u32) -> u32 {
  return (byte_at(at + (e >> 6u) * 32u + (e & 31u)) >> (((e >> 5u) & 1u) * 4u)) & 0xFu;
}

// Of Q2_K/Q3_K's 64 bytes at `at`: in each half of 32 bytes, bits 2j..2j+1 of byte l are element
// j * 32 + l of that half's 128.
fn crumb256(at: u32, e: u32) -> u32 {
  return (byte_at(at + (e >> 7u) * 32u + (e & 31u)) >> (((e >> 5u) & 3u) * 2u)) & 3u;
}

fn iq4_value(index: u32) -> u32 {
  return bitcast<u32>(IQ4_VALUES[index]);
}

// The stored code of element k of the row at byte `row`: a nibble, or an int8's byte (low 8 bits).
fn code(row: u32, k: u32) -> u32 {
  let b = row + (k / block_elems()) * block_bytes();
  let e = k % block_elems();
  switch TYPE {
    case Q4_0: { return nibble32(b + 2u, e); }
    case Q4_1: { return nibble32(b + 4u, e); }
    case Q5_0: { return (nibble32(b + 6u, e) | (((u32_at(b + 2u) >> e) & 1u) << 4u)) - 16u; }
    case Q5_1: { return nibble32(b + 8u, e) | (((u32_at(b + 4u) >> e) & 1u) << 4u); }
    case Q8_0: { return byte_at(b + 2u + e); }
    case Q4_K: { return nibble256(b + 16u, e); }
    case Q5_K: {  // the 5th bit of element i*32 + j is bit i of qh byte j
      return nibble256(b + 48u, e) | (((byte_at(b + 16u + (e & 31u)) >> (e >> 5u)) & 1u) << 4u);
    }
    case Q2_K: { return crumb256(b + 16u, e); }
    case Q3_K: {  // q - 4 unless bit e / 32 of hmask byte e % 32 is set; stored as q - 4 + 8
      return crumb256(b + 32u, e) + 4u * ((byte_at(b + (e & 31u)) >> (e >> 5u)) & 1u) + 4u;
    }
    case IQ4_NL: { return iq4_value(nibble32(b + 2u, e)); }
    case IQ4_XS: { return iq4_value(nibble32(b + 8u + (e >> 5u) * 16u, e & 31u)); }
    default: {  // Q6_K: 2 halves of 128: low nibbles from 64 bytes of ql, 2 high bits from 32 of qh
      let half = e >> 7u;
      let r = e & 127u;
      let low = (byte_at(b + half * 64u + (r & 63u)) >> ((r >> 6u) * 4u)) & 0xFu;
      let high = (byte_at(b + 128u + half * 32u + (r & 31u)) >> ((r >> 5u) * 2u)) & 3u;
      return (low | (high << 4u)) - 32u;
    }
  }
}

// ggml's get_scale_min_k4: sub-block j's 6-bit (scale, min) from the 12 packed bytes at `at`.
fn scale_min(at: u32, j: u32) -> vec2<u32> {
  if (j < 4u) {
    return vec2<u32>(byte_at(at + j) & 63u, byte_at(at + j + 4u) & 63u);
  }
  let low = byte_at(at + j + 4u);  // 4 low bits of each; the top 2 ride on bytes j - 4 and j
  return vec2<u32>((low & 0xFu) | ((byte_at(at + j - 4u) >> 6u) << 4u), (low >> 4u) | ((byte_at(at + j) >> 6u) << 4u));
}

// Group g's (scale, offset) bits of the row at byte `row`; offset 0 for the symmetric formats.
fn tables(row: u32, g: u32) -> vec2<u32> {
  switch TYPE {
    case Q4_0, Q5_0, Q8_0, IQ4_NL: { return vec2<u32>(f16_bits(u16_at(row + g * block_bytes())), 0u); }
    case Q4_1, Q5_1: {
      let b = row + g * block_bytes();
      return vec2<u32>(f16_bits(u16_at(b)), f16_bits(u16_at(b + 2u)));
    }
    case Q4_K, Q5_K: {  // 8 sub-blocks of 32: scale d * sc, offset -(dmin * m)
      let b = row + (g / 8u) * block_bytes();
      let sm = scale_min(b + 4u, g % 8u);
      let offset = bitcast<u32>(f16_at(b + 2u) * f32(sm.y)) ^ 0x80000000u;  // -x, -0 included
      return vec2<u32>(bitcast<u32>(f16_at(b) * f32(sm.x)), offset);
    }
    case Q2_K: {  // 16 sub-blocks of 16: byte s holds sc (low nibble) and m; scale d * sc, offset -(dmin * m)
      let b = row + (g / 16u) * block_bytes();
      let sm = byte_at(b + g % 16u);
      let offset = bitcast<u32>(f16_at(b + 82u) * f32(sm >> 4u)) ^ 0x80000000u;
      return vec2<u32>(bitcast<u32>(f16_at(b + 80u) * f32(sm & 0xFu)), offset);
    }
    case Q3_K: {  // 16 6-bit scales: 4 low bits from byte s % 8 (high nibble for s >= 8), 2 from 8 + s % 4
      let b = row + (g / 16u) * block_bytes();
      let s = g % 16u;
      let low = (byte_at(b + 96u + s % 8u) >> ((s / 8u) * 4u)) & 0xFu;
      let sc = low | (((byte_at(b + 104u + s % 4u) >> ((s / 4u) * 2u)) & 3u) << 4u);
      return vec2<u32>(bitcast<u32>(f16_at(b + 108u) * f32(i32(sc) - 32)), 0u);
    }
    case IQ4_XS: {  // 8 sub-blocks of 32: 6-bit sc, 4 low bits in scales_l, 2 high in scales_h; d * (sc - 32)
      let b = row + (g / 8u) * block_bytes();
      let j = g % 8u;
      let low = (byte_at(b + 4u + j / 2u) >> ((j % 2u) * 4u)) & 0xFu;
      let sc = low | (((u16_at(b + 2u) >> (2u * j)) & 3u) << 4u);
      return vec2<u32>(bitcast<u32>(f16_at(b) * f32(i32(sc) - 32)), 0u);
    }
    default: {  // Q6_K: 16 sub-blocks of 16, scale d * int8 sc
      let b = row + (g / 16u) * block_bytes();
      let sc = bitcast<i32>(byte_at(b + 192u + g % 16u) << 24u) >> 24u;
      return vec2<u32>(bitcast<u32>(f16_at(b + 208u) * f32(sc)), 0u);
    }
  }
}

// Qwen's Q/K rows: within each head, source row j -> 2j (j < D/2) or 2(j - D/2) + 1.
fn stored_row(r: u32) -> u32 {
  if (params.head == 0u) { return r; }
  let j = r % params.head;
  let half = params.head / 2u;
  return r - j + select(2u * (j - half) + 1u, 2u * j, j < half);
}

fn float_bits(row: u32, k: u32) -> u32 {
  switch TYPE {
    case F32: { return u32_at(row + 4u * k); }
    case F16: { return f16_bits(u16_at(row + 2u * k)); }
    default: { return u16_at(row + 2u * k) << 16u; }  // BF16: the top half of an f32
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let per_word = codes_per_word();
  let kept = select(block_bytes(), 208u, TYPE == Q6_K) / 4u;  // words kept a block, when copied
  let copies = BLOCKS && (TYPE == Q4_K || TYPE == Q5_K || TYPE == Q6_K);
  let words = select(params.k / per_word, (params.k / block_elems()) * kept, copies);  // stored words per row
  let i = flat_workgroup(wid, nwg) * WG + lid.x;
  if (i >= params.rows * words) { return; }
  let r = i / words;
  let w = i % words;
  let row = r * (params.k / block_elems()) * block_bytes();  // the row's first byte in src
  let n = stored_row(params.first_row + r);
  if (copies) {  // Q6_K's blocks lie on 2 bytes (210 a block): u32_at reads across words
    arena[params.codes + n * words + w] = u32_at(row + (w / kept) * block_bytes() + 4u * (w % kept));
    if (TYPE == Q6_K && w < params.k / 256u) {
      arena[params.scales + n * (params.k / 256u) + w] = f16_bits(u16_at(row + w * 210u + 208u));
    }
    return;
  }
  if (TYPE <= BF16) {
    arena[params.codes + n * params.k + w] = float_bits(row, w);
    return;
  }
  let bits = 32u / per_word;
  let mask = (1u << bits) - 1u;
  var word = 0u;
  for (var j = 0u; j < per_word; j++) {
    word |= (code(row, w * per_word + j) & mask) << (j * bits);
  }
  arena[params.codes + n * words + w] = word;
  if (BLOCKS) {  // row-major f16 words: group w's d and m, or groups 2w and 2w + 1's d (none past G)
    let g = params.k / group_size();
    if (affine() && w < g) {
      arena[params.scales + n * params.padded_n + w] = u32_at(row + w * block_bytes());
    } else if (!affine() && 2u * w < g) {
      var pair = u16_at(row + 2u * w * block_bytes());
      if (2u * w + 1u < g) { pair |= u16_at(row + (2u * w + 1u) * block_bytes()) << 16u; }
      arena[params.scales + n * params.padded_n + w] = pair;
    }
    if (fifth_bits() && w < g) {  // qh follows d (and m)
      arena[params.offsets + n * g + w] = u32_at(row + w * block_bytes() + select(2u, 4u, TYPE == Q5_1));
    }
    return;
  }
  if (w < params.k / group_size()) {
    let t = tables(row, w);
    arena[params.scales + w * params.padded_n + n] = t.x;
    if (affine()) {
      arena[params.offsets + w * params.padded_n + n] = t.y;
    }
  }
}
