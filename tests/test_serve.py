"""The server: routes, MIME types, content-hashed wheel, traversal refused, template renders,
validators (304) and byte ranges (206, 416)."""

import json
import re
import urllib.error
import urllib.request
import zipfile

import pytest

from pyapp.serve import Site, main, parse_mount, safe_join, serve_in_thread


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    mount = tmp_path_factory.mktemp("mount")
    (mount / "a.safetensors").write_bytes(b"\x00" * 10)
    (mount / "big.bin").write_bytes(BIG)
    (mount / "empty.bin").write_bytes(b"")
    (mount.parent / "secret.txt").write_text("no")
    server, url = serve_in_thread(Site(mounts={"data": mount}))
    yield url
    server.shutdown()


BIG = bytes(range(251)) * 3001  # 753,251 bytes: past CHUNK, so a range crosses reads; 251 is prime


def get(url, method="GET", **headers):
    """status, headers, body; keyword arguments are request headers (If_None_Match= -> If-None-Match)."""
    request = urllib.request.Request(url, method=method, headers={k.replace("_", "-"): v for k, v in headers.items()})
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def page_config(url):
    status, headers, body = get(url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    m = re.search(rb'<script type="application/json" id="pyapp-config">(.*?)</script>', body, re.S)
    return json.loads(m.group(1))


def test_index_renders_config_with_local_urls(served):
    config = page_config(served)
    assert config["pyodide"] == "/pyodide/"
    assert re.fullmatch(r"/wheels/[0-9a-f]{16}/pyapp-[\w.]+-py3-none-any\.whl", config["wheel"])
    assert config["micropip"].startswith("/wheels/micropip-")


@pytest.mark.parametrize("path, mime", [
    ("/pyodide/pyodide.asm.wasm", "application/wasm"),
    ("/pyodide/pyodide.mjs", "text/javascript"),
    ("/pyodide/pyodide-lock.json", "application/json"),
    ("/static/boot.js", "text/javascript"),
    ("/static/style.css", "text/css"),
    ("/files/data/a.safetensors", "application/octet-stream"),
])
def test_mime_types(served, path, mime):
    status, headers, _ = get(served + path)
    assert status == 200 and headers["Content-Type"] == mime


def test_page_libraries_are_pure_wheels_at_the_lock_versions(served):
    """Jinja2 and MarkupSafe for chat templates: pure-Python wheels (the page cannot load a
    CPython extension) whose RECORD hashes match, at the versions Pyodide's lock names."""
    import base64
    import hashlib
    import io
    from pyapp.server.assets import pyodide_lock
    lock = pyodide_lock()["packages"]
    names = [u.rsplit("/", 1)[1] for u in page_config(served)["libraries"]]
    assert names == [f"jinja2-{lock['jinja2']['version']}-py3-none-any.whl",
                     f"markupsafe-{lock['markupsafe']['version']}-py3-none-any.whl"]
    status, _, body = get(served + "/wheels/" + names[1])
    wheel = zipfile.ZipFile(io.BytesIO(body))
    assert status == 200 and not [n for n in wheel.namelist() if n.endswith((".so", ".c"))]
    record = next(n for n in wheel.namelist() if n.endswith("/RECORD"))
    for line in wheel.read(record).decode().splitlines():
        name, digest, size = line.split(",")
        if digest:
            data = wheel.read(name)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={want}" and int(size) == len(data), name
    assert "markupsafe/__init__.py" in wheel.namelist() and "markupsafe/_native.py" in wheel.namelist()


def test_wheels_are_served_and_hold_runtime_and_shaders(served):
    config = page_config(served)
    status, _, body = get(served + config["wheel"])
    assert status == 200
    import io
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "pyapp/runtime/graph/graph.py" in names and "pyapp/wgsl/common/grid.wgsl" in names
    assert get(served + config["micropip"])[0] == 200
    assert get(served + "/wheels/0000000000000000/pyapp-0.1.0-py3-none-any.whl")[0] == 404


@pytest.mark.parametrize("path", [
    "/files/data/../secret.txt", "/files/data/%2e%2e/secret.txt", "/static/../pyproject.toml",
    "/pyodide/../../pyproject.toml", "/static/..%2F..%2Fpyproject.toml",
])
def test_traversal_is_refused(served, path):
    status, _, body = get(served + path)
    assert status in (403, 404) and b"no" != body


def test_unknown_and_unlisted_paths_404(served):
    assert get(served + "/nope")[0] == 404
    assert get(served + "/files/other/a.safetensors")[0] == 404
    assert get(served + "/static/index.html")[0] == 404  # only static suffixes from web/


def test_static_serves_only_the_pages_own_files(served):
    status, headers, _ = get(served + "/static/screenshot.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    for path in ("/static/node_modules/pyodide/pyodide.mjs", "/static/node_modules/pyodide/pyodide.asm.js"):
        assert get(served + path)[0] == 404  # Pyodide is served under /pyodide/ only


def test_head_sends_headers_without_a_body(served):
    with urllib.request.urlopen(urllib.request.Request(served + "/static/style.css", method="HEAD")) as r:
        assert r.status == 200 and r.read() == b""
        assert int(r.headers["Content-Length"]) == len(get(served + "/static/style.css")[2])
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(served + "/nope", method="HEAD"))
    assert e.value.code == 404 and e.value.read() == b""


def test_safe_join(tmp_path):
    assert safe_join(tmp_path, "a/b") == tmp_path.resolve() / "a" / "b"
    assert safe_join(tmp_path, "../x") is None
    assert safe_join(tmp_path, "a/../../x") is None
    (tmp_path / "link").symlink_to("/etc")
    assert safe_join(tmp_path, "link/passwd") is None


def test_wheel_rebuilds_when_a_source_changes(tmp_path):
    site = Site()
    first, _ = site.wheel.current()
    assert site.wheel.current()[0] == first  # unchanged sources: same wheel
    site.wheel._stamp = None  # as if a file changed
    assert site.wheel.current()[0] == first  # reproducible build: same content, same hash


def test_cli_help_and_bad_mount(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--mount" in out and "--cors" in out
    import argparse
    with pytest.raises(argparse.ArgumentTypeError, match="not a directory"):
        parse_mount(f"x={tmp_path}/missing")
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=DIR"):
        parse_mount("nodir")


def test_file_replies_carry_validators_and_the_page_does_not(served):
    status, headers, _ = get(served + "/files/data/big.bin")
    assert status == 200 and headers["Accept-Ranges"] == "bytes"
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', headers["ETag"]) and headers["Last-Modified"].endswith(" GMT")
    _, page, _ = get(served + "/")
    assert page["Cache-Control"] == "no-cache" and page["ETag"] is None  # rendered anew for every request


def test_a_current_copy_gets_304_by_either_validator(served):
    url = served + "/files/data/big.bin"
    _, headers, _ = get(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    for cond in ({"If_None_Match": etag}, {"If_None_Match": f'"x", W/{etag}'}, {"If_None_Match": "*"},
                 {"If_Modified_Since": modified}, {"If_Modified_Since": "Fri, 01 Jan 2100 00:00:00 GMT"}):
        status, headers, body = get(url, **cond)
        assert (status, body, headers["ETag"]) == (304, b"", etag), cond
    for cond in ({"If_None_Match": '"other"'}, {"If_Modified_Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
                 {"If_Modified_Since": "not a date"},
                 {"If_None_Match": '"other"', "If_Modified_Since": modified}):  # If-None-Match decides
        status, _, body = get(url, **cond)
        assert (status, body) == (200, BIG), cond


@pytest.mark.parametrize("spec, start, end", [
    ("bytes=0-0", 0, 1), ("bytes=100-262243", 100, 262244), ("bytes=700000-", 700000, len(BIG)),
    ("bytes=-1000", len(BIG) - 1000, len(BIG)), ("bytes=5-99999999", 5, len(BIG)),
    ("bytes=-99999999", 0, len(BIG)), ("Bytes=7-9", 7, 10), ("bytes=3-" + "9" * 5000, 3, len(BIG)),
])
def test_one_range_gets_206_with_that_slice(served, spec, start, end):
    status, headers, body = get(served + "/files/data/big.bin", Range=spec)
    assert status == 206 and body == BIG[start:end]
    assert headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(BIG)}"
    assert int(headers["Content-Length"]) == end - start and headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("spec", [f"bytes={len(BIG)}-", "bytes=" + "9" * 5000 + "-", "bytes=-0"])
def test_a_range_past_the_end_gets_416(served, spec):
    status, headers, body = get(served + "/files/data/big.bin", Range=spec)
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(BIG)}"
    assert b"not satisfiable" in body


@pytest.mark.parametrize("spec", ["bytes=5-2", "bytes=x-3", "bytes=-", "items=0-3", "bytes 0-3", "bytes=0-1,x",
                                  "bytes=1-2-3", "bytes = 0-3",
                                  "bytes=0-1,5-6", "bytes=0-1, -5"])  # several: we send no multipart replies
def test_a_malformed_range_or_several_are_ignored(served, spec):
    status, headers, body = get(served + "/files/data/big.bin", Range=spec)
    assert (status, body) == (200, BIG) and headers["Content-Range"] is None


def test_an_empty_file_has_no_range_to_send(served):
    url = served + "/files/data/empty.bin"
    status, headers, _ = get(url, Range="bytes=0-")
    assert status == 416 and headers["Content-Range"] == "bytes */0"
    assert get(url, Range="bytes=-5")[0::2] == (200, b"")  # a suffix of an empty file: all of it


def test_if_range_applies_the_range_only_to_the_same_version(served):
    url = served + "/files/data/big.bin"
    _, headers, _ = get(url)
    for current in (headers["ETag"], headers["Last-Modified"]):
        assert get(url, Range="bytes=1-2", If_Range=current)[0::2] == (206, BIG[1:3])
    for stale in ('"other"', f"W/{headers['ETag']}", "Thu, 01 Jan 1970 00:00:00 GMT", "garbage"):
        assert get(url, Range="bytes=1-2", If_Range=stale)[0::2] == (200, BIG)


def test_head_answers_like_get_without_a_body(served):
    url = served + "/files/data/big.bin"
    status, headers, body = get(url, method="HEAD", Range="bytes=0-9")  # Range is for GET only
    assert (status, body, int(headers["Content-Length"])) == (200, b"", len(BIG))
    assert headers["Accept-Ranges"] == "bytes" and headers["ETag"] == get(url)[1]["ETag"]
    status, _, body = get(url, method="HEAD", If_None_Match=headers["ETag"])
    assert (status, body) == (304, b"")


def test_cors_lets_other_origins_read_the_files_only_when_asked(served, tmp_path):
    """--cors: every reply allows any origin and exposes the validators and ranges; a preflight
    gets 204. Without it, no CORS header and OPTIONS is not implemented."""
    (tmp_path / "m.gguf").write_bytes(b"GGUF" + bytes(60))
    assert "Access-Control-Allow-Origin" not in get(served + "/files/data/a.safetensors")[1]
    assert get(served + "/files/data/a.safetensors", "OPTIONS")[0] == 501
    server, url = serve_in_thread(Site(mounts={"models": tmp_path}, cors=True))
    try:
        status, headers, body = get(url + "/files/models/m.gguf", Range="bytes=0-3", Origin="http://elsewhere")
        assert status == 206 and body == b"GGUF" and headers["Access-Control-Allow-Origin"] == "*"
        assert "Content-Range" in headers["Access-Control-Expose-Headers"]
        status, headers, _ = get(url + "/files/models/m.gguf", "OPTIONS", Origin="http://elsewhere",
                                 Access_Control_Request_Method="GET", Access_Control_Request_Headers="range")
        assert status == 204 and "Range" in headers["Access-Control-Allow-Headers"]
    finally:
        server.shutdown()
