// Teams of one (the "lanes" kernel style, for CPU Vulkan): every invocation computes its own
// work items from start to end, so nothing is shared and no barrier is needed. Included as
// "common/team.wgsl" (pyapp/runtime/ops/_fused.py picks the flavor).
struct Team {
  lane: u32,   // this invocation's index in its team
  size: u32,   // invocations in the team
}

fn team_of(lid: u32) -> Team {
  return Team(0u, 1u);
}

// The it-th work item of this team inside its workgroup (items beyond ITEMS_PER_WG end the loop).
fn team_item(t: Team, lid: u32, it: u32) -> u32 {
  return lid + it * WG;
}

fn team_sum(t: Team, v: vec4<f32>) -> vec4<f32> {
  return v;
}
