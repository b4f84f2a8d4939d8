"""An exported bundle in the page: its safetensors read as typed-array views (fetch -> ArrayBuffer,
no copies), and the model it makes (`open_model`).

Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape,
data_offsets}, "__metadata__": {str: str}}, then the raw bytes. Tensors come back as JS
Uint8Array views into the one ArrayBuffer, ready for queue.writeBuffer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import js

from ..gpu.jsffi import py_bytes
from ..model.config import ModelConfig
from ..model.make import make_model, phase
from ..tokenizer.tokenizer import Tokenizer
from .fetch import fetch_buffer
from .store import Opened, fetch_bundle

DTYPES = {"F32": "f32", "I32": "i32", "U32": "u32", "I64": "i64", "U8": "u8"}


@dataclass
class StoredTensor:
    name: str
    dtype: str  # our dtype names (f32, u8, ...)
    shape: tuple[int, ...]
    view: object  # JS Uint8Array over the file's ArrayBuffer


class TensorFile:
    def __init__(self, buffer, tensors: dict[str, StoredTensor], metadata: dict[str, str]):
        self.buffer = buffer
        self.tensors = tensors
        self.metadata = metadata

    def __getitem__(self, name: str) -> StoredTensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"no tensor {name!r} in file; it has {sorted(self.tensors)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.tensors


def parse(buffer) -> TensorFile:
    """Parse a safetensors file held in a JS ArrayBuffer."""
    head = py_bytes(buffer.slice(0, 8))
    n = int.from_bytes(head, "little")
    header = json.loads(py_bytes(buffer.slice(8, 8 + n)))
    metadata = header.pop("__metadata__", {}) or {}
    start = 8 + n
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in DTYPES:
            raise TypeError(f"tensor {name!r}: dtype {info['dtype']} is not supported here")
        lo, hi = info["data_offsets"]
        view = js.Uint8Array.new(buffer, start + lo, hi - lo)
        tensors[name] = StoredTensor(name, DTYPES[info["dtype"]], tuple(info["shape"]), view)
    return TensorFile(buffer, tensors, metadata)


async def fetch_file(url: str, on_progress=None) -> TensorFile:
    return parse(await fetch_buffer(url, on_progress))


async def open_model(device, base_url: str, *, on_progress=None, store=None, **model_args) -> Opened:
    """The bundle at base_url, or from `store` (page.store.ModelStore) where it keeps the files:
    uploaded, built and prepared (model/make.py); model_args go to Model."""
    files, manifest, from_store, in_store = await fetch_bundle(base_url, store, phase(on_progress, "Downloading weights"))
    config = ModelConfig.from_json(json.loads(py_bytes(files["config.json"])))
    tokenizer = Tokenizer(json.loads(py_bytes(files["tokenizer.json"])))

    def upload(weights, progress):  # the fetched ArrayBuffer goes with it: every tensor now lives on the GPU
        weights.upload_file(parse(files.pop("model.safetensors")), progress)
    model = await make_model(device, config, tokenizer, upload, on_progress=on_progress, **model_args)
    if in_store and not from_store:
        await store.remember(config.title, manifest, str(js.URL.new(base_url, js.location.href).href))
    return Opened(model, from_store)
