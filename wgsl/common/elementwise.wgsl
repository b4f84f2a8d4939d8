// The elementwise kernels' uniform (ops/_checks.py `elementwise`: graph.uniform(..., count=);
// tests/test_shaders.py checks) and their index: one invocation per element, those past count idle.
struct Params {
  count: u32,     // elements this step
}

fn element(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return flat_workgroup(wid, nwg) * WG + lid.x;
}
