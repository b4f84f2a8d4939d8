// swiglu: the feed-forward's first half in one dispatch: h = RMSNorm(x[m]); out[m, n] =
// silu(h . gate[n]) * (h . up[n]). A work item is CPS columns of both matrices for one row
// (four where teams read WIDE, two otherwise).
// #include "common/grid.wgsl"
// #include "common/fused_header.wgsl"
// #include "common/team.wgsl"
// #include "common/fused.wgsl"
// #include "common/activation.wgsl"
override N: u32;                 // FFN width
override ACT: u32 = 0u;          // the gate's activation: SiLU, or GELU (Gemma's GeGLU)
override A_FMT: u32; override A_CODES: u32; override A_SCALES: u32; override A_OFFSETS: u32 = 0u; override A_PN: u32; override A_GS: u32 = 32u;
override B_FMT: u32; override B_CODES: u32; override B_SCALES: u32; override B_OFFSETS: u32 = 0u; override B_PN: u32; override B_GS: u32 = 32u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (S, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (S, K) f32
@group(0) @binding(2) var<storage, read> w: array<u32>;          // the layer's weight arena
@group(0) @binding(3) var<storage, read> w4: array<vec4<u32>>;   // the same arena, 16 bytes a read (WIDE)
@group(0) @binding(4) var<uniform> live: vec4<u32>;              // rows this step: .x

fn ncols() -> u32 { return N; }
fn live_rows() -> u32 { return live.x; }

fn item_mats(n0: u32) -> Mats {
  return Mats(Mat(A_FMT, A_CODES, A_SCALES, A_OFFSETS, A_PN, N, A_GS), Mat(B_FMT, B_CODES, B_SCALES, B_OFFSETS, B_PN, N, B_GS), n0);
}

fn x_row(row: u32) -> u32 { return row; }

fn store(at: Item, v: Sums) {
  for (var c = 0u; c < CPS; c++) {
    if (at.n0 + c < N) { out[at.row * N + at.n0 + c] = activate(ACT, sum_at(v, c)) * sum_at(v, CPS + c); }
  }
}
