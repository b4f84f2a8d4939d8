"""Models kept in the browser (the Cache API), so that a reload starts the model without downloading it.

A bundle's manifest.json (pyapp.convert.bundles) names each file's size and sha256; each file is kept
under its hash (KEY + sha256), so a file two models share (a tokenizer) is kept once, and a
model that changed on the server is a new key, never a stale hit. Every bundle file is checked
against its hash (WebCrypto) before it is kept and again when it is read back: a damaged entry
is dropped and downloaded again, never used. A GGUF the page opens is kept as a Blob under its
content key (page/blob.py: the SHA-256 of its blocks' SHA-256s), checked as it is read. One
index entry per model (KEY + "index/" + its weights' key) holds its name and files, for the
page's list of kept models.

The page works without the store: a browser without the Cache API (a page not on localhost or
HTTPS) or one that refuses to keep a model (its quota is full) downloads it each time, and
`notes` says so in words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import js

from .fetch import fetch_buffer, fetch_json
from ..gpu.jsffi import is_nullish, js_object, py_bytes

STORE = "pyapp-models"
KEY = "/pyapp-models/"  # request URLs of the entries: the page's origin + KEY + ...
INDEX = KEY + "index/"
BUNDLE = ("config.json", "tokenizer.json", "model.safetensors")


@dataclass
class Opened:
    """What a loader (page/bundle.py, page/blob.py) hands back: the model, and what the store knows of it."""

    model: object
    from_store: bool = False  # every byte came from this browser's store: none was downloaded
    key: str = ""             # a GGUF's content key, which its kept copy is filed under


class BadDownload(RuntimeError):
    """A downloaded file that is not the one its manifest names."""


async def sha256(buffer) -> bytes:
    """The SHA-256 of an ArrayBuffer, by WebCrypto (it hashes whole buffers only)."""
    return py_bytes(await js.crypto.subtle.digest("SHA-256", buffer))


async def sha256_hex(buffer) -> str:
    return (await sha256(buffer)).hex()


def _kept_response(body, kind: str):
    """A Response of an ArrayBuffer or a Blob (which the browser streams from disk into the cache)."""
    return js.Response.new(body, js_object({"headers": {"Content-Type": kind}}))


class ModelStore:
    def __init__(self, cache):
        self.cache = cache
        self.notes: list[str] = []  # what the page should say about keeping models

    @classmethod
    async def open(cls) -> "ModelStore | None":
        """The store, or None where the browser offers none (then nothing is kept)."""
        if not hasattr(js, "caches") or not js.isSecureContext:
            return None
        try:
            return cls(await js.caches.open(STORE))
        except Exception:  # storage disabled (e.g. a private window with storage blocked)
            return None

    async def read(self, sha256: str):
        """The kept file with this hash as an ArrayBuffer, or None (missing or damaged: then dropped)."""
        hit = await self.cache.match(KEY + sha256)
        if is_nullish(hit):
            return None
        buffer = await hit.arrayBuffer()
        if await sha256_hex(buffer) != sha256:
            await self.cache.delete(KEY + sha256)
            return None
        return buffer

    async def blob(self, key: str):
        """A kept GGUF as a Blob (checked as it is read: page/blob.py), or None."""
        hit = await self.cache.match(KEY + key)
        return None if is_nullish(hit) else await hit.blob()

    async def keep(self, key: str, body, kind: str = "application/octet-stream") -> bool:
        """Keep a checked file (an ArrayBuffer or a Blob); a refusal (quota) is noted, never raised."""
        try:
            await self.cache.put(KEY + key, _kept_response(body, kind))
            return True
        except Exception as e:
            name = getattr(e, "name", "") or type(e).__name__
            reason = "its storage quota is full" if "Quota" in name else f"{name}: {e}"
            self.notes.append(f"the browser did not keep the model ({reason}), so the next visit downloads it again")
            return False

    async def remember(self, name: str, manifest: dict, url: str):
        """The index entry of a bundle (pyapp.serve's or a static site's) whose files are all kept."""
        files = manifest["files"]
        await self._index(files["model.safetensors"]["sha256"], {
            "kind": "bundle", "name": name, "source": manifest.get("source", {}).get("file", ""), "url": url,
            "files": files})

    async def keep_gguf(self, blob, key: str, name: str, url: str = "", version: str = "") -> bool:
        """Keep a GGUF the page opened (from url, at that version, or from a file) under its content
        key (blob.BlobFile.content_key); False if the browser refused."""
        if not await self.keep(key, blob):
            return False
        await self._index(key, {"kind": "gguf", "name": name, "source": name, "url": url, "version": version,
                                "files": {"model.gguf": {"size": int(blob.size), "sha256": key}}})
        return True

    async def _index(self, model_id: str, entry: dict):
        entry["bytes"] = sum(f["size"] for f in entry["files"].values())
        await self.keep("index/" + model_id, js.TextEncoder.new().encode(json.dumps(entry)).buffer, "application/json")

    async def models(self) -> list[dict]:
        """The kept models: {id, name, source, bytes}, largest first."""
        found = []
        for request in await self.cache.keys():
            path = js.URL.new(request.url).pathname
            if path.startswith(INDEX):
                hit = await self.cache.match(request)
                entry = json.loads(await hit.text())
                found.append({"id": path[len(INDEX):], **entry})
        return sorted(found, key=lambda m: -m["bytes"])

    async def find(self, url: str) -> dict | None:
        """The kept model last opened from url, if any."""
        return next((m for m in await self.models() if m.get("url") == url), None)

    async def delete(self, model_id: str):
        """Drop a model: its index entry and every file no other kept model uses."""
        models = await self.models()
        gone = next((m for m in models if m["id"] == model_id), None)
        if gone is None:
            return
        used = {f["sha256"] for m in models if m["id"] != model_id for f in m["files"].values()}
        for f in gone["files"].values():
            if f["sha256"] not in used:
                await self.cache.delete(KEY + f["sha256"])
        await self.cache.delete(INDEX + model_id)


async def fetch_bundle(base_url: str, store: ModelStore | None, on_progress=None) -> tuple[dict, dict, bool, bool]:
    """The bundle's files as ArrayBuffers {name: buffer}, from the store where kept, else downloaded,
    checked and kept; its manifest; whether every file came from the store; whether every file is
    in the store now."""
    manifest = await fetch_json(base_url + "manifest.json")
    files, from_store, in_store = {}, True, store is not None
    for name in BUNDLE:
        want = manifest["files"][name]
        buffer = await store.read(want["sha256"]) if store else None
        if buffer is None:
            from_store = False
            progress = on_progress if name == "model.safetensors" else None
            buffer = await fetch_buffer(base_url + name, progress)
            got = await sha256_hex(buffer)
            if got != want["sha256"] or int(buffer.byteLength) != want["size"]:
                raise BadDownload(f"{base_url}{name}: got {int(buffer.byteLength)} bytes with sha256 {got[:16]}…, "
                                  f"the manifest names {want['size']} bytes with sha256 {want['sha256'][:16]}…")
            in_store = in_store and await store.keep(want["sha256"], buffer)
        files[name] = buffer
    return files, manifest, from_store, in_store
