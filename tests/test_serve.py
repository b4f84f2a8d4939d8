"""The server: routes, MIME types, content-hashed wheel, traversal refused, template renders."""

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
    (mount.parent / "secret.txt").write_text("no")
    server, url = serve_in_thread(Site(mounts={"data": mount}))
    yield url
    server.shutdown()


def get(url):
    try:
        with urllib.request.urlopen(url) as r:
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
    from pyapp.assets import pyodide_lock
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
    assert "pyapp/runtime/graph.py" in names and "pyapp/wgsl/common/grid.wgsl" in names
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
    assert "--mount" in capsys.readouterr().out
    import argparse
    with pytest.raises(argparse.ArgumentTypeError, match="not a directory"):
        parse_mount(f"x={tmp_path}/missing")
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=DIR"):
        parse_mount("nodir")
