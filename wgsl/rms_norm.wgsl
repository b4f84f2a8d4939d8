// rms_norm: out[r, :] = x[first + r, :] / sqrt(mean(x^2) + EPS) * weight, for r < rows.
// Lanes style: one invocation per row, no barriers. REDUCE (real GPUs): a workgroup per row.
// `first` lets the final norm take only the last row.
// #include "common/grid.wgsl"
override DIM: u32;
override EPS: f32;
override WG: u32 = 64u;
override REDUCE: bool = false;
// #include "common/reduce.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (rows, DIM) f32
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (S, DIM) f32
@group(0) @binding(2) var<storage, read> weight: array<f32>;     // (DIM,) f32
struct Params {  // graph.uniform(..., first=, rows=) in its op (tests/test_shaders.py checks)
  first: u32,     // first row
  rows: u32,      // live rows
}
@group(0) @binding(3) var<uniform> params: Params;

fn sum_squares(src: u32, t: u32, threads: u32) -> f32 {
  var ss = 0.0;
  for (var i = t; i < DIM; i += threads) {
    let v = x[src + i];
    ss += v * v;
  }
  return ss;
}

fn write_row(r: u32, src: u32, ss: f32, t: u32, threads: u32) {
  let inv = 1.0 / sqrt(ss / f32(DIM) + EPS);
  for (var i = t; i < DIM; i += threads) {
    out[r * DIM + i] = x[src + i] * inv * weight[i];
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  if (REDUCE) {
    let r = flat_workgroup(wid, nwg);  // uniform per workgroup: the barriers stay uniform
    if (r < params.rows) {
      let src = (params.first + r) * DIM;
      red[lid.x] = sum_squares(src, lid.x, WG);
      write_row(r, src, tree(false, lid.x), lid.x, WG);
    }
    return;
  }
  let r = flat_workgroup(wid, nwg) * WG + lid.x;
  if (r < params.rows) {
    let src = (params.first + r) * DIM;
    write_row(r, src, sum_squares(src, 0u, 1u), 0u, 1u);
  }
}
