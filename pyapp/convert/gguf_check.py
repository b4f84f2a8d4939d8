"""Check a GGUF file before anything trusts it: one line that names the file and the fault.

`check(path)` refuses what is not a regular, non-empty file (opening a FIFO would block), then
reads the header with pyapp/runtime/gguf/reader.py, the reader the page uses too, which bounds every
count and length by the bytes left in the file before reading or allocating anything. A bad file
costs one pass over its header and ends in a GGUFError.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..runtime.gguf.reader import GGUFError, Header, parse

__all__ = ["GGUFError", "check"]


def check(path) -> Header:
    """The header of path, a regular, non-empty GGUF file whose header and tensor data hold together."""
    path = Path(path)
    size = _regular_file_size(path)
    try:
        with path.open("rb") as f:
            def read(offset: int, n: int) -> bytes:
                f.seek(offset)
                return f.read(n)

            return parse(read, size, str(path))
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
