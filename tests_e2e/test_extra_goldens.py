"""PYAPP_EXTRA_GOLDENS=DIR adds the case files there to the same tests, with no code change."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_extra_golden_directory_joins_the_op_tests(tmp_path):
    shutil.copy(HERE / "goldens" / "linear_q4gsw_m7_k97_n13_g32_bias.safetensors", tmp_path / "linear_q4gsw_elsewhere.safetensors")
    shutil.copy(HERE / "goldens" / "sdpa_mha.safetensors", tmp_path / "sdpa_elsewhere.safetensors")
    env = {**os.environ, "PYAPP_EXTRA_GOLDENS": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", str(HERE / "test_ops.py")],
                         env=env, capture_output=True, text=True, cwd=HERE.parent).stdout
    assert "test_linear_matches_golden[extra/linear_q4gsw_elsewhere]" in out
    assert "test_sdpa_matches_golden[extra/sdpa_elsewhere]" in out
