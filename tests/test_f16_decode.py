"""wgsl/common/f16.wgsl against numpy's f16 -> f32, for every one of the 65,536 bit patterns:
`f16_bits` (integer ops; the GPU repack) and `f16x2` (unpack2x16float with subnormals mended;
the fused kernels reading Q4_K's d and dmin), on the native host (wgpu-native on SwiftShader).
"""

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")
KERNEL = """
// #include "common/f16.wgsl"
@group(0) @binding(0) var<storage, read_write> out: array<u32>;   // (65536, 3): bits, f16x2 low, high
@group(0) @binding(1) var<storage, read> words: array<u32>;       // 65536 words: pattern i in each half

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * 65535u * 64u;
  if (i >= 65536u) { return; }
  let pair = f16x2(words[i]);
  out[3u * i] = f16_bits(i);
  out[3u * i + 1u] = bitcast<u32>(pair.x);
  out[3u * i + 2u] = bitcast<u32>(pair.y);
}
"""


@dataclass
class _Dispatch:
    pipeline: object
    bind_group: object
    grid: tuple


async def decode_all() -> np.ndarray:
    from pyapp.native.device import NativeDevice
    from pyapp.runtime.gpu import shaders
    from pyapp.runtime.gpu.buffers import COPY_DST, COPY_SRC, MAP_READ, STORAGE
    from pyapp.runtime.gpu.pipelines import PipelineCache

    device = await NativeDevice.open()
    root = HERE.parent / "wgsl"
    source = shaders.resolve_includes(KERNEL, lambda name: (root / name).read_text())
    cache = PipelineCache.of(device)
    kinds = ("write", "read")
    (pipeline,) = await cache.build([("f16_decode", source, {}, kinds)])
    patterns = np.arange(65536, dtype=np.uint32)
    words = patterns | (patterns[::-1] << 16)  # high half: the patterns backwards
    out = device.buffer(65536 * 12, STORAGE | COPY_SRC, "f16.out")
    src = device.buffer(65536 * 4, STORAGE | COPY_DST, "f16.words")
    device.write(src, words.tobytes())
    readback = device.buffer(65536 * 12, MAP_READ | COPY_DST, "f16.readback")
    bgl, _ = cache.layout(kinds)
    group = device.bind_group(bgl, [out, src], "f16")
    dispatch = _Dispatch(pipeline, group, (65536 // 64, 1, 1))
    device.submit(device.record([(device.pass_descriptor("f16"), [dispatch])]),
                  copies=[(out, 0, readback, 65536 * 12)], label="f16")
    (data,) = await device.read_many([(readback, 65536 * 12)])
    return np.frombuffer(data, np.uint32).reshape(65536, 3)


@pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")
def test_every_f16_decodes_as_numpy_converts_it():
    pytest.importorskip("wgpu")
    env = {**os.environ, "VK_ICD_FILENAMES": str(ICD), "LD_LIBRARY_PATH": str(ICD.parent),
           "PYTHONPATH": str(HERE.parent)}
    r = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=300,
                       cwd=HERE.parent)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr


def check(got: np.ndarray) -> list[str]:
    patterns = np.arange(65536, dtype=np.uint16)
    want = patterns.view(np.float16).astype(np.float32).view(np.uint32)
    nan = np.isnan(patterns.view(np.float16))
    problems = []
    bad = np.flatnonzero(got[:, 0] != want)
    if bad.size:
        problems.append(f"f16_bits({bad[0]:#06x}) = {got[bad[0], 0]:#010x}, numpy {want[bad[0]]:#010x} ({bad.size} differ)")
    for column, order in ((1, patterns), (2, patterns[::-1])):  # NaNs: only their being NaN is promised
        got_f, want_f = got[:, column].view(np.float32), want[order].view(np.float32)
        bad = np.flatnonzero(~((got[:, column] == want[order]) | (np.isnan(got_f) & nan[order])))
        if bad.size:
            problems.append(f"f16x2 half {column}: pattern {order[bad[0]]:#06x} -> {got_f[bad[0]]!r}, "
                            f"numpy {want_f[bad[0]]!r} ({bad.size} differ)")
    return problems


if __name__ == "__main__":  # run by the test above, with SwiftShader's Vulkan in the environment
    problems = check(asyncio.run(decode_all()))
    print("\n".join(problems) if problems else "ok: 65536 patterns")
