"""pyapp: quantized LLM inference in the browser, written in Python.

`pyapp.runtime` runs inside Pyodide and drives WebGPU; everything else here runs on the host
(the server, the exporter, the numpy reference and the benchmark CLI).
"""

__version__ = "0.1.0"
