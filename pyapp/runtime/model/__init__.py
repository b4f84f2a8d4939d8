"""The model: packed weight formats, config, weights in arenas, the forward graphs, the decode loop,
sampling."""
