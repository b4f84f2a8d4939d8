"""A GGUF opened in the page, with no server-side conversion: from a file the user picks or
drops, or from a URL (same origin, or any that allows CORS).

The file's bytes stay in one JS ArrayBuffer: Python reads only its header (gguf_file.py, the
reader the host exporter uses too), in windows of a few MiB, and gguf_model.py turns the header
into the config and tokenizer the exporter would write. The tensors go from the buffer straight
into the GPU, where gguf_upload.py repacks each into the layout our kernels read: no tensor
passes through Python objects. A kept GGUF (model_store.py) starts with no model bytes fetched.
"""

from __future__ import annotations

import js

from .config import ModelConfig
from .fetch import fetch_ok
from .gguf_file import parse
from .gguf_model import UnsupportedModel, describe
from .gguf_upload import TensorRecord, tensor_records, upload_gguf
from .jsffi import py_bytes
from .tokenizer import Tokenizer
from .weights import Weights

WINDOW = 4 << 20  # bytes of the header Python holds at a time


class HeaderWindow:
    """read(offset, n) over a JS ArrayBuffer for the header parser: it asks for millions of small
    pieces (every token of the vocabulary), so a window of WINDOW bytes is copied at a time."""

    def __init__(self, buffer):
        self.buffer, self.size = buffer, int(buffer.byteLength)
        self.start, self.data = 0, b""

    def read(self, offset: int, n: int) -> bytes:
        if not (self.start <= offset and offset + n <= self.start + len(self.data)):
            self.start = offset
            self.data = py_bytes(self.buffer.slice(offset, min(self.size, offset + max(n, WINDOW))))
        at = offset - self.start
        return self.data[at:at + n]


async def read_file(file, on_progress=None):
    """A File (picked or dropped) into an ArrayBuffer, in slices so that progress shows."""
    total = int(file.size)
    data = js.Uint8Array.new(total)
    done = 0
    while done < total:
        piece = await file.slice(done, min(total, done + (64 << 20))).arrayBuffer()
        data.set(js.Uint8Array.new(piece), done)
        done += int(piece.byteLength)
        if on_progress:
            on_progress(done, total)
    return data.buffer


async def remote_version(url: str) -> str:
    """What identifies the file at url now (size, ETag, Last-Modified), from a HEAD request: no bytes."""
    headers = (await fetch_ok(url, method="HEAD", cache="no-store")).js_response.headers
    return " ".join(str(headers.get(h) or "") for h in ("Content-Length", "ETag", "Last-Modified"))


def model_parts(buffer, name: str) -> tuple[ModelConfig, Tokenizer, list[TensorRecord]]:
    """The config, tokenizer and tensor records of a GGUF held in buffer; GGUFError or
    UnsupportedModel name the file and the fault."""
    window = HeaderWindow(buffer)
    header = parse(window.read, window.size, name)
    try:
        config, tokenizer = describe(header, window.read)
    except UnsupportedModel as e:
        raise UnsupportedModel(f"{name}: {e}") from None
    records = tensor_records(header, config)
    return ModelConfig.from_json({**config, "source": {"file": name}}), Tokenizer(tokenizer), records


async def load_gguf(device, buffer, name: str, *, on_progress=None, **model_args):
    """A Model from the GGUF in buffer: parsed, uploaded and repacked on the GPU, prepared."""
    from .model import Model

    config, tokenizer, records = model_parts(buffer, name)
    weights = Weights.allocate(device, config)
    async with device.error_scope("upload weights"):
        await upload_gguf(device, weights, buffer, records,
                          on_progress and (lambda done, total: on_progress("Uploading to the GPU", done, total)))
    model = Model(device, config, weights, tokenizer, **model_args)
    if on_progress:
        on_progress("Compiling kernels", 0, 1)
    await model.prepare()
    return model
