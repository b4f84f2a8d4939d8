// Teams are subgroups (GPUs with the `subgroups` feature): a subgroup's lanes split K and sum
// with subgroupAdd. Lane numbers come from subgroupExclusiveAdd and work items from a
// workgroup counter, so any subgroup size and any mapping of invocations works. The counter is
// zeroed by hand (one barrier): not every implementation zeroes workgroup memory. The lanes of
// a team walk the same items, so subgroup operations see a whole subgroup (the analysis of
// subgroup uniformity cannot tell, hence the diagnostic).
enable subgroups;
diagnostic(off, subgroup_uniformity);
// Included as "common/team.wgsl"; the shader starts with `enable subgroups;`.
struct Team {
  lane: u32,
  size: u32,
}

var<workgroup> team_counter: atomic<u32>;

fn team_of(lid: u32) -> Team {
  if (lid == 0u) { atomicStore(&team_counter, 0u); }
  workgroupBarrier();
  return Team(subgroupExclusiveAdd(1u), subgroupAdd(1u));
}

fn team_item(t: Team, lid: u32, it: u32) -> u32 {
  var item = 0u;
  if (t.lane == 0u) { item = atomicAdd(&team_counter, 1u); }
  return subgroupBroadcastFirst(item);
}

fn team_sum(t: Team, v: vec4<f32>) -> vec4<f32> {
  return subgroupAdd(v);
}
