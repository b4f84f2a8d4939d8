"""GGUF -> bundle on the host: the file checked (gguf_check), its tensor types repacked into our formats
(gguf_types, with the quantizers of quant), and the checked, cached bundle folders (bundles)."""
