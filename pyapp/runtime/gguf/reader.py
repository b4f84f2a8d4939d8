"""A GGUF file's header in plain Python: its key-values and tensor infos, checked as they are read.

The host exporter (pyapp/export.py, through pyapp/convert/gguf_check.py) and the page (which reads a GGUF
the user picks, pyapp/runtime/page/blob.py) parse files with this one reader, so they cannot
disagree on the format. gguf's GGUFReader believes the header: a file truncated anywhere, a flipped
byte or a declared count of 2**40 ends in IndexError, UnicodeDecodeError or an allocation that runs
until the machine kills it. Here every count and length is bounded by the bytes left in the file
before anything is read or allocated, so a bad file ends in one GGUFError naming the fault.

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
import struct
from dataclasses import dataclass

MAGIC = b"GGUF"
VERSIONS = (2, 3)
MAX_DIMS = 4  # ggml's GGML_MAX_DIMS
DEFAULT_ALIGNMENT = 32
WINDOW = 1 << 20  # bytes read at a time for an array of strings

# GGUF value types 0..12: the scalars' struct formats; 8 is a string, 9 an array.
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
UINT32, STRING, ARRAY = 4, 8, 9
MIN_KEY_VALUE = 8 + 4 + 1  # key length, value type, the smallest value
MIN_TENSOR_INFO = 8 + 4 + 8 + 4 + 8  # name length, n_dims, one dim, type, offset

# ggml type id -> (name, elements per block, bytes per block): ggml's table, as the gguf package
# has it (tests/test_gguf_file.py compares them)
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}


class GGUFError(ValueError):
    """Not a well-formed GGUF file; the message names the file and the fault."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type: str                # ggml's name: "Q4_K", "F32" ...
    shape: tuple[int, ...]   # outermost first: (N, K) for a weight, (K,) for a vector
    offset: int              # of its first byte, from the start of the file
    nbytes: int


@dataclass
class Header:
    version: int
    fields: dict             # key -> value: int, float, bool, str, or a list of them
    tensors: list[TensorInfo]
    data_start: int          # where the tensor data begins
    size: int                # of the whole file


class Reader:
    """Reads front to back through read(offset, n) -> bytes, refusing anything past the file's end."""

    def __init__(self, read, size: int, name: str):
        self._read, self.size, self.name, self.pos = read, size, name, 0

    def error(self, message: str) -> GGUFError:
        return GGUFError(f"{self.name}: {message}")

    def need(self, n: int, what: str):
        if n > self.size - self.pos:
            raise self.error(f"truncated: {what} needs {n} bytes at offset {self.pos}, the file ends at {self.size}")

    def read(self, n: int, what: str) -> bytes:
        self.need(n, what)
        data = self._read(self.pos, n)
        if len(data) != n:  # the file shrank since it was measured
            raise self.error(f"truncated: {what} needs {n} bytes at offset {self.pos}, the file ended sooner")
        self.pos += n
        return data

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt), what))[0]

    def text(self, what: str) -> str:
        raw = self.read(self.unpack("Q", what), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f"{what} is not UTF-8 ({raw[:40]!r})") from None

    def texts(self, count: int, what: str) -> list[str]:
        """`count` strings in a row (a vocabulary holds 10^5), read a window at a time."""
        out, base, chunk, at = [], self.pos, b"", 0
        for _ in range(count):
            if at + 8 > len(chunk):
                base, at, chunk = base + at, 0, self._window(base + at, 8, what)
            n = int.from_bytes(chunk[at:at + 8], "little")
            if at + 8 + n > len(chunk):
                base, at, chunk = base + at, 0, self._window(base + at, 8 + n, what)
            raw = chunk[at + 8:at + 8 + n]
            at += 8 + n
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise self.error(f"{what} is not UTF-8 ({raw[:40]!r})") from None
        self.pos = base + at
        return out

    def _window(self, offset: int, n: int, what: str) -> bytes:
        """At least n bytes from offset (up to WINDOW); refused past the end as read() refuses."""
        self.pos = offset
        self.need(n, what)
        data = self._read(offset, max(n, min(WINDOW, self.size - offset)))
        if len(data) < n:
            raise self.error(f"truncated: {what} needs {n} bytes at offset {offset}, the file ended sooner")
        return data

    def name_text(self, what: str) -> str:
        """A key or tensor name: printable UTF-8 (it goes into messages and dicts)."""
        text = self.text(what)
        if not text.isprintable():
            raise self.error(f"{what} {text[:40]!r} is not printable text")
        return text


