"""pyapp's graph, ops and WGSL on native WebGPU (wgpu-native through the `wgpu` package).

`device.NativeDevice` is the second backend of `pyapp.runtime.gpu.device.Device`; `cli` is the
command line (`python -m pyapp.native check | bench | model`). Host-side only: the page never
imports this package.
"""
