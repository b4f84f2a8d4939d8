// norm_linear: out[n] = RMSNorm(x[first]) . W[n] for one row of x: the model's final norm and
// LM head in one dispatch (`first` is the last real row of a prefill). CPS columns per item.
// #include "common/grid.wgsl"
// #include "common/fused_header.wgsl"
// #include "common/team.wgsl"
// #include "common/fused.wgsl"
override N: u32;                 // output features (the vocabulary)
override A_FMT: u32; override A_CODES: u32; override A_SCALES: u32; override A_OFFSETS: u32 = 0u; override A_PN: u32; override A_GS: u32 = 32u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (1, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (S, K) f32
@group(0) @binding(2) var<storage, read> w: array<u32>;          // the model's weight arena
@group(0) @binding(3) var<storage, read> w4: array<vec4<u32>>;   // the same arena, 16 bytes a read (WIDE)
@group(0) @binding(4) var<uniform> first: vec4<u32>;             // the row to take: .x

fn ncols() -> u32 { return N; }
fn live_rows() -> u32 { return 1u; }

fn item_mats(n0: u32) -> Mats {
  let mat = Mat(A_FMT, A_CODES, A_SCALES, A_OFFSETS, A_PN, N, A_GS);
  return Mats(mat, mat, n0);
}

fn x_row(row: u32) -> u32 { return first.x; }

fn store(at: Item, v: Sums) {
  for (var c = 0u; c < CPS; c++) {
    if (at.n0 + c < N) { out[at.n0 + c] = v.v[c]; }
  }
}
