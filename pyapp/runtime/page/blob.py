"""A GGUF opened in the page, with no server-side conversion: from a file the user picks or
drops, from a URL (same origin, or any that allows CORS), or kept by this browser.

The file stays a Blob (a File, a download, the browser's kept copy: the browser keeps big ones
on disk), read a block of BLOCK bytes at a time in file order: never the whole file in memory,
never a tensor in Python objects. Python reads only the header (reader.py, the reader the
host exporter uses too) and describe.py turns it into the config and tokenizer the exporter
would write; each tensor's rows go from the current block straight into the GPU, where
repack.py repacks them into the layout our kernels read. As blocks pass, WebCrypto hashes
each; the file's content key is the SHA-256 of those block digests (WebCrypto hashes whole
buffers only, and the file is never one), which names the kept copy (page/store.py).
"""

from __future__ import annotations

import hashlib

import js

from ..gguf.describe import FACTORS, UnsupportedModel, describe
from ..gguf.reader import GGUFError, parse
from ..gguf.repack import TensorRecord, tensor_records, upload_gguf
from ..gpu.jsffi import py_bytes
from ..model.config import ModelConfig
from ..model.make import make_model
from ..model.model import runs_fused
from ..tokenizer.tokenizer import Tokenizer
from .store import Opened, sha256

BLOCK = 64 << 20  # bytes read (and hashed) at a time
HEADER = 8 << 20  # the first guess at a header's size; it doubles until the header fits...
MAX_HEADER = 512 << 20  # ...up to this: a vocabulary of 10^6 tokens takes some tens of MiB


class DamagedCopy(RuntimeError):
    """A file whose content key is not the one it was kept under."""


class BlobFile:
    """A GGUF in a Blob, read for upload_gguf in file order: `view(offset, n)` is a view of the
    current block (or, for a piece across two blocks, a copy of it), and every block is hashed once."""

    def __init__(self, blob):
        self.blob, self.size = blob, int(blob.size)
        self.start, self.block = -1, None
        self.hashed, self.digests = 0, []

    async def _read(self, start: int, end: int):
        return await self.blob.slice(start, end).arrayBuffer()

    async def _load(self, start: int):
        buffer = await self._read(start, min(self.size, start + BLOCK))
        if start == self.hashed:  # in order: hash it now, so no block is read twice
            self.digests.append(await sha256(buffer))
            self.hashed += int(buffer.byteLength)
        self.start, self.block = start, js.Uint8Array.new(buffer)

    async def view(self, offset: int, n: int):
        if n > BLOCK:  # upload_gguf asks for at most its staging buffer (16 MiB)
            raise ValueError(f"a piece of {n} bytes is larger than a block of {BLOCK}")
        first = offset - offset % BLOCK
        if first != self.start:
            await self._load(first)
        if offset + n <= first + BLOCK:
            return self.block.subarray(offset - first, offset - first + n)
        piece = js.Uint8Array.new(n)  # across two blocks: at most a staging buffer, copied JS-side
        head = first + BLOCK - offset
        piece.set(self.block.subarray(offset - first), 0)
        await self._load(first + BLOCK)
        piece.set(self.block.subarray(0, n - head), head)
        return piece

    async def content_key(self) -> str:
        """SHA-256 of the blocks' SHA-256s, hashing whatever the upload did not read."""
        while self.hashed < self.size:
            await self._load(self.hashed)
        return hashlib.sha256(b"".join(self.digests)).hexdigest()

    async def bytes_at(self, offset: int, n: int) -> bytes:
        """A few bytes as Python bytes (the header, RoPE's factors), read apart from the blocks."""
        return py_bytes(await self._read(offset, min(self.size, offset + n)))


class _NeedMore(Exception):
    pass


async def read_header(source: BlobFile, name: str):
    """(The parsed header, the bytes it was read from): a prefix of the file that doubles until
    the header fits."""
    n = HEADER
    while True:
        data = await source.bytes_at(0, n)

        def read(offset: int, count: int) -> bytes:
            if offset + count > len(data):  # parse() checks the file's size itself first
                raise _NeedMore
            return data[offset:offset + count]
        try:
            return parse(read, source.size, name), data
        except _NeedMore:
            if n >= MAX_HEADER:
                raise GGUFError(f"{name}: its header takes more than {MAX_HEADER >> 20} MiB") from None
            n *= 2


async def model_parts(source: BlobFile, name: str, blocks: bool = False) -> tuple[ModelConfig, Tokenizer, list[TensorRecord]]:
    """The config, tokenizer and tensor records of a GGUF; GGUFError or UnsupportedModel name the
    file and the fault. blocks: the types describe.AS_BLOCKS names stay the file's blocks."""
    header, head = await read_header(source, name)
    factors = {t.offset: await source.bytes_at(t.offset, t.nbytes) for t in header.tensors
               if t.name in FACTORS and t.nbytes <= 1 << 16}  # a factor a frequency; describe() checks the shape

    def read(offset: int, n: int) -> bytes:  # all describe() reads: the header, RoPE's factors
        return factors[offset][:n] if offset in factors else head[offset:offset + n]
    try:
        config, tokenizer = describe(header, read, blocks)
    except UnsupportedModel as e:
        raise UnsupportedModel(f"{name}: {e}") from None
    records = tensor_records(header, config)
    return ModelConfig.from_json({**config, "source": {"file": name}}), Tokenizer(tokenizer), records


async def open_model(device, blob, name: str, *, on_progress=None, expect_key: str = "", **model_args) -> Opened:
    """The GGUF in blob: parsed, uploaded and repacked on the GPU, built and prepared (model/make.py),
    with the file's content key; model_args go to Model. With expect_key, a file with another key
    raises DamagedCopy. A model for the fused path keeps the file's Q4_K blocks as they are."""
    source = BlobFile(blob)
    blocks = runs_fused(device, model_args.get("kernel_style"), model_args.get("fused"))
    config, tokenizer, records = await model_parts(source, name, blocks)
    opened = Opened(None)

    async def upload(weights, progress):
        await upload_gguf(device, weights, source, records, progress)
        opened.key = await source.content_key()
        if expect_key and opened.key != expect_key:
            raise DamagedCopy(f"{name}: the browser's copy is damaged (content key {opened.key[:16]}…, kept as "
                              f"{expect_key[:16]}…)")
    opened.model = await make_model(device, config, tokenizer, upload, on_progress=on_progress, **model_args)
    return opened


__all__ = ["BlobFile", "DamagedCopy", "GGUFError", "model_parts", "open_model"]
