"""Pipelines and layouts, cached by (shader, constants, layout) and all created in prepare()."""

from __future__ import annotations

import asyncio
import hashlib


def pipeline_key(source: str, constants: dict, kinds: tuple[str, ...]) -> tuple:
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return digest, tuple(sorted(constants.items())), kinds


class PipelineCache:
    """One shader module per source, one layout per binding signature, one pipeline per key."""

    @classmethod
    def of(cls, device) -> "PipelineCache":
        """The device's one cache: graphs on the same device (prefill, decode) share pipelines."""
        if device.pipeline_cache is None:
            device.pipeline_cache = cls(device)
        return device.pipeline_cache

    def __init__(self, device):
        self.device = device
        self.modules: dict[str, object] = {}
        self.layouts: dict[tuple, tuple] = {}
        self.pipelines: dict[tuple, object] = {}

    def layout(self, kinds: tuple[str, ...]):
        """(bind group layout, pipeline layout) for bindings of these kinds, in order."""
        if kinds not in self.layouts:
            self.layouts[kinds] = self.device.bind_group_layout(kinds, "layout:" + ",".join(kinds))
        return self.layouts[kinds]

    async def build(self, requests) -> list:
        """requests: [(kernel, source, constants, kinds)] -> pipelines, created concurrently."""
        pending: dict[tuple, asyncio.Future] = {}
        keys = []
        for kernel, source, constants, kinds in requests:
            key = pipeline_key(source, constants, kinds)
            keys.append(key)
            if key in self.pipelines or key in pending:
                continue
            if key[0] not in self.modules:
                self.modules[key[0]] = self.device.shader_module(source, kernel)
            _, layout = self.layout(kinds)
            pending[key] = asyncio.ensure_future(
                self.device.compute_pipeline(self.modules[key[0]], layout, constants, kernel))
        if pending:
            done = await asyncio.gather(*pending.values())
            self.pipelines.update(zip(pending.keys(), done))
        return [self.pipelines[k] for k in keys]
