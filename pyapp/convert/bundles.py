"""The bundle cache: folders of converted models, written whole or not at all, checked on reuse.

bundles/<sha16>/        a finished bundle: BUNDLE_FILES and manifest.json (each file's size and sha256)
bundles/<sha16>.lock    flock'd while a process checks or writes that bundle (never deleted: a
                        deleted lock file would let two processes hold "the" lock at once)
bundles/<sha16>.tmp-*/  a bundle being written; renamed to bundles/<sha16>/ once it verifies

"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

BUNDLE_FORMAT = "pyapp-bundle-4"  # 2: Qwen Q/K rows in RoPE pairs; 3: llama.cpp's BOS default;
# 4: --blocks keeps the f16 tables (formats.HALF_TABLES); older are exported again
BUNDLE_FILES = ("model.safetensors", "config.json", "tokenizer.json")
HASHED_ON_REUSE = ("config.json", "tokenizer.json")




def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def locked(path: Path, wait: bool = True):
    """An exclusive flock on path; yields whether it is held (always, when waiting). A dead holder's lock is freed."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            held = True
        except BlockingIOError:
            held = False
        yield held
    finally:
        os.close(fd)


def remove_leftovers(out: Path):
    """Temporary folders whose writer is gone (killed mid-export): each holds up to a model's size.

    <sha16>.tmp-* is stale when nobody holds <sha16>.lock, as its writer held it throughout (out's
    own lock is ours already). The old exporter's <sha16>.part folders go the same way.
    """
    for p in out.parent.iterdir():
        leftover = re.fullmatch(r"([0-9a-f]{16})\.(tmp-.*|part)", p.name)
        if not leftover or not p.is_dir() or p.is_symlink():
            continue
        if leftover[1] == out.name:
            shutil.rmtree(p, ignore_errors=True)
            continue
        with locked(out.parent / f"{leftover[1]}.lock", wait=False) as held:
            if held:
                shutil.rmtree(p, ignore_errors=True)


def remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def write_bundle(folder: Path, tensors: dict, config: dict, tokenizer: dict):
    """The bundle's files, then manifest.json: the format, the source GGUF, and each file's size and sha256."""
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(folder / "model.safetensors"))
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    files = {name: {"size": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
             for name in BUNDLE_FILES}
    manifest = {"format": BUNDLE_FORMAT, "source": config["source"], "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def bundle_problem(folder: Path, source_sha256: str, full: bool = False) -> str | None:
    """Why folder is not a whole bundle of the GGUF with this sha256, or None when it is.

    On reuse the check is cheap: manifest.json parses and names this format and source, every
    file it lists is there with its size, and the small config.json and tokenizer.json match their
    sha256. model.safetensors (a model's size: hashing it on every start would cost as much as the
    hash of the GGUF itself) is checked by its size and by its header, whose JSON must parse and
    whose tensors must end where the file does. full=True, right after writing, hashes it too.
    """
    try:
        files = _manifest_files(folder / "manifest.json", source_sha256)
    except FileNotFoundError:
        return "no manifest.json"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"manifest.json: {type(e).__name__}: {e}"
    for name in BUNDLE_FILES:
        size, sha256 = files[name]
        problem = _file_problem(folder / name, size, sha256 if full or name in HASHED_ON_REUSE else None)
        if problem:
            return f"{name}: {problem}"
    return _safetensors_problem(folder / "model.safetensors")


def _manifest_files(path: Path, source_sha256: str) -> dict[str, tuple[int, str]]:
    manifest = json.loads(path.read_text())
    if manifest["format"] != BUNDLE_FORMAT:
        raise ValueError(f"format {manifest['format']!r}, not {BUNDLE_FORMAT}")
    if manifest["source"]["sha256"] != source_sha256:
        raise ValueError("written for another GGUF")
    return {name: (int(manifest["files"][name]["size"]), str(manifest["files"][name]["sha256"]))
            for name in BUNDLE_FILES}


def _file_problem(path: Path, size: int, sha256: str | None) -> str | None:
    if not path.is_file():
        return "missing"
    if path.stat().st_size != size:
        return f"{path.stat().st_size} bytes, the manifest says {size}"
    if sha256 is not None and sha256_file(path) != sha256:
        return "its sha256 differs from the manifest's"
    return None


def _safetensors_problem(path: Path) -> str | None:
    """A safetensors file is a u64 header length, that much JSON, then the tensors' bytes to the end."""
    size = path.stat().st_size
    with path.open("rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        if not 0 < header_len <= size - 8:
            return f"model.safetensors: a header of {header_len} bytes in a file of {size}"
        try:
            header = json.loads(f.read(header_len))
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            return f"model.safetensors: its header does not parse ({type(e).__name__})"
    if 8 + header_len + end != size:
        return f"model.safetensors: its tensors end at byte {8 + header_len + end}, the file at {size}"
    return None