def parse(read, size: int, name: str) -> Header:
    """The header of a GGUF file of `size` bytes that read(offset, n) reads; GGUFError names `name`
    and the fault. Every tensor's data is checked to lie inside the file, apart from the others."""
    r = Reader(read, size, name)
    magic = r.read(4, "the magic")
    if magic != MAGIC:
        raise r.error(f"not a GGUF file (magic {magic!r})")
    version = r.unpack("I", "the version")
    if version not in VERSIONS:
        if int.from_bytes(version.to_bytes(4, "little"), "big") in VERSIONS:
            raise r.error("a big-endian GGUF; only little-endian files are supported")
        raise r.error(f"GGUF version {version} is not supported (only 2 and 3)")
    n_tensors = r.unpack("Q", "the tensor count")
    n_keys = r.unpack("Q", "the key-value count")
    r.need(n_keys * MIN_KEY_VALUE + n_tensors * MIN_TENSOR_INFO,
           f"the header's list of {n_keys} key-value pairs and {n_tensors} tensor infos")
    fields = _key_values(r, n_keys)
    alignment = fields.get("general.alignment", DEFAULT_ALIGNMENT)
    infos = _tensor_infos(r, n_tensors, alignment)
    data_start = -(-r.pos // alignment) * alignment
    tensors = [TensorInfo(n, t, shape, data_start + offset, nbytes) for n, t, shape, offset, nbytes in infos]
    _check_tensor_data(r, tensors)
    return Header(version, fields, tensors, data_start, size)


def _unique(r: Reader, name: str, i: int, seen: dict, kind: str, plural: str) -> str:
    """name, the i-th of its kind; a name seen before is refused with both places."""
    if name in seen:
        raise r.error(f"duplicate {kind} {name!r} ({plural} {seen[name]} and {i})")
    seen[name] = i
    return name


def _key_values(r: Reader, count: int) -> dict:
    fields: dict = {}
    seen: dict[str, int] = {}
    for i in range(count):
        key = _unique(r, r.name_text(f"key {i}"), i, seen, "key", "keys")
        what = f"key {i} ({key})"
        value_type = r.unpack("I", what)
        fields[key] = _value(r, value_type, what)
        if key == "general.alignment":
            _check_alignment(r, value_type, fields[key])
    return fields


def _value(r: Reader, value_type: int, what: str):
    if value_type in SCALARS:
        return r.unpack(SCALARS[value_type], what)
    if value_type == STRING:
        return r.text(what)
    if value_type == ARRAY:
        return _array(r, what)
    raise r.error(f"{what} has value type {value_type}; GGUF defines 0 to 12")


def _array(r: Reader, what: str) -> list:
    element_type = r.unpack("I", what)
    count = r.unpack("Q", what)
    if element_type in SCALARS:
        fmt = SCALARS[element_type]
        data = r.read(count * struct.calcsize(fmt), f"the array of {count} elements in {what}")
        return list(struct.unpack(f"<{count}{fmt}", data))
    if element_type == STRING:
        r.need(count * 8, f"the array of {count} strings in {what}")
        return r.texts(count, what)
    if element_type == ARRAY:
        raise r.error(f"{what} is an array of arrays, which GGUF readers do not take")
    raise r.error(f"{what} is an array of value type {element_type}; GGUF defines 0 to 12")


def _check_alignment(r: Reader, value_type: int, value):
    if value_type != UINT32:
        raise r.error(f"general.alignment has value type {value_type}; GGUF wants uint32 ({UINT32})")
    if value == 0 or value & (value - 1):
        raise r.error(f"general.alignment={value} is not a power of two")


def _tensor_infos(r: Reader, count: int, alignment: int) -> list[tuple]:
    """(name, type name, shape, data offset, data bytes) of each tensor."""
    seen: dict[str, int] = {}
    infos = []
    for i in range(count):
        name = _unique(r, r.name_text(f"tensor info {i}"), i, seen, "tensor name", "tensors")
        what = f"tensor {name}"
        n_dims = r.unpack("I", what)
        if not 1 <= n_dims <= MAX_DIMS:
            raise r.error(f"{what} has {n_dims} dimensions; GGUF allows 1 to {MAX_DIMS}")
        dims = struct.unpack(f"<{n_dims}Q", r.read(8 * n_dims, what))
        if 0 in dims:
            raise r.error(f"{what} has a dimension of 0 ({list(dims)})")
        type_name, nbytes = _data_bytes(r, what, dims, r.unpack("I", what))
        offset = r.unpack("Q", what)
        if offset % alignment:
            raise r.error(f"{what}'s data offset {offset} is not a multiple of the alignment {alignment}")
        infos.append((name, type_name, tuple(reversed(dims)), offset, nbytes))
    return infos


def _data_bytes(r: Reader, what: str, dims: tuple[int, ...], ggml_type: int) -> tuple[str, int]:
    if ggml_type not in GGML_TYPES:
        raise r.error(f"{what} has ggml type {ggml_type}, which gguf does not define")
    type_name, block, block_bytes = GGML_TYPES[ggml_type]
    if dims[0] % block:
        raise r.error(f"{what} is {type_name} with a first dimension of {dims[0]}, "
                      f"not a multiple of its {block}-element block")
    return type_name, math.prod(dims) // block * block_bytes


def _check_tensor_data(r: Reader, tensors: list[TensorInfo]):
    """Every tensor's bytes lie inside the file, and no two tensors share bytes."""
    end, previous = 0, None
    for t in sorted(tensors, key=lambda t: t.offset):
        if t.offset + t.nbytes > r.size:
            raise r.error(f"truncated: tensor {t.name}'s data needs {t.nbytes} bytes at offset "
                          f"{t.offset}, the file ends at {r.size}")
        if t.offset < end:
            raise r.error(f"tensor {t.name}'s data overlaps tensor {previous}'s")
        end, previous = t.offset + t.nbytes, t.name
