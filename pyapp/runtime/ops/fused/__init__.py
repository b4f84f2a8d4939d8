"""The model's fused kernels: a decode step in 6 dispatches a layer."""
