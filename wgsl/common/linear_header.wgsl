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
override DECODE: bool = false;   // M == 1 with aligned K (common/linear_body.wgsl)
override REDUCE: bool = false;   // the same on real GPUs: a workgroup per column, WG threads over K

struct Params {  // the uniform: graph.uniform(..., m=) in ops/executorch/_linear.py (tests/test_shaders.py checks)
  m: u32,         // live rows (the op's resize hook)
}
