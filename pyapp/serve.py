"""Serve the pyapp page locally: `python -m pyapp.serve [--host H] [--port P] [--mount NAME=DIR]`.

Renders web/index.html with Jinja2 and serves, from this machine only: Pyodide's files, the
micropip wheel, the pyapp wheel built from the working tree (content-hashed URL) and any
mounted folders (goldens, model bundles) under /files/NAME/. Nothing outside those roots is
reachable: a path that climbs out is refused.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import posixpath
import sys
import threading
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2

from . import __version__
from .assets import WEB, AppWheel, micropip_wheel, pyodide_dir

MIME = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
    ".wgsl": "text/plain; charset=utf-8",
    ".safetensors": "application/octet-stream",
    ".map": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
STATIC_SUFFIXES = {".js", ".css", ".png", ".svg"}


def safe_join(base: Path, rel: str) -> Path | None:
    """base/rel if it stays inside base, else None (no '..', no absolute paths, no symlink escapes)."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." or "\\" in p or "\x00" in p for p in parts):
        return None
    base = base.resolve()
    path = base.joinpath(*parts).resolve()
    return path if path.is_relative_to(base) else None


class Site:
    """What the server knows: where each URL prefix lives on disk, and how to render the page."""

    def __init__(self, mounts: dict[str, Path] | None = None, config: dict | None = None,
                 verbose: bool = False):
        self.verbose = verbose
        self.mounts = {name: Path(p) for name, p in (mounts or {}).items()}
        self.config = config or {}
        self.wheel = AppWheel()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(WEB), autoescape=jinja2.select_autoescape(["html"]))

    @cached_property
    def micropip(self) -> Path:
        return micropip_wheel()

    def page_config(self) -> dict:
        digest, wheel = self.wheel.current()
        return {
            "version": __version__,
            "pyodide": "/pyodide/",
            "micropip": f"/wheels/{self.micropip.name}",
            "wheel": f"/wheels/{digest}/{wheel.name}",
            **self.config,
        }

    def render_index(self) -> bytes:
        config = self.page_config()
        html = self.env.get_template("index.html").render(
            version=__version__, config_json=json.dumps(config), config=config)
        return html.encode()

    def locate(self, path: str) -> Path | None:
        """The file behind a URL path, or None (missing or outside every root)."""
        head, _, rest = path.lstrip("/").partition("/")
        if head == "pyodide":
            return safe_join(pyodide_dir(), rest)
        if head == "static":
            found = safe_join(WEB, rest)
            return found if found and found.suffix in STATIC_SUFFIXES else None
        if head == "wheels":
            if rest == self.micropip.name:
                return self.micropip
            digest, wheel = self.wheel.current()
            return wheel if rest == f"{digest}/{wheel.name}" else None
        if head == "files":
            mount, _, rel = rest.partition("/")
            return safe_join(self.mounts[mount], rel) if mount in self.mounts else None
        return None


class Handler(BaseHTTPRequestHandler):
    site: Site  # set on the subclass that make_server creates
    server_version = f"pyapp/{__version__}"

    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def _serve(self, send_body: bool):
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, self.site.render_index(), MIME[".html"], send_body, "no-cache")
        if ".." in posixpath.normpath(path).split("/") or ".." in path.split("/"):
            return self._send(HTTPStatus.FORBIDDEN, b"path outside the served roots\n", "text/plain", send_body)
        found = self.site.locate(path)
        if found is None or not found.is_file():
            return self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", send_body)
        mime = MIME.get(found.suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        cache = "public, max-age=31536000, immutable" if path.startswith("/wheels/") else "no-cache"
        self._send_file(found, mime, send_body, cache)

    def _send(self, status, body: bytes, mime: str, send_body: bool, cache: str = "no-store"):
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_file(self, path: Path, mime: str, send_body: bool, cache: str):
        size = path.stat().st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if send_body:
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    self.wfile.write(chunk)

    def log_message(self, fmt, *args):
        if self.site.verbose:
            super().log_message(fmt, *args)


def make_server(host: str = "127.0.0.1", port: int = 8000, site: Site | None = None) -> ThreadingHTTPServer:
    handler = type("SiteHandler", (Handler,), {"site": site or Site()})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(site: Site, host: str = "127.0.0.1", port: int = 0):
    """Start a server on a free port in a daemon thread; returns (server, base_url)."""
    server = make_server(host, port, site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


def parse_mount(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"--mount wants NAME=DIR, got {text!r}")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"--mount {name}: {path} is not a directory")
    return name, path


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m pyapp.serve",
        description="Serve the pyapp page (Pyodide + WebGPU) on this machine. Open the printed URL "
                    "in a browser with WebGPU (Chrome/Edge 113+, Firefox 141+, Safari 26+). "
                    "Add ?profile=1 to the URL for per-dispatch GPU timings.")
    ap.add_argument("--host", default="127.0.0.1",
                    help="interface to bind (default 127.0.0.1; WebGPU needs localhost or HTTPS)")
    ap.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    ap.add_argument("--mount", type=parse_mount, action="append", default=[], metavar="NAME=DIR",
                    help="also serve DIR under /files/NAME/ (repeatable)")
    ap.add_argument("--model", type=Path, metavar="PATH.gguf",
                    help="a llama-family GGUF (Q4_0/Q4_1/Q8_0/F16/F32); default: SmolLM2-135M-Instruct Q4_1, "
                         "fetched once with pip")
    ap.add_argument("--no-model", action="store_true", help="serve the page without a model (GPU info only)")
    ap.add_argument("--verbose", action="store_true", help="log every request")
    args = ap.parse_args(argv)

    mounts = dict(args.mount)
    config = {}
    if not args.no_model:
        from .export import ExportError, default_model, export

        try:
            gguf = args.model or default_model()
            if not gguf.is_file():
                raise ExportError(f"{gguf}: no such file")
            print(f"pyapp: preparing {gguf.name} ...", flush=True)
            mounts["model"] = export(gguf)
        except ExportError as e:
            sys.exit(f"pyapp.serve: {e}")
        config["model"] = "/files/model/"
    site = Site(mounts=mounts, config=config, verbose=args.verbose)
    site.wheel.current()  # build the wheel and find micropip now, so errors show before the URL
    site.micropip
    server = make_server(args.host, args.port, site)
    host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host
    print(f"pyapp {__version__} serving on http://{host}:{server.server_address[1]}/  (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\npyapp: stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
