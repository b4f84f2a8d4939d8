"""Check a GGUF file's layout before anything trusts it: one line that names the file and the fault.

gguf's GGUFReader believes the header: a file truncated anywhere, a flipped byte or a declared
count of 2**40 ends in IndexError, UnicodeDecodeError or an allocation that runs until the
machine kills it. `check(path)` walks the same header first, in plain Python, and bounds every
count and length it meets by the bytes left in the file before reading or allocating anything,
so a bad file costs one pass over its header and ends in a GGUFError.

The layout (GGUF v2 and v3, little-endian; ggml's docs/gguf.md):
  b"GGUF", u32 version, u64 tensor count, u64 key-value count,
  each key-value: string key, u32 value type, value,
  each tensor info: string name, u32 n_dims, u64 dims[n_dims] (innermost first), u32 ggml type,
    u64 offset (from the start of the data, a multiple of the alignment),
  padding to general.alignment (default 32), then the tensor data.
A string is a u64 length and that many UTF-8 bytes; an array a u32 element type, a u64 count
and the elements.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from pathlib import Path

from gguf.constants import GGML_QUANT_SIZES

MAGIC = b"GGUF"
VERSIONS = (2, 3)
MAX_DIMS = 4  # ggml's GGML_MAX_DIMS
DEFAULT_ALIGNMENT = 32

# GGUF value types 0..12: the scalars' struct formats; 8 is a string, 9 an array.
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
UINT32, STRING, ARRAY = 4, 8, 9
MIN_KEY_VALUE = 8 + 4 + 1  # key length, value type, the smallest value
MIN_TENSOR_INFO = 8 + 4 + 8 + 4 + 8  # name length, n_dims, one dim, type, offset

# ggml type id -> (name, elements per block, bytes per block), as the gguf package defines them.
GGML_TYPES = {int(t): (t.name, block, size) for t, (block, size) in GGML_QUANT_SIZES.items()}


class GGUFError(ValueError):
    """Not a well-formed GGUF file; the message names the file and the fault."""


class _Reader:
    """Reads a file front to back and refuses, before reading, anything past its end."""

    def __init__(self, f, path: Path, size: int):
        self.f, self.path, self.size, self.pos = f, path, size, 0

    def error(self, message: str) -> GGUFError:
        return GGUFError(f"{self.path}: {message}")

    def need(self, n: int, what: str):
        if n > self.size - self.pos:
            raise self.error(f"truncated: {what} needs {n} bytes at offset {self.pos}, the file ends at {self.size}")

    def read(self, n: int, what: str) -> bytes:
        self.need(n, what)
        data = self.f.read(n)
        if len(data) != n:  # the file shrank since we measured it
            raise self.error(f"truncated: {what} needs {n} bytes at offset {self.pos}, the file ended sooner")
        self.pos += n
        return data

    def skip(self, n: int, what: str):
        self.need(n, what)
        self.f.seek(n, os.SEEK_CUR)
        self.pos += n

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), what))[0]

    def name(self, what: str) -> str:
        """A key or tensor name: a string of printable UTF-8 (it goes into messages and dicts)."""
        raw = self.read(self.unpack("<Q", what), what)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f"{what} is not UTF-8 ({raw[:40]!r})") from None
        if not text.isprintable():
            raise self.error(f"{what} {text[:40]!r} is not printable text")
        return text


def check(path) -> None:
    """Raise GGUFError unless path is a regular, non-empty GGUF file whose header and tensor data hold together."""
    path = Path(path)
    size = _regular_file_size(path)
    try:
        with path.open("rb") as f:
            _check_layout(_Reader(f, path, size))
    except OSError as e:
        raise GGUFError(f"{path}: cannot read it ({e.strerror or e})") from None


def _regular_file_size(path: Path) -> int:
    """Its size, from os.stat: a FIFO is refused before anything opens it (opening one blocks)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise GGUFError(f"{path}: no such file") from None
    except OSError as e:
        raise GGUFError(f"{path}: cannot read it ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise GGUFError(f"{path}: is a directory, not a GGUF file")
    if not stat.S_ISREG(st.st_mode):
        raise GGUFError(f"{path}: is not a regular file (a FIFO, socket or device), not a GGUF file")
    if st.st_size == 0:
        raise GGUFError(f"{path}: is empty, not a GGUF file")
    return st.st_size


def _check_layout(r: _Reader):
    magic = r.read(4, "the magic")
    if magic != MAGIC:
        raise r.error(f"not a GGUF file (magic {magic!r})")
    version = r.unpack("<I", "the version")
    if version not in VERSIONS:
        if int.from_bytes(version.to_bytes(4, "little"), "big") in VERSIONS:
            raise r.error("a big-endian GGUF; only little-endian files are supported")
        raise r.error(f"GGUF version {version} is not supported (only 2 and 3)")
    n_tensors = r.unpack("<Q", "the tensor count")
    n_keys = r.unpack("<Q", "the key-value count")
    r.need(n_keys * MIN_KEY_VALUE + n_tensors * MIN_TENSOR_INFO,
           f"the header's list of {n_keys} key-value pairs and {n_tensors} tensor infos")
    alignment = _check_keys(r, n_keys)
    tensors = _check_tensor_infos(r, n_tensors, alignment)
    _check_tensor_data(r, tensors, data_start=-(-r.pos // alignment) * alignment)


def _check_keys(r: _Reader, count: int) -> int:
    """Walk the key-value pairs; returns the alignment they set."""
    seen: dict[str, int] = {}
    alignment = DEFAULT_ALIGNMENT
    for i in range(count):
        key = r.name(f"key {i}")
        if key in seen:
            raise r.error(f"duplicate key {key!r} (keys {seen[key]} and {i})")
        seen[key] = i
        what = f"key {i} ({key})"
        value_type = r.unpack("<I", what)
        value = _skip_value(r, value_type, what)
        if key == "general.alignment":
            alignment = _alignment(r, value_type, value)
    return alignment


def _skip_value(r: _Reader, value_type: int, what: str):
    """Step over one value; a scalar's value comes back (None for a string or an array)."""
    if value_type in SCALARS:
        return r.unpack(SCALARS[value_type], what)
    if value_type == STRING:
        r.skip(r.unpack("<Q", what), what)
    elif value_type == ARRAY:
        _skip_array(r, what)
    else:
        raise r.error(f"{what} has value type {value_type}; GGUF defines 0 to 12")
    return None


def _skip_array(r: _Reader, what: str):
    element_type = r.unpack("<I", what)
    count = r.unpack("<Q", what)
    if element_type in SCALARS:
        r.skip(count * struct.calcsize(SCALARS[element_type]), f"the array of {count} elements in {what}")
    elif element_type == STRING:
        r.need(count * 8, f"the array of {count} strings in {what}")
        for _ in range(count):
            r.skip(r.unpack("<Q", what), what)
    elif element_type == ARRAY:
        raise r.error(f"{what} is an array of arrays, which GGUF readers do not take")
    else:
        raise r.error(f"{what} is an array of value type {element_type}; GGUF defines 0 to 12")


def _alignment(r: _Reader, value_type: int, value) -> int:
    if value_type != UINT32:
        raise r.error(f"general.alignment has value type {value_type}; GGUF wants uint32 ({UINT32})")
    if value == 0 or value & (value - 1):
        raise r.error(f"general.alignment={value} is not a power of two")
    return value


def _check_tensor_infos(r: _Reader, count: int, alignment: int) -> list[tuple[str, int, int]]:
    """Walk the tensor infos; returns (name, data offset, data bytes) for each."""
    seen: dict[str, int] = {}
    infos = []
    for i in range(count):
        name = r.name(f"tensor info {i}")
        if name in seen:
            raise r.error(f"duplicate tensor name {name!r} (tensors {seen[name]} and {i})")
        seen[name] = i
        what = f"tensor {name}"
        n_dims = r.unpack("<I", what)
        if not 1 <= n_dims <= MAX_DIMS:
            raise r.error(f"{what} has {n_dims} dimensions; GGUF allows 1 to {MAX_DIMS}")
        dims = struct.unpack(f"<{n_dims}Q", r.read(8 * n_dims, what))
        if 0 in dims:
            raise r.error(f"{what} has a dimension of 0 ({list(dims)})")
        nbytes = _data_bytes(r, what, dims, r.unpack("<I", what))
        offset = r.unpack("<Q", what)
        if offset % alignment:
            raise r.error(f"{what}'s data offset {offset} is not a multiple of the alignment {alignment}")
        infos.append((name, offset, nbytes))
    return infos


def _data_bytes(r: _Reader, what: str, dims: tuple[int, ...], ggml_type: int) -> int:
    if ggml_type not in GGML_TYPES:
        raise r.error(f"{what} has ggml type {ggml_type}, which gguf does not define")
    type_name, block, block_bytes = GGML_TYPES[ggml_type]
    if dims[0] % block:
        raise r.error(f"{what} is {type_name} with a first dimension of {dims[0]}, "
                      f"not a multiple of its {block}-element block")
    return math.prod(dims) // block * block_bytes


def _check_tensor_data(r: _Reader, tensors: list[tuple[str, int, int]], data_start: int):
    """Every tensor's bytes lie inside the file, and no two tensors share bytes."""
    end, previous = 0, None
    for name, offset, nbytes in sorted(tensors, key=lambda t: t[1]):
        if data_start + offset + nbytes > r.size:
            raise r.error(f"truncated: tensor {name}'s data needs {nbytes} bytes at offset "
                          f"{data_start + offset}, the file ends at {r.size}")
        if offset < end:
            raise r.error(f"tensor {name}'s data overlaps tensor {previous}'s")
        end, previous = offset + nbytes, name
