"""Buffer sizes, usages and dtypes: plain Python, shared by the graph and the device layer."""

from math import prod

# GPUBufferUsage flags (WebGPU spec values; identical in wgpu-native).
MAP_READ = 0x0001
COPY_SRC = 0x0004
COPY_DST = 0x0008
UNIFORM = 0x0040
STORAGE = 0x0080
QUERY_RESOLVE = 0x0200
MAP_MODE_READ = 0x0001  # GPUMapMode.READ, for mapAsync

# dtype name -> (bytes per element, struct/memoryview format)
DTYPES = {
    "f32": (4, "f"),
    "i32": (4, "i"),
    "u32": (4, "I"),
    "i64": (8, "q"),
    "u8": (1, "B"),
}


def align(n: int, to: int = 4) -> int:
    """Round n up to a multiple of `to` (WebGPU wants buffer sizes and copies in 4-byte units)."""
    return (n + to - 1) // to * to


def itemsize(dtype: str) -> int:
    try:
        return DTYPES[dtype][0]
    except KeyError:
        raise TypeError(f"unsupported dtype {dtype!r}; expected one of {sorted(DTYPES)}") from None


def nbytes(shape, dtype: str) -> int:
    return prod(shape) * itemsize(dtype)
