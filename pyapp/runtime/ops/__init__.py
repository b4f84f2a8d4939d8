"""ExecuTorch's ops on our graph. Each op module checks shapes, picks its shader and constants,
and appends dispatch nodes; it makes no GPU call. `SHADERS` in each module lists the wgsl/
files it uses and the `override` constants it passes (checked by tests/test_shaders.py).
"""

from .add import add
from .argmax import argmax
from .embedding import embedding
from .linear_f32 import linear_f32
from .linear_q4gaw import linear_q4gaw
from .linear_q4gsw import linear_q4gsw
from .linear_q8gsw import linear_q8gsw
from .rms_norm import rms_norm
from .rope import rope, rope_tables
from .sdpa_with_kv_cache import sdpa_with_kv_cache
from .silu_mul import silu_mul
from .update_cache import update_cache

__all__ = ["linear_q4gsw", "linear_q4gaw", "linear_q8gsw", "linear_f32", "update_cache", "sdpa_with_kv_cache",
           "embedding", "rms_norm", "rope", "rope_tables", "silu_mul", "add", "argmax"]
