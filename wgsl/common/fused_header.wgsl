// Overrides shared by the fused model kernels (pyapp/runtime/ops/_fused.py sets them).
override K: u32;                 // input features (a multiple of 8)
override GS: u32 = 32u;          // group size along K (a multiple of 8)
override CPS: u32 = 2u;          // columns per work item, per matrix
override MATS: u32 = 1u;         // matrices per work item (2: gate and up)
override NORM: bool = false;     // RMSNorm the input rows first (its weight in the arena)
override EPS: f32 = 1e-5;
override GAMMA: u32 = 0u;       // word offset of the RMSNorm weight (NORM)
override WG: u32 = 64u;
override ITEMS: u32 = 64u;       // work items per workgroup
override TILE_ROWS: u32 = 1u;    // rows of a workgroup's tile of items (a divisor of ITEMS)
override WIDE: bool = false;
override PAIRS: bool = false;  // WIDE with every matrix in GGUF blocks: lanes take 64 k (K % 64 == 0)   // lanes take 32-k chunks in turn, read 16 bytes at a time (K % 32 == 0)
