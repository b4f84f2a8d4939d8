"""GGUF files: the checking reader (shared with the host exporter), what a header describes, the GPU
repack of its tensors, and a GGUF read from a Blob in the page."""
