// swiglu: the feed-forward's first half in one dispatch: h = RMSNorm(x[m]); out[m, n] =
// silu(h . gate[n]) * (h . up[n]). A work item is CPS columns of both matrices for one row.
// #include "common/grid.wgsl"
// #include "common/fused_header.wgsl"
// #include "common/team.wgsl"
// #include "common/fused.wgsl"
override N: u32;                 // FFN width
override GAMMA: u32;             // word offset of the FFN norm weight
override A_FMT: u32; override A_CODES: u32; override A_SCALES: u32; override A_OFFSETS: u32 = 0u; override A_PN: u32;
override B_FMT: u32; override B_CODES: u32; override B_SCALES: u32; override B_OFFSETS: u32 = 0u; override B_PN: u32;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (S, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (S, K) f32
@group(0) @binding(2) var<storage, read> w: array<u32>;          // the layer's weight arena
@group(0) @binding(3) var<uniform> live: vec4<u32>;              // rows this step: .x

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let team = team_of(lid);
  let gate = Mat(A_FMT, A_CODES, A_SCALES, A_OFFSETS, A_PN, N);
  let up = Mat(B_FMT, B_CODES, B_SCALES, B_OFFSETS, B_PN, N);
  for (var it = 0u; ; it++) {
    let item = team_item(team, lid, it);
    if (item >= ITEMS) { break; }
    let at = item_at(flat_workgroup(wid, nwg) * ITEMS + item, N, live.x);
    if (!at.live) { continue; }
    let acc = accumulate(team, gate, up, at.n0, at.row, GAMMA);
    let v = team_sum(team, acc.v) * inv_rms(team_sum(team, vec4<f32>(acc.ss)).x);
    if (team.lane == 0u) {
      for (var c = 0u; c < CPS; c++) {
        let g = v[c];
        if (at.n0 + c < N) { out[at.row * N + at.n0 + c] = g / (1.0 + exp(-g)) * v[CPS + c]; }
      }
    }
  }
}
