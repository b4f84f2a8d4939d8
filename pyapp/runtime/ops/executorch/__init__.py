"""ExecuTorch's ops and the op-by-op graph's model ops (embedding, rms_norm, rope, ...)."""
