"""The native backend (pyapp.native: wgpu-native) runs the op goldens on SwiftShader's Vulkan.

The same Device interface as the page's, on another host: if the two drift, this fails.
Skipped where wgpu or the SwiftShader driver that Debian's chromium ships is missing.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")
if __name__ != "__main__":
    pytest.importorskip("wgpu")
pytestmark = pytest.mark.skipif(not ICD.is_file(), reason="no SwiftShader Vulkan driver (Debian's chromium)")


ROOT = Path(__file__).resolve().parent.parent
# PYTHONPATH: a script's sys.path starts at tests/, and this checkout's pyapp must win over an installed one
ENV = {**os.environ, "VK_ICD_FILENAMES": str(ICD), "LD_LIBRARY_PATH": str(ICD.parent), "PYTHONPATH": str(ROOT)}


def native(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyapp.native", *args], env=ENV, capture_output=True,
                          text=True, timeout=600)


def test_native_host_passes_the_op_goldens():
    r = native("check")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [line for line in r.stdout.splitlines() if line.startswith(("ok", "FAIL"))]
    assert len(lines) >= 30 and all(line.startswith("ok") for line in lines)
    assert f"{len(lines)} checked, 0 failed" in r.stdout
    assert "swiftshader" in r.stdout.lower() or "google" in r.stdout.lower()


def test_native_errors_are_gpu_errors_naming_the_phase():
    r = subprocess.run([sys.executable, __file__, "broken"], env=ENV, capture_output=True, text=True, timeout=300,
                       cwd=ROOT)
    assert "GPUError:" in r.stdout and "typo_kernel" in r.stdout, r.stdout + r.stderr


async def broken_kernel():
    """A kernel that does not compile: prepare() raises a GPUError naming it (run in a process of its
    own: wgpu reads VK_ICD_FILENAMES when it loads)."""
    from pyapp.native.device import NativeDevice
    from pyapp.runtime.gpu.device import GPUError
    from pyapp.runtime.graph.graph import Graph

    dev = await NativeDevice.open()
    g = Graph(dev, "broken")
    t = g.output(g.scratch("t", (4,)))
    g.dispatch("typo_kernel", source="@compute @workgroup_size(1) fn main() { let a: u32 = oops; }", writes=[t])
    try:
        await g.prepare()
    except GPUError as e:
        print("GPUError:", e)


if __name__ == "__main__" and sys.argv[1:] == ["broken"]:
    import asyncio

    asyncio.run(broken_kernel())
