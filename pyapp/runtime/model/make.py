"""The one tail of every model loader (a bundle, a GGUF read in the page, a bundle on a native
host): the arenas allocated, filled by the loader's own `upload`, the model built, its kernels
compiled. Each GPU phase runs in an error scope that names it, and a model that fails to come
up frees its weights at once (the next model may need the memory).
"""

from __future__ import annotations

import inspect

from .config import ModelConfig
from .model import Model, fused_path
from .weights import Weights


def phase(on_progress, label: str):
    """on_progress(label, done, total) as one phase's (done, total) callback, or None."""
    return on_progress and (lambda done, total: on_progress(label, done, total))


async def make_model(device, config: ModelConfig, tokenizer, upload, *, on_progress=None, **model_args) -> Model:
    """upload(weights, on_progress) fills the allocated weights (it may be async, and may raise to
    refuse them); model_args go to Model. A path that cannot read the weights' formats is refused
    before anything is allocated."""
    fused_path(device, config, model_args.get("kernel_style"), model_args.get("fused"))
    weights = Weights.allocate(device, config)
    try:
        async with device.error_scope("upload weights"):
            filled = upload(weights, phase(on_progress, "Uploading to the GPU"))
            if inspect.isawaitable(filled):
                await filled
        async with device.error_scope("build the model"):  # its KV caches and RoPE tables
            model = Model(device, config, weights, tokenizer, **model_args)
    except BaseException:
        device.destroy(weights.buffers.values())
        raise
    if on_progress:
        on_progress("Compiling kernels", 0, 1)
    await model.prepare()
    return model
