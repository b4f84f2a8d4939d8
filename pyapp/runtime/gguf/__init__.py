"""GGUF files: the checking reader and what a header describes (both shared with the host
exporter), and the GPU repack of its tensors."""
