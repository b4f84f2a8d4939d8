"""The GPU repack of GGUF tensors (pyapp/runtime/gguf/repack.py, wgsl/gguf_repack.wgsl): its
checks on CPython, and its arenas byte for byte against the exporter's on the native host
(wgpu-native on SwiftShader's Vulkan). The page runs the same in tests_e2e/test_gguf_repack.py.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import repack_models

from pyapp.convert.gguf_types import BLOCK, CONVERT
from pyapp.runtime.gpu import shaders
from pyapp.runtime.model.config import ModelConfig
from pyapp.runtime.gguf.repack import BLOCKS, SHADER_TYPES, GGUFUploadError, TensorRecord, plan
from pyapp.runtime.model.weights import Weights

HERE = Path(__file__).resolve().parent
GOLDENS = HERE.parent / "tests_e2e" / "goldens"
TINY = ("mixed", "kquant", "lowbit", "llama3", "qwen2", "qwen3", "phi3", "gemma3", "gemma2")
ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")


def test_block_sizes_agree_with_the_exporter():
    for name, (convert, block_bytes) in CONVERT.items():
        assert BLOCKS[name] == (BLOCK[name], block_bytes), name
    assert set(SHADER_TYPES) == set(CONVERT) | {"F32", "F16", "BF16"}


def test_the_shader_knows_the_types_and_constants():
    source = shaders.load("gguf_repack")
    assert shaders.overrides(source) == {"TYPE", "BLOCKS", "WG"}
    codes = {name: int(code) for name, code in re.findall(r"^const (\w+) = (\d+)u;", source, re.MULTILINE)}
    assert codes == SHADER_TYPES


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """(config, records, file size) of tiny_mixed: its bundle's config and its tensors' records."""
    from pyapp.export import export

    bundle = export(GOLDENS / "tiny_mixed.gguf", cache=tmp_path_factory.mktemp("bundles"))
    raw = json.loads((bundle / "config.json").read_text())
    records = [TensorRecord(*r) for r in repack_models.records(GOLDENS / "tiny_mixed.gguf", raw)]
    return ModelConfig.from_json(raw), records, (GOLDENS / "tiny_mixed.gguf").stat().st_size


def planned(mixed, change=None, **options):
    config, records, size = mixed
    if change:
        records = [change(r) for r in records]
    return plan(Weights(None, config, {}), records, size, **options)


def test_plan_places_every_tensor(mixed):
    jobs = planned(mixed)
    assert {j.tensor.name for j in jobs} == set(mixed[0].tensors)
    q4 = next(j for j in jobs if j.tensor.name == "blk.0.attn_q.weight")  # Q4_0 (64, 64): 8 words a row
    assert (q4.rows, q4.k, q4.row_bytes, q4.row_words) == (64, 64, 36, 8)


def changed(tensor: str, **fields):
    return lambda r: replace(r, **fields) if r.name == tensor else r


@pytest.mark.parametrize("change, message", [
    (changed("blk.1.ffn_up.weight", type="IQ3_S"), "tensor blk.1.ffn_up.weight has type IQ3_S"),
    (changed("blk.0.attn_q.weight", type="Q4_1"), "tensor blk.0.attn_q.weight: the file's Q4_1 [64, 64] is stored "
                                                  "as q4gaw"),
    (changed("output.weight", size=6142), "tensor output.weight: 6142 bytes, but F16 [48, 64] takes 6144"),
    (changed("output_norm.weight", offset=10**6), "tensor output_norm.weight: bytes 1000000..1000256 lie outside"),
    (changed("blk.0.attn_k.weight", head=6), "tensor blk.0.attn_k.weight: head size 6 is odd or does not divide"),
    (changed("blk.1.attn_q.weight", name="blk.9.attn_q.weight"), "tensor blk.9.attn_q.weight is not among"),
])
def test_plan_refuses_naming_the_tensor(mixed, change, message):
    with pytest.raises(GGUFUploadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        planned(mixed, change)


def test_plan_refuses_a_missing_tensor_and_a_row_beyond_the_staging_buffer(mixed):
    config, records, size = mixed
    with pytest.raises(GGUFUploadError, match=r"the file lacks tensors \['blk.0.ffn_down.weight'\]"):
        plan(Weights(None, config, {}), [r for r in records if r.name != "blk.0.ffn_down.weight"], size)
    with pytest.raises(GGUFUploadError, match="tensor token_embd.weight: a row of 68 bytes does not fit the "
                                              "staging buffer of 64 bytes"):
        planned(mixed, staging_bytes=64)


# --- the native host: the shader itself ---

async def native_check(cases) -> list[str]:
    """cases: [(gguf path, bundle folder)] -> one line per (case, options): ok, or the first difference."""
    import numpy as np
    from safetensors.numpy import load_file

    from pyapp.native.device import NativeDevice
    from pyapp.runtime.ops.formats import plan_arenas

    sys.path.insert(0, str(HERE.parent / "tests_e2e" / "inpage"))
    from gguf_repack_cases import compare

    device = await NativeDevice.open()
    lines = []
    for gguf, bundle in cases:
        raw = json.loads((Path(bundle) / "config.json").read_text())
        config = ModelConfig.from_json(raw)
        reference = Weights.allocate(device, config)
        tensors = load_file(Path(bundle) / "model.safetensors")
        where, _ = plan_arenas(config.stored())
        for name, (arena, offset) in where.items():  # as Weights.upload_file places them
            device.write(reference.buffers[arena], np.ascontiguousarray(tensors[name]).view(np.uint8).ravel(), offset)
        data = Path(gguf).read_bytes()
        for options in ({}, {"staging_bytes": 8192, "max_per_dim": 8}):
            out = await compare(device, config, reference, data, repack_models.records(gguf, raw), **options)
            ok = not out["problems"] and not out["empty_arenas"] and out["progress"][0] == out["progress"][1]
            lines.append(f"{'ok' if ok else 'FAIL'} {Path(gguf).name} {options}: {out}")
    return lines


@pytest.mark.parametrize("name", repack_models.EDGES)
def test_the_edge_models_carry_their_edges(tmp_path, name):
    """The edge patterns survive the exporter, so the repack tests below meet them."""
    from safetensors.numpy import load_file

    from pyapp.export import export

    bundle = export(repack_models.write_edge(tmp_path / f"tiny_{name}.gguf", name), cache=tmp_path)
    repack_models.check_edges_are_there(load_file(bundle / "model.safetensors"))


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
def test_native_repack_equals_the_exporter(tmp_path):
    pytest.importorskip("wgpu")
    from pyapp.export import export

    cases = [(GOLDENS / f"tiny_{n}.gguf", export(GOLDENS / f"tiny_{n}.gguf", cache=tmp_path)) for n in TINY]
    for name in repack_models.EDGES:
        edge = repack_models.write_edge(tmp_path / f"tiny_{name}.gguf", name)
        cases.append((edge, export(edge, cache=tmp_path)))
    # the file's own bytes: K-quant blocks copied, f16 tables (Q4_0 ... IQ4_NL; Qwen's rows permuted in the edges)
    for gguf in (GOLDENS / "tiny_kquant.gguf", GOLDENS / "tiny_mixed.gguf", *(tmp_path / f"tiny_{n}.gguf" for n in repack_models.EDGES)):
        cases.append((gguf, export(gguf, cache=tmp_path, blocks=True)))
    # PYTHONPATH: a script's sys.path starts at tests/, and this checkout's pyapp must win over an installed one
    env = {**os.environ, "VK_ICD_FILENAMES": str(ICD), "LD_LIBRARY_PATH": str(ICD.parent), "PYTHONPATH": str(HERE.parent)}
    r = subprocess.run([sys.executable, __file__, json.dumps([[str(g), str(b)] for g, b in cases])], env=env,
                       capture_output=True, text=True, timeout=900, cwd=HERE.parent)
    lines = [line for line in r.stdout.splitlines() if line.startswith(("ok", "FAIL"))]
    assert r.returncode == 0 and len(lines) == 2 * len(cases), r.stdout + r.stderr
    assert all(line.startswith("ok") for line in lines), "\n".join(lines)


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
def test_the_native_repack_command(tmp_path):
    """`python -m pyapp.native repack`: ok per file and exit 0, or the first difference and exit 1."""
    pytest.importorskip("wgpu")
    env = {**os.environ, "VK_ICD_FILENAMES": str(ICD), "LD_LIBRARY_PATH": str(ICD.parent)}
    r = subprocess.run([sys.executable, "-m", "pyapp.native", "repack", str(GOLDENS / "tiny_qwen3.gguf"),
                        str(GOLDENS / "tiny_mixed.gguf")], env=env, capture_output=True, text=True, timeout=300,
                       cwd=HERE.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [line.split(":")[0] for line in r.stdout.splitlines()[1:]] == ["ok   tiny_qwen3.gguf", "ok   tiny_mixed.gguf"]


if __name__ == "__main__":  # run by the test above, with SwiftShader's Vulkan in the environment
    sys.path[:0] = [str(HERE.parent), str(HERE)]
    print("\n".join(asyncio.run(native_check(json.loads(sys.argv[1])))))
