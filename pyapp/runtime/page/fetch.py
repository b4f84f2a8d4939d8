"""Fetching files in the page: Pyodide's `pyfetch`, its status checked, bodies kept in JS.

A fetched body never passes through Python objects unless it is small (JSON, text): a large
one stays a JS ArrayBuffer that queue.writeBuffer reads directly.
"""

from __future__ import annotations

from pyodide.http import pyfetch


async def fetch_ok(url: str, **options):
    """GET url (or what options say: fetch()'s init); a missing file, a server error or a refused
    request raises FileNotFoundError naming the URL (and CORS, where that is the likely cause)."""
    try:
        response = await pyfetch(url, **options)
    except OSError as e:
        raise FileNotFoundError(f"{url}: {e}{_cors_hint(url, e)}") from None
    if not response.ok:  # said in words, with the URL once (raise_for_status repeats it)
        reason = f" ({response.status_text})" if response.status_text else ""
        raise FileNotFoundError(f"{url}: the server answered {response.status}{reason}")
    return response


def _cors_hint(url: str, error: OSError) -> str:
    """A request to another origin that failed without an HTTP status was most likely refused
    by the browser: that site does not allow this page to read it."""
    import js

    other = str(js.URL.new(url, js.location.href).origin) != str(js.location.origin)
    if other and getattr(error, "status", None) is None:
        return f" (is the server up, and does it allow {js.location.origin} to read its files: CORS?)"
    return ""


async def fetch_json(url: str):
    return await (await fetch_ok(url)).json()


async def _stream(body, total: int, on_progress=None, keep=None):
    """Read a response body (a ReadableStream) to its end, reporting (done, total) bytes as chunks
    arrive (total: the bytes so far when the length is unknown); keep(chunk, at) takes each."""
    reader, done = body.getReader(), 0
    while not (chunk := await reader.read()).done:
        if keep:
            keep(chunk.value, done)
        done += int(chunk.value.length)
        if on_progress:
            on_progress(done, total or done)


async def fetch_buffer(url: str, on_progress=None):
    """GET url into a JS ArrayBuffer, reporting (done, total) bytes as chunks arrive."""
    import js

    response = (await fetch_ok(url)).js_response
    total = int(response.headers.get("Content-Length") or 0)
    if not total or on_progress is None:  # no length or nobody watching: one piece
        return await response.arrayBuffer()
    data = js.Uint8Array.new(total)
    await _stream(response.body, total, on_progress, data.set)  # copied JS-side, never through Python
    return data.buffer


async def fetch_blob(url: str, on_progress=None):
    """The file at url as a Blob, its bytes counted as they arrive (the browser keeps a big blob
    on disk, not in memory)."""
    import js

    response = (await fetch_ok(url)).js_response
    branches = response.body.tee()
    blob = js.Response.new(branches[0]).blob()  # one branch becomes the Blob, the other only counts
    await _stream(branches[1], int(response.headers.get("Content-Length") or 0), on_progress)
    return await blob


async def remote_version(url: str) -> str:
    """What identifies the file at url now (size, ETag, Last-Modified), from a HEAD request: no bytes."""
    headers = (await fetch_ok(url, method="HEAD", cache="no-store")).js_response.headers
    return " ".join(str(headers.get(h) or "") for h in ("Content-Length", "ETag", "Last-Modified"))
