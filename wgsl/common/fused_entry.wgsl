// The fused kernels' entry point by work items: each team takes this workgroup's items in turn
// and computes each live one (compute_item in common/fused.wgsl); the including shader's ncols()
// and live_rows() say how many there are.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let team = team_of(lid);
  for (var it = 0u; ; it++) {
    let item = team_item(team, lid, it);
    if (item >= ITEMS) { break; }
    let at = item_at(flat_workgroup(wid, nwg), item, ncols(), live_rows());
    if (at.live) { compute_item(team, at); }
  }
}
