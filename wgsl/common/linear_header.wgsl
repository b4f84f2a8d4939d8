// Shape constants shared by the group-quantized linears (pyapp/runtime/ops/_linear.py).
override N: u32;                 // output features
override K: u32;                 // input features
override GS: u32;                // group size along K, a multiple of 8
override PADDED_N: u32;          // row length of the (G, PADDED_N) group tables
override TILE_M: u32 = 1u;       // rows of x per invocation: 1 for decode, up to 4 for prefill
override HAS_BIAS: bool = false;
override ALIGNED: bool = true;   // weight rows start on u32 boundaries
override KW: u32;                // u32 words per weight row (when ALIGNED)
override WG: u32 = 64u;
override DECODE: bool = false;   // M == 1 with aligned K: common/linear_decode.wgsl

// M, the rows of x this step computes, is live: params.x (the op's resize hook sets it).
fn rows_m() -> u32 {
  return params.x;
}

// This invocation's output column n and its first row m0 (m0 >= M: nothing to do).
fn linear_slot(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
  let idx = flat_workgroup(wid, nwg) * WG + lid.x;
  return vec2<u32>(idx % N, (idx / N) * TILE_M);
}

fn linear_store(n: u32, m0: u32, rows: u32, acc: vec4<f32>) {
  var b = 0.0;
  if (HAS_BIAS) { b = bias[n]; }
  for (var t = 0u; t < rows; t++) {
    out[(m0 + t) * N + n] = acc[t] + b;
  }
}
