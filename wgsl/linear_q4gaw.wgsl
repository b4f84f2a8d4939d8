// linear_q4gaw: out[m, n] = sum_k x[m, k] * (nib(n, k) * scales[g, n] + offsets[g, n]) + bias[n]
// The sibling for GGUF Q4_1: nibbles packed as in linear_q4gsw, q in 0..15 stored as is.
// #include "common/grid.wgsl"
// #include "common/linear_header.wgsl"
// #include "common/packed_weight.wgsl"
// #include "common/linear_body.wgsl"
// #include "common/q4_words.wgsl"

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (M, N) f32
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;    // (M, K) f32, 16-byte padded
@group(0) @binding(2) var<storage, read> weight: array<u32>;     // (N, ceil(K/2)) u8, LE words
@group(0) @binding(3) var<storage, read> scales: array<f32>;     // (G, PADDED_N) f32
@group(0) @binding(4) var<storage, read> offsets: array<f32>;    // (G, PADDED_N) f32
@group(0) @binding(5) var<storage, read> bias: array<f32>;       // (N,) f32 or a placeholder
@group(0) @binding(6) var<uniform> params: Params;

fn group_scale(t: u32) -> f32 { return scales[t]; }
fn group_offset(t: u32) -> f32 { return offsets[t]; }
