"""test_gguf_repack's side in the page (and on the native host, tests/test_gguf_upload.py): a
model's weights uploaded from its bundle and repacked from its GGUF, their arenas compared."""

from pyapp.runtime.buffers import COPY_DST, MAP_READ, nbytes
from pyapp.runtime.gguf_upload import upload_gguf
from pyapp.runtime.weights import Weights

STEP = 4096  # bytes compared at a time when looking for the first difference


async def read_arenas(device, weights) -> dict:
    """{arena: its bytes}, copied into readback buffers in one submit."""
    names = list(weights.buffers)
    readback = [device.buffer(weights.sizes[a], MAP_READ | COPY_DST, f"readback:{a}") for a in names]
    copies = [(weights.buffers[a], 0, rb, weights.sizes[a]) for a, rb in zip(names, readback)]
    device.submit(device.record([]), copies=copies, label="readback arenas")
    data = await device.read_many([(rb, weights.sizes[a]) for a, rb in zip(names, readback)])
    return dict(zip(names, data))


def first_difference(weights, arena: str, got: bytes, want: bytes):
    """None, or the first differing byte named by its stored tensor."""
    if got == want:
        return None
    at = next(i for i in range(0, len(want), STEP) if got[i:i + STEP] != want[i:i + STEP])
    at = next(i for i in range(at, at + STEP) if got[i] != want[i])
    name, start = max(((n, o) for n, (a, o) in weights.where.items() if a == arena and o <= at), key=lambda p: p[1])
    inside = at - start < nbytes(*weights.meta[name])
    return (f"{arena}: byte {at} ({name} byte {at - start}{'' if inside else ', padding after it'}): "
            f"got {got[at]:#04x}, want {want[at]:#04x}")


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
    want, have = await read_arenas(device, reference), await read_arenas(device, got)
    problems = [p for a in want if (p := first_difference(got, a, have[a], want[a]))]
    return {"problems": problems, "progress": progress[-1], "reports": len(progress),
            "arenas": len(want), "bytes": sum(map(len, want.values())),
            "empty_arenas": [a for a, b in want.items() if b.count(0) == len(b)]}


async def page_case(mount: str, gguf_url: str, records, **options) -> dict:
    """In the page: the bundle served at /files/<mount>/ against the GGUF at gguf_url."""
    from pyapp.runtime import app, tensorfile
    from pyapp.runtime.config import ModelConfig
    from pyapp.runtime.fetch import fetch_buffer, fetch_json

    device = app.session.device
    config = ModelConfig.from_json(await fetch_json(f"/files/{mount}/config.json"))
    file = await tensorfile.fetch_file(f"/files/{mount}/model.safetensors")
    async with device.error_scope("bundle upload"):
        reference = Weights.upload(device, config, file)
    return await compare(device, config, reference, await fetch_buffer(gguf_url), records, **options)
