// next_token: argmax's second stage (over the chunk winners of argmax.wgsl stage 0) that also
// feeds the next decode step on the GPU: tokens[0] = the winner, ring[step] = the winner, and
// the SymInts input_pos and step advance by one. Several steps then run in one submit and the
// host reads the ring once. The lowest index wins a tie, as in argmax. WG > 1 (real GPUs) scans
// the pairs in parallel and reduces in shared memory; WG = 1 (CPU Vulkan) needs no barrier.
override CHUNKS: u32;            // stage-0 pairs
override RING: u32;              // ring slots
override WG: u32 = 1u;

@group(0) @binding(0) var<storage, read_write> tokens: array<u32>;  // (4,): next token id, its logit bits
@group(0) @binding(1) var<storage, read_write> ring: array<u32>;    // (RING,) token ids of this submit
@group(0) @binding(2) var<storage, read_write> pos: vec4<u32>;      // SymInt input_pos
@group(0) @binding(3) var<storage, read_write> step: vec4<u32>;     // SymInt step: the ring slot
@group(0) @binding(4) var<storage, read> pairs: array<u32>;         // (CHUNKS, 2): max bits, index

var<workgroup> best: array<vec2<u32>, WG>;  // (logit bits, token id)

fn better(a: vec2<u32>, b: vec2<u32>) -> bool {  // b beats a
  let x = bitcast<f32>(a.x);
  let y = bitcast<f32>(b.x);
  return y > x || (y == x && b.y < a.y);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) t: u32) {
  var mine = vec2<u32>(pairs[0], pairs[1]);
  for (var j = t; j < CHUNKS; j += WG) {
    let p = vec2<u32>(pairs[2u * j], pairs[2u * j + 1u]);
    if (better(mine, p)) { mine = p; }
  }
  if (WG > 1u) {
    best[t] = mine;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
      if (t < s && better(best[t], best[t + s])) { best[t] = best[t + s]; }
      workgroupBarrier();
    }
    mine = best[0];
  }
  if (t == 0u) {
    tokens[0] = mine.y;
    tokens[1] = mine.x;
    ring[step.x % RING] = mine.y;
    step.x += 1u;
    pos.x += 1u;
  }
}
