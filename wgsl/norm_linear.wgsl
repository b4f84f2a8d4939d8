// norm_linear: out[n] = RMSNorm(x[first]) . W[n] for one row of x: the model's final norm and
// LM head in one dispatch (`first` is the last real row of a prefill). CPS columns per item.
// #include "common/grid.wgsl"
// #include "common/fused_header.wgsl"
// #include "common/team.wgsl"
// #include "common/fused.wgsl"
override N: u32;                 // output features (the vocabulary)
override GAMMA: u32;             // word offset of the final norm weight
override A_FMT: u32; override A_CODES: u32; override A_SCALES: u32; override A_OFFSETS: u32 = 0u; override A_PN: u32;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (1, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (S, K) f32
@group(0) @binding(2) var<storage, read> w: array<u32>;          // the model's weight arena
@group(0) @binding(3) var<uniform> first: vec4<u32>;             // the row to take: .x

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let team = team_of(lid);
  let mat = Mat(A_FMT, A_CODES, A_SCALES, A_OFFSETS, A_PN, N);
  for (var it = 0u; ; it++) {
    let item = team_item(team, lid, it);
    if (item >= ITEMS) { break; }
    let at = item_at(flat_workgroup(wid, nwg) * ITEMS + item, N, 1u);
    if (!at.live) { continue; }
    let acc = accumulate(team, mat, mat, at.n0, first.x, GAMMA);
    let v = team_sum(team, acc.v) * inv_rms(team_sum(team, vec4<f32>(acc.ss)).x);
    if (team.lane == 0u) {
      for (var c = 0u; c < CPS; c++) {
        if (at.n0 + c < N) { out[at.n0 + c] = v[c]; }
      }
    }
  }
}
