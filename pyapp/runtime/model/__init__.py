"""The model: config, weights in arenas, the forward graphs, the decode loop,
sampling."""
