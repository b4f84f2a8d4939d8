// next_token: argmax's second stage (over the chunk winners of argmax.wgsl stage 0) that also
// feeds the next decode step on the GPU: tokens[0] = the winner, ring[step] = the winner, and
// the SymInts input_pos and step advance by one. Several steps then run in one submit and the
// host reads the ring once. The lowest index wins a tie, as in argmax.
override CHUNKS: u32;            // stage-0 pairs
override RING: u32;              // ring slots

@group(0) @binding(0) var<storage, read_write> tokens: array<u32>;  // (4,): next token id, its logit bits
@group(0) @binding(1) var<storage, read_write> ring: array<u32>;    // (RING,) token ids of this submit
@group(0) @binding(2) var<storage, read_write> pos: vec4<u32>;      // SymInt input_pos
@group(0) @binding(3) var<storage, read_write> step: vec4<u32>;     // SymInt step: the ring slot
@group(0) @binding(4) var<storage, read> pairs: array<u32>;         // (CHUNKS, 2): max bits, index

@compute @workgroup_size(1)
fn main() {
  var best = 0u;
  for (var j = 1u; j < CHUNKS; j++) {
    if (bitcast<f32>(pairs[2u * j]) > bitcast<f32>(pairs[2u * best])) { best = j; }
  }
  let id = pairs[2u * best + 1u];
  tokens[0] = id;
  tokens[1] = pairs[2u * best];
  ring[step.x % RING] = id;
  step.x += 1u;
  pos.x += 1u;
}
