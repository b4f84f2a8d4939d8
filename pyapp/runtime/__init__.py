"""The part of pyapp that runs inside Pyodide, in rooms; each imports only the rooms above it:

  gpu/        the Device interface and its WebGPU backend, buffers, shaders, pipelines, profiler, jsffi
  graph/      values (tensors, SymInts, uniforms), dispatch nodes, the Graph
  ops/        the packed weight formats; one module per op: executorch/ (the op-by-op graph's ops),
              fused/ (the model's kernels)
  tokenizer/  the tokenizers and the chat template
  model/      config, weights, the forward graphs, the decode loop, sampling
  gguf/       a GGUF's reader and description (shared with the host exporter), the GPU repack
  page/       fetching, a GGUF as a Blob, the browser's model store, bundles, which model runs, the
              DOM, the chat session, the app
  bench/      op and model benchmarks, in the page or natively

No numpy here (Pyodide's numpy is not available offline): bytes move as memoryviews and JS
typed arrays. gpu/browser.py, gpu/jsffi.py and page/ import `js` (bench/ only
when it runs in the page); the rest imports on CPython too (docs/design.md).
"""
