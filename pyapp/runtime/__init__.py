"""The part of pyapp that runs inside Pyodide: device, graph, profiler, ops, model, the page.

No numpy here (Pyodide's numpy is not available offline): bytes move as memoryviews and JS
typed arrays. Modules that import `js` are browser.py (the WebGPU backend), jsffi.py,
fetch.py, tensorfile.py, view.py, app.py, and benchmarks.py for its clock; the graph, the
profiler's bookkeeping, the ops, the model builder and the tokenizer import on CPython too
(docs/design.md).
"""
