// residual_linear: res[m, n] += a[m] . W[n], the attention output and FFN down projections
// with the residual add in their epilogue. A work item is CPS columns of one row.
// #include "common/grid.wgsl"
// #include "common/fused_header.wgsl"
// #include "common/team.wgsl"
// #include "common/fused.wgsl"
override N: u32;                 // output features (the model width)
override ACCUMULATE: bool = true; // false: res = a . W (Gemma norms the projection before its add)
override A_FMT: u32; override A_CODES: u32; override A_SCALES: u32; override A_OFFSETS: u32 = 0u; override A_PN: u32; override A_GS: u32 = 32u;

@group(0) @binding(0) var<storage, read_write> res: array<f32>;  // (S, N) f32, the residual stream
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (S, K) f32, the input a
@group(0) @binding(2) var<storage, read> w: array<u32>;          // the layer's weight arena
@group(0) @binding(3) var<storage, read> w4: array<vec4<u32>>;   // the same arena, 16 bytes a read (WIDE)
@group(0) @binding(4) var<uniform> live: vec4<u32>;              // rows this step: .x

fn ncols() -> u32 { return N; }
fn live_rows() -> u32 { return live.x; }

fn item_mats(n0: u32) -> Mats {
  let mat = Mat(A_FMT, A_CODES, A_SCALES, A_OFFSETS, A_PN, N, A_GS);
  return Mats(mat, mat, n0);
}

fn x_row(row: u32) -> u32 { return row; }

fn store(at: Item, v: Sums) {
  for (var c = 0u; c < CPS; c++) {
    if (at.n0 + c < N) {
      let o = at.row * N + at.n0 + c;
      res[o] = select(v.v[c], res[o] + v.v[c], ACCUMULATE);
    }
  }
}
