"""The tokenizers (byte-level BPE, SentencePiece BPE, their pre-tokenizers) and the chat template."""
