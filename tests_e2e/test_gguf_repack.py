"""GGUF tensors repacked on the GPU in the page (pyapp/runtime/gguf/repack.py) give the weight
arenas the exporter's bundle gives, byte for byte: every tensor type, Qwen's permuted Q/K rows,
f16 scales that are subnormal or -0, and big tensors' chunks and 2-D grids (forced small here).

Per model: the bundle (exported on the host) goes up by Weights.upload_file, the GGUF (fetched into an
ArrayBuffer) by upload_gguf with records the host computes with gguf's own reader; both arenas
are read back and compared in the page (inpage/gguf_repack_cases.py names the first difference).
"""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
from conftest import HERE, TINY, golden_mounts, install_inpage

from pyapp.runtime.gguf.describe import FACTORS
from pyapp.headless import boot
from pyapp.serve import Site, serve_in_thread

sys.path.insert(0, str(HERE.parent / "tests"))
import repack_models  # noqa: E402  (tests/ holds the host helpers)

EDGES = tuple(repack_models.EDGES)  # tests/repack_models.py's Qwen3s of every type and edge-case scales
AS_BLOCKS = ("kquant", "edge")  # also exported with Q4_K as the file's blocks (pyapp.export --blocks)
MODELS = (*TINY, *EDGES, *(f"{n}_blocks" for n in AS_BLOCKS))
SMALL = {"staging_bytes": 8192, "max_per_dim": 8}  # many chunks a tensor, grids folded onto 2-D


@pytest.fixture(scope="module")
def repack(browser, tiny_bundles, tmp_path_factory):
    """(page, {model: (bundle mount, GGUF URL, records, GGUF path)}): a page serving each bundle and GGUF."""
    from pyapp.export import export

    edge_dir, edge_cache = tmp_path_factory.mktemp("edge"), tmp_path_factory.mktemp("edge_bundle")
    edges = {n: repack_models.write_edge(edge_dir / f"tiny_{n}.gguf", n) for n in EDGES}
    bundles = {**tiny_bundles, **{n: export(path, cache=edge_cache) for n, path in edges.items()}}
    ggufs = {**{n: (HERE / "goldens" / f"tiny_{n}.gguf", f"/files/goldens/tiny_{n}.gguf") for n in TINY},
             **{n: (path, f"/files/edge_gguf/{path.name}") for n, path in edges.items()}}
    for n in AS_BLOCKS:
        ggufs[f"{n}_blocks"] = ggufs[n]
        bundles[f"{n}_blocks"] = export(ggufs[n][0], cache=edge_cache, blocks=True)
    mounts = {**golden_mounts(), "edge_gguf": edge_dir, **{f"repack_{n}": b for n, b in bundles.items()}}
    server, url = serve_in_thread(Site(mounts=mounts))
    page = browser.new_page()
    try:
        booted = boot(page, url + "/")
        install_inpage(booted)
        cases = {}
        for name in MODELS:
            path, gguf_url = ggufs[name]
            config = json.loads((bundles[name] / "config.json").read_text())
            cases[name] = (f"repack_{name}", gguf_url, repack_models.records(path, config), path)
        yield booted, cases
    finally:
        page.close()
        server.shutdown()


def run_case(booted, case, options) -> dict:
    mount, gguf_url, records, _ = case
    before = len(booted.errors)
    out = booted.py("""
        from gguf_repack_cases import page_case
        RESULT = await page_case(ARGS["mount"], ARGS["gguf"], ARGS["records"], **ARGS["options"])
    """, mount=mount, gguf=gguf_url, records=records, options=options)
    assert not booted.errors[before:], f"uncaught page errors: {booted.errors[before:]}"
    return out


BLOCKS = {**SMALL, "block": 12288}  # read through a Blob in blocks: chunks cross block boundaries


@pytest.mark.parametrize("options", [{}, SMALL, BLOCKS], ids=["whole", "chunked", "blocks"])
@pytest.mark.parametrize("model", MODELS)
def test_gpu_repack_equals_the_bundle(repack, model, options):
    booted, cases = repack
    records = cases[model][2]
    out = run_case(booted, cases[model], options)
    assert out["problems"] == [], "\n".join(out["problems"])
    assert out["empty_arenas"] == [] and out["bytes"] > 0
    total = sum(size for name, _, _, _, size, _ in records if name not in FACTORS)  # RoPE's: in the config
    assert out["progress"] == [total, total]
    if options:  # 8 KiB chunks: more progress reports than tensors
        assert out["reports"] > total // 8192
    if "block" in options:  # the content key: SHA-256 of the blocks' SHA-256s
        data, step = cases[model][3].read_bytes(), options["block"]
        digests = b"".join(hashlib.sha256(data[i:i + step]).digest() for i in range(0, len(data), step))
        assert out["key"] == hashlib.sha256(digests).hexdigest()


def test_an_unsupported_type_is_named_in_the_page(repack):
    booted, cases = repack
    mount, gguf_url, records, _ = cases["mixed"]
    records = [[n, "IQ2_XS" if n == "blk.1.ffn_up.weight" else t, *rest] for n, t, *rest in records]
    out = booted.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.model.config import ModelConfig
        from pyapp.runtime.page.fetch import fetch_buffer, fetch_json
        from pyapp.runtime.gguf.repack import GGUFUploadError, upload_gguf
        from pyapp.runtime.model.weights import Weights

        device = app.page.device
        config = ModelConfig.from_json(await fetch_json(f"/files/{ARGS['mount']}/config.json"))
        weights, gguf = Weights.allocate(device, config), await fetch_buffer(ARGS["gguf"])
        try:
            await upload_gguf(device, weights, gguf, ARGS["records"])
        except GGUFUploadError as e:
            RESULT = str(e)
    """, mount=mount, gguf=gguf_url, records=records)
    assert out.startswith("tensor blk.1.ffn_up.weight has type IQ2_XS; the GPU repack handles F32, F16, BF16")
