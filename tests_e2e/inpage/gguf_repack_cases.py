"""test_gguf_repack's side in the page (and on the native host, tests/test_gguf_upload.py): a
model's weights uploaded from its bundle and repacked from its GGUF, their arenas compared."""

from pyapp.runtime.gguf.repack import arena_differences, upload_gguf
from pyapp.runtime.model.weights import Weights

async def compare(device, config, reference, gguf, records, max_per_dim=None, **options) -> dict:
    """Repack `gguf` (the file: a JS ArrayBuffer or bytes) into fresh Weights and compare them with
    `reference`'s. max_per_dim lowers the device's workgroups per grid dimension for the call,
    so that small tensors take the 2-D grids big ones need."""
    got = Weights.allocate(device, config)
    progress = []
    limit = device.limits["maxComputeWorkgroupsPerDimension"]
    device.limits["maxComputeWorkgroupsPerDimension"] = max_per_dim or limit
    try:
        async with device.error_scope("gguf repack"):
            await upload_gguf(device, got, gguf, records, lambda done, total: progress.append([done, total]),
                              **options)
    finally:
        device.limits["maxComputeWorkgroupsPerDimension"] = limit
    problems, want = await arena_differences(device, got, reference)
    return {"problems": problems, "progress": progress[-1], "reports": len(progress),
            "arenas": len(want), "bytes": sum(map(len, want.values())),
            "empty_arenas": [a for a, b in want.items() if b.count(0) == len(b)]}


async def page_case(mount: str, gguf_url: str, records, block: int = 0, **options) -> dict:
    """In the page: the bundle served at /files/<mount>/ against the GGUF at gguf_url, read from
    its ArrayBuffer or, with `block`, through blob.BlobFile in blocks of that many bytes
    (then the result has the file's content key)."""
    import js

    from pyapp.runtime.page import app, bundle
    from pyapp.runtime.page import blob
    from pyapp.runtime.model.config import ModelConfig
    from pyapp.runtime.page.fetch import fetch_buffer, fetch_json

    device = app.page.device
    config = ModelConfig.from_json(await fetch_json(f"/files/{mount}/config.json"))
    file = await bundle.fetch_file(f"/files/{mount}/model.safetensors")
    async with device.error_scope("bundle upload"):
        reference = Weights.allocate(device, config)
        reference.upload_file(file)
    gguf = await fetch_buffer(gguf_url)
    if not block:
        return await compare(device, config, reference, gguf, records, **options)
    saved, blob.BLOCK = blob.BLOCK, block
    try:
        source = blob.BlobFile(js.Blob.new([gguf]))
        out = await compare(device, config, reference, source, records, **options)
        return {**out, "key": await source.content_key()}
    finally:
        blob.BLOCK = saved
