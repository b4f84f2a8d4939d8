"""A bundle's config.json, parsed once into dataclasses (llama2.c's Config, typed).

The exporter (pyapp/export.py) writes config.json; the page, the benchmarks and the native
host read it through `ModelConfig.from_json`. The raw dict is indexed elsewhere only where a
GGUF's description makes it (gguf/describe.py, gguf/repack.tensor_records), before this parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ops import formats


@dataclass(frozen=True)
class TensorEntry:
    """How one GGUF tensor is stored in the bundle (pyapp/runtime/ops/formats.py)."""

    format: str                  # formats.FORMATS: "f32", "q4gsw", ..., "q4k", "q6k", "q4gsw_f16", ...
    shape: tuple[int, ...]       # (N, K) for a matrix, (K,) for a vector
    group_size: int = 32         # quantized formats only

    def stored(self, name: str) -> dict[str, tuple[tuple[int, ...], str]]:
        """{stored tensor name: (shape, dtype)} in the bundle's safetensors file."""
        return formats.stored(name, self.format, self.shape, self.group_size)


@dataclass(frozen=True)
class ModelConfig:
    name: str
    n_layers: int
    dim: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_dim: int
    context_length: int
    rope_theta: float
    norm_eps: float
    tied_embeddings: bool
    tensors: dict[str, TensorEntry] = field(repr=False)
    source_file: str = ""
    basename: str = ""           # GGUF general.basename ("smollm2"): the page's label for answers
    arch: str = "llama"          # llama (Mistral-style files too), qwen2, qwen3, phi3, gemma2, gemma3
    rope_freq_factors: tuple[float, ...] | None = None  # llama3-style scaling: a divisor per frequency
    qkv_bias: bool = False       # qwen2: biases on Q, K and V
    qk_norm: bool = False        # qwen3: RMSNorm of each Q and K head before RoPE
    file_tensor_bytes: int = 0   # the GGUF's bytes of these tensors (0: not known, e.g. an older bundle)
    attn_scale: float | None = None  # attention scores' factor; None: 1 / sqrt(head_dim)
    # Gemma 2/3: embeddings scaled, norms after attention and FFN, GeGLU, sliding-window local layers
    embed_scale: float = 1.0
    post_norms: bool = False
    ffn_act: str = "silu"        # or "gelu_tanh"
    sliding_window: int = 0      # the local layers' window (positions a row sees); 0: none
    local_layers: tuple[int, ...] = ()  # layers of that window
    rope_theta_local: float | None = None  # their RoPE base, unscaled (Gemma 3); None: the global tables
    attn_softcap: float = 0.0    # Gemma 2: scores s -> cap * tanh(s / cap); 0: none
    final_softcap: float = 0.0   # Gemma 2: the same on the logits

    @classmethod
    def from_json(cls, raw: dict) -> "ModelConfig":
        tensors = {n: TensorEntry(e["format"], tuple(e["shape"]), int(e.get("group_size", 32)))
                   for n, e in raw["tensors"].items()}
        return cls(
            name=raw.get("name") or "", n_layers=int(raw["n_layers"]), dim=int(raw["dim"]),
            n_heads=int(raw["n_heads"]), n_kv_heads=int(raw["n_kv_heads"]), head_dim=int(raw["head_dim"]),
            ffn_dim=int(raw["ffn_dim"]), context_length=int(raw["context_length"]),
            rope_theta=float(raw["rope_theta"]), norm_eps=float(raw["norm_eps"]),
            tied_embeddings=bool(raw["tied_embeddings"]), tensors=tensors,
            source_file=(raw.get("source") or {}).get("file", ""), basename=raw.get("basename") or "",
            arch=raw.get("arch", "llama"), qkv_bias=bool(raw.get("qkv_bias")), qk_norm=bool(raw.get("qk_norm")),
            file_tensor_bytes=int(raw.get("file_tensor_bytes") or 0),
            attn_scale=float(raw["attn_scale"]) if raw.get("attn_scale") else None,
            embed_scale=float(raw.get("embed_scale", 1.0)), post_norms=bool(raw.get("post_norms")),
            ffn_act=raw.get("ffn_act", "silu"), sliding_window=int(raw.get("sliding_window", 0)),
            local_layers=tuple(raw.get("local_layers", ())),
            rope_theta_local=float(raw["rope_theta_local"]) if raw.get("rope_theta_local") else None,
            attn_softcap=float(raw.get("attn_softcap", 0.0)), final_softcap=float(raw.get("final_softcap", 0.0)),
            rope_freq_factors=tuple(raw["rope_freq_factors"]) if raw.get("rope_freq_factors") else None)

    @property
    def head(self) -> str:
        """The LM head's tensor: its own, or the (tied) token embedding."""
        return "token_embd.weight" if self.tied_embeddings else "output.weight"

    @property
    def title(self) -> str:
        return self.name or self.source_file or "model"

    def gguf_blocks(self) -> list[str]:
        """The tensors stored as the GGUF's own blocks or f16 tables (formats.FUSED_ONLY: fused kernels only)."""
        return [n for n, e in self.tensors.items() if e.format in formats.FUSED_ONLY]

    def stored(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Every stored tensor's (shape, dtype)."""
        return {k: v for name, e in self.tensors.items() for k, v in e.stored(name).items()}


def lacks(source: str, missing: list[str]) -> str:
    """How a bundle, a GGUF or a file without some of the model's tensors is said: a few named."""
    return f"{source} lacks tensors {missing[:4]}{' ...' if len(missing) > 4 else ''}"
