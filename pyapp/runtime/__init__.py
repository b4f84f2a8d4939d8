"""The part of pyapp that runs inside Pyodide: device, graph, profiler, ops, model.

No numpy here (Pyodide's numpy is not available offline): bytes move as memoryviews and JS
typed arrays. Modules that touch `js` are device.py, jsffi.py and app.py; the graph, the
profiler's bookkeeping and the ops import on plain CPython too, so they unit-test there.
"""
