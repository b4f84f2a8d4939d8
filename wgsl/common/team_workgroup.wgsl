// The workgroup is one team (GPUs without subgroups): its invocations split K and sum through
// shared memory. Every invocation walks the same items, so the barriers stay in uniform
// control flow. Included as "common/team.wgsl"; WG is a power of two.
struct Team {
  lane: u32,
  size: u32,
}

var<workgroup> team_red: array<vec4<f32>, WG>;

fn team_of(lid: u32) -> Team {
  return Team(lid, WG);
}

fn team_item(t: Team, lid: u32, it: u32) -> u32 {
  return it;
}

fn team_sum(t: Team, v: vec4<f32>) -> vec4<f32> {
  team_red[t.lane] = v;
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step /= 2u) {
    if (t.lane < step) { team_red[t.lane] += team_red[t.lane + step]; }
    workgroupBarrier();
  }
  let total = team_red[0];
  workgroupBarrier();  // team_red is reused by the next item
  return total;
}
