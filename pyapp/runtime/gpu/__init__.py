"""The GPU layer: one Device interface and its browser backend (WebGPU through Pyodide, encode.js),
buffer kinds and sizes, WGSL sources, pipelines, the timestamp profiler, and the one module that
converts Python values to JS (jsffi)."""
