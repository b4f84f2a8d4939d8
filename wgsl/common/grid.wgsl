// Workloads past 65535 workgroups are folded onto a 2-D grid (pyapp.runtime.graph.fold_grid):
// the flat workgroup index is wid.x + wid.y * num_workgroups.x. Callers bounds-check it.
fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}
