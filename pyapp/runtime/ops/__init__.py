"""ExecuTorch's ops on our graph, and the model's fused kernels. Each op module checks shapes,
picks its shader and constants, and appends dispatch nodes; it makes no GPU call. `SHADERS` in each module lists the wgsl/
files it uses and the `override` constants it passes (checked by tests/test_shaders.py).
"""

from .executorch.add import add
from .executorch.argmax import argmax
from .fused.attention import attention
from .executorch.embedding import embedding
from .executorch.linear_f32 import linear_f32
from .executorch.linear_q4gaw import linear_q4gaw
from .executorch.linear_q4gsw import linear_q4gsw
from .executorch.linear_q8gaw import linear_q8gaw
from .executorch.linear_q8gsw import linear_q8gsw
from .fused.next_token import next_token
from .fused.norm_linear import norm_linear
from .fused.qk_norm_rope import qk_norm_rope
from .fused.qkv_rope import qkv_rope
from .fused.residual_linear import residual_linear
from .executorch.rms_norm import rms_norm
from .executorch.rope import rope, rope_tables
from .fused.sample import sample
from .fused.softcap import softcap
from .executorch.sdpa_with_kv_cache import sdpa_with_kv_cache
from .executorch.silu_mul import silu_mul
from .fused.swiglu import swiglu
from .executorch.update_cache import update_cache

__all__ = ["linear_q4gsw", "linear_q4gaw", "linear_q8gsw", "linear_q8gaw", "linear_f32", "update_cache", "sdpa_with_kv_cache",
           "embedding", "rms_norm", "rope", "rope_tables", "silu_mul", "add", "argmax",
           # the model's fused fast path
           "qkv_rope", "qk_norm_rope", "attention", "residual_linear", "swiglu", "norm_linear", "next_token",
           "sample", "softcap"]
