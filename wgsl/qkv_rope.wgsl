// qkv_rope: the attention's input side of one layer in one dispatch. For each row m (position
// pos + m): h = RMSNorm(x[m]); [q | k | v] = h @ [Wq | Wk | Wv]^T; RoPE on each adjacent pair of
// q and k (llama.cpp's GGUF pairing); k and v go straight into the caches at pos + m.
// A work item is CPS / 2 pairs of columns of one row (two pairs where teams read WIDE; widths
// are multiples of the head dim, so an item never straddles q, k and v).
// #include "common/grid.wgsl"
// #include "common/fused_header.wgsl"
// #include "common/team.wgsl"
// #include "common/fused.wgsl"
override NQ: u32;                // Hq * D columns of q
override NKV: u32;               // Hkv * D columns of k, and of v
override HD: u32;                // head dim
override CMAX: u32;              // cache positions (rows of the RoPE tables)
override ROPE: bool = true;      // false: q and k stay unrotated (qk_norm_rope norms and rotates them)
override HAS_BIAS: bool = false; // Qwen2: q, k and v biases, word offsets:
override Q_BIAS: u32 = 0u; override K_BIAS: u32 = 0u; override V_BIAS: u32 = 0u;
override Q_FMT: u32; override Q_CODES: u32; override Q_SCALES: u32; override Q_OFFSETS: u32 = 0u; override Q_PN: u32; override Q_GS: u32 = 32u;
override K_FMT: u32; override K_CODES: u32; override K_SCALES: u32; override K_OFFSETS: u32 = 0u; override K_PN: u32; override K_GS: u32 = 32u;
override V_FMT: u32; override V_CODES: u32; override V_SCALES: u32; override V_OFFSETS: u32 = 0u; override V_PN: u32; override V_GS: u32 = 32u;

@group(0) @binding(0) var<storage, read_write> q: array<f32>;        // (S, NQ) f32
@group(0) @binding(1) var<storage, read_write> k_cache: array<f32>;  // (CMAX, NKV) f32
@group(0) @binding(2) var<storage, read_write> v_cache: array<f32>;  // (CMAX, NKV) f32
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;        // (S, K) f32
@group(0) @binding(4) var<storage, read> w: array<u32>;              // the layer's weight arena
@group(0) @binding(5) var<storage, read> w4: array<vec4<u32>>;       // the same arena, 16 bytes a read (WIDE)
@group(0) @binding(6) var<storage, read> rope: array<f32>;           // cos (CMAX, HD/2), then sin
@group(0) @binding(7) var<uniform> pos: vec4<u32>;                   // SymInt input_pos: .x
@group(0) @binding(8) var<uniform> live: vec4<u32>;                  // rows this step: .x

fn rotate(y: vec2<f32>, p: u32, col: u32) -> vec2<f32> {
  if (!ROPE) { return y; }
  let i = p * (HD / 2u) + (col % HD) / 2u;
  let c = rope[i];
  let s = rope[CMAX * (HD / 2u) + i];
  return vec2<f32>(y.x * c - y.y * s, y.x * s + y.y * c);
}

fn ncols() -> u32 { return NQ + 2u * NKV; }
fn live_rows() -> u32 { return live.x; }

fn item_mats(n0: u32) -> Mats {
  if (n0 < NQ) {
    let m = Mat(Q_FMT, Q_CODES, Q_SCALES, Q_OFFSETS, Q_PN, NQ, Q_GS);
    return Mats(m, m, n0);
  }
  if (n0 < NQ + NKV) {
    let m = Mat(K_FMT, K_CODES, K_SCALES, K_OFFSETS, K_PN, NKV, K_GS);
    return Mats(m, m, n0 - NQ);
  }
  let m = Mat(V_FMT, V_CODES, V_SCALES, V_OFFSETS, V_PN, NKV, V_GS);
  return Mats(m, m, n0 - NQ - NKV);
}

fn x_row(row: u32) -> u32 { return row; }

fn store(at: Item, sums: Sums) {
  let v = sums.v;
  let p = pos.x + at.row;
  for (var pair = 0u; pair < CPS / 2u; pair++) {
    let n = at.n0 + 2u * pair;
    var y = vec2<f32>(v[2u * pair], v[2u * pair + 1u]);
    if (HAS_BIAS) {
      var b = Q_BIAS + n;
      if (n >= NQ + NKV) { b = V_BIAS + n - NQ - NKV; } else if (n >= NQ) { b = K_BIAS + n - NQ; }
      y += vec2<f32>(wf(b), wf(b + 1u));
    }
    if (n < ncols()) {
      if (n < NQ) {
        let r = rotate(y, p, n);
        q[at.row * NQ + n] = r.x;
        q[at.row * NQ + n + 1u] = r.y;
      } else if (n < NQ + NKV) {
        let c = n - NQ;
        let r = rotate(y, p, c);
        k_cache[p * NKV + c] = r.x;
        k_cache[p * NKV + c + 1u] = r.y;
      } else {
        let c = n - NQ - NKV;
        v_cache[p * NKV + c] = y.x;
        v_cache[p * NKV + c + 1u] = y.y;
      }
    }
  }
}
