"""An HTTP/1.0 server that stays up whatever clients send or fail to send (used by pyapp.serve).

- A request's head (request line and headers) must arrive within HEAD_TIMEOUT (5 s) of the
  connection and fit in MAX_HEAD (64 KiB). A connection that sent nothing by then is closed; a
  partial head gets 408, an oversized one 414 or 431. One thread reads every head, so idle or
  slow clients hold a socket, never a worker.
- WORKERS (32) threads answer complete requests, the rest wait in line. Each CHUNK (256 KiB)
  of a reply must leave within SEND_TIMEOUT (60 s), so a client that stops reading frees its
  worker. The listen backlog is BACKLOG (1024); past MAX_WAITING (512) connections still
  sending their head, a new one gets 503.
- Every failure is an HTTP error reply with a one-line text body, never a dropped connection
  or a traceback: 404 for a name the filesystem refuses (too long, unreadable), 400 for a
  blank or HTTP/0.9 request line, 501 for methods other than GET and HEAD, 500 (logged in one
  line) for the server's own errors.
- A file reply carries validators (ETag, Last-Modified) and honours one byte range (RFC 9110):
  `negotiate` below decides 200, 304, 206 or 416.
"""

from __future__ import annotations

import ipaddress
import queue
import re
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, mktime_tz, parsedate_tz
from functools import partial
from http import HTTPStatus
from http.server import HTTPServer
from os import stat_result

HEAD_TIMEOUT = 5.0  # seconds from connect to the end of the request head
MAX_HEAD = 64 * 1024  # bytes of request line + headers
SEND_TIMEOUT = 60.0  # seconds for each CHUNK of a reply to leave
CHUNK = 256 * 1024
WORKERS = 32  # requests answered at once
BACKLOG = 1024  # connections the kernel queues before accept
MAX_WAITING = 512  # connections whose head is still being read

def error_reply(status: HTTPStatus) -> bytes:
    """A whole HTTP/1.0 error reply, for connections that never reach a Handler."""
    body = f"{status.value} {status.phrase}\n".encode()
    return (f"HTTP/1.0 {status.value} {status.phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


HEAD_END = re.compile(rb"\n\r?\n")  # the blank line after the headers


@dataclass
class Waiting:
    """A connection whose request head is still arriving (or, once refused, is being drained)."""
    address: tuple
    deadline: float
    head: bytearray = field(default_factory=bytearray)
    refused: bool = False


class HeadReader:
    """One thread reads every request head without blocking and hands complete ones to `ready`.

    A client that sends nothing, or half a request, holds only a socket until its deadline,
    never one of the workers: it cannot starve anyone else.
    """

    def __init__(self, ready):
        self.ready = ready  # ready(conn, address, head), called on this reader's thread
        self.arrivals = queue.SimpleQueue()
        self.waiting: dict[socket.socket, Waiting] = {}  # in order of arrival, so of deadline
        self.selector = selectors.DefaultSelector()
        self.wake_in, self.wake_out = socket.socketpair()
        self.wake_in.setblocking(False)
        self.wake_out.setblocking(False)
        self.selector.register(self.wake_in, selectors.EVENT_READ)
        self.closed = False
        threading.Thread(target=self._run, name="pyapp-heads", daemon=True).start()

    def add(self, conn: socket.socket, address):
        self.arrivals.put((conn, address, time.monotonic() + HEAD_TIMEOUT))
        self._wake()

    def close(self):
        self.closed = True
        self._wake()

    def _wake(self):
        try:
            self.wake_out.send(b"\0")
        except OSError:  # full (a wake-up is pending anyway) or closed (the reader is gone)
            pass

    def _run(self):
        while not self.closed:
            for key, _ in self.selector.select(self._until_next_deadline()):
                if key.fileobj is self.wake_in:
                    self.wake_in.recv(4096)
                else:
                    self._read(key.fileobj)
            self._take_arrivals()
            self._expire()
        for conn in list(self.waiting):
            self._drop(conn)
        self.selector.close()
        self.wake_in.close()
        self.wake_out.close()

    def _until_next_deadline(self) -> float | None:
        if not self.waiting:
            return None
        return max(0.0, next(iter(self.waiting.values())).deadline - time.monotonic())

    def _take_arrivals(self):
        while True:
            try:
                conn, address, deadline = self.arrivals.get_nowait()
            except queue.Empty:
                return
            if len(self.waiting) >= MAX_WAITING:
                self._turn_away(conn)
                continue
            conn.setblocking(False)
            self.waiting[conn] = Waiting(address, deadline)
            self.selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: socket.socket):
        waiting = self.waiting[conn]
        try:
            data = conn.recv(MAX_HEAD + 1)
        except BlockingIOError:
            return
        except OSError:  # reset by the client
            return self._drop(conn)
        if waiting.refused:  # its reply is sent: read on only until the client closes
            return None if data else self._drop(conn)
        if not data:  # the client is done sending: what came is its whole request
            return self._hand_over(conn) if waiting.head else self._drop(conn)
        waiting.head += data
        if HEAD_END.search(waiting.head, max(0, len(waiting.head) - len(data) - 2)):
            self._hand_over(conn)
        elif len(waiting.head) > MAX_HEAD:  # no line ended yet: the URL is what is too long
            self._refuse(conn, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE if b"\n" in waiting.head
                         else HTTPStatus.REQUEST_URI_TOO_LONG)

    def _expire(self):
        now = time.monotonic()
        while self.waiting:
            conn, waiting = next(iter(self.waiting.items()))
            if waiting.deadline > now:
                return
            if waiting.head and not waiting.refused:  # half a request: say why no answer comes
                self._refuse(conn, HTTPStatus.REQUEST_TIMEOUT)
            else:  # nothing sent (an idle or preconnected socket), or refused and drained
                self._drop(conn)

    def _hand_over(self, conn: socket.socket):
        waiting = self.waiting.pop(conn)
        self.selector.unregister(conn)
        self.ready(conn, waiting.address, bytes(waiting.head))

    def _refuse(self, conn: socket.socket, status: HTTPStatus):
        """Reply, then read on for HEAD_TIMEOUT before closing: closing with unread input would
        reset the connection, and the client could lose the reply."""
        try:
            conn.send(error_reply(status))  # a few hundred bytes: fits any socket buffer
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            return self._drop(conn)
        waiting = self.waiting.pop(conn)  # back in last, with the latest deadline: order kept
        self.waiting[conn] = Waiting(waiting.address, time.monotonic() + HEAD_TIMEOUT, refused=True)

    def _turn_away(self, conn: socket.socket):
        """503 for a connection past MAX_WAITING: no lingering, that would only hold more sockets."""
        try:
            conn.setblocking(False)
            conn.send(error_reply(HTTPStatus.SERVICE_UNAVAILABLE))
        except OSError:
            pass
        conn.close()

    def _drop(self, conn: socket.socket):
        if self.waiting.pop(conn, None) is not None:
            self.selector.unregister(conn)
        conn.close()


class Workers:
    """A fixed number of daemon threads running queued jobs (daemon: Ctrl-C never waits on a slow client)."""

    def __init__(self, count: int):
        self.jobs = queue.SimpleQueue()
        self.count = count
        for i in range(count):
            threading.Thread(target=self._run, name=f"pyapp-worker-{i}", daemon=True).start()

    def submit(self, fn, *args):
        self.jobs.put((fn, args))

    def close(self):
        for _ in range(self.count):
            self.jobs.put(None)

    def _run(self):
        while (job := self.jobs.get()) is not None:
            fn, args = job
            fn(*args)


class PooledServer(HTTPServer):
    """HTTPServer whose request heads are read by one HeadReader and answered by WORKERS threads."""

    request_queue_size = BACKLOG

    def __init__(self, address, handler):
        self.workers = Workers(WORKERS)
        self.heads = HeadReader(partial(self.workers.submit, self._answer))
        super().__init__(address, handler)  # binds; on failure it calls server_close and raises

    def process_request(self, request, client_address):
        self.heads.add(request, client_address)

    def _answer(self, conn: socket.socket, address, head: bytes):
        try:
            self.RequestHandlerClass(conn, address, self, head)
        except Exception:
            self.handle_error(conn, address)
        finally:
            self.shutdown_request(conn)

    def handle_error(self, request, client_address):
        """One line instead of socketserver's traceback; a client that hung up is no error."""
        e = sys.exception()
        if not isinstance(e, ConnectionError):
            print(f"pyapp.serve: answering {client_address[0]}: {type(e).__name__}: {e}", file=sys.stderr)

    def server_close(self):
        super().server_close()
        self.heads.close()
        self.workers.close()


class PooledServer6(PooledServer):
    address_family = socket.AF_INET6

    def server_bind(self):
        try:  # "::" takes IPv4 clients too, so http://localhost:PORT/ reaches it
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        except OSError:
            pass
        super().server_bind()


def is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def url_host(host: str) -> str:
    """host as a URL spells it: an IPv6 address in brackets."""
    return f"[{host}]" if is_ipv6(host) else host


# A file reply (RFC 9110): validators answer conditional requests (304), one byte range a 206.

UNSATISFIABLE = "unsatisfiable"  # byte_range's answer for a 416
BYTE_RANGE = re.compile(r"\s*(\d*)-(\d*)\s*")  # first-last, first- or -suffix


def negotiate(method: str, headers, stat: stat_result) -> tuple[HTTPStatus, tuple[int, int], dict[str, str]]:
    """Status, byte span [start, end) and extra headers of a reply that sends a file: 304 when the
    client's copy is current, 206 for one satisfiable range, 416 for a range past the end, else 200."""
    size = stat.st_size
    etag, modified = file_validators(stat)
    extra = {"ETag": etag, "Last-Modified": modified, "Accept-Ranges": "bytes"}
    if not_modified(headers, etag, stat.st_mtime):
        return HTTPStatus.NOT_MODIFIED, (0, 0), extra
    wanted = None  # Range is defined for GET only: HEAD gets the whole file's headers
    if method == "GET" and if_range_holds(headers, etag, stat.st_mtime):
        wanted = byte_range(headers.get("Range"), size)
    if wanted is None:
        return HTTPStatus.OK, (0, size), extra
    if wanted == UNSATISFIABLE:
        return HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, (0, 0), {**extra, "Content-Range": f"bytes */{size}"}
    start, end = wanted
    return HTTPStatus.PARTIAL_CONTENT, wanted, {**extra, "Content-Range": f"bytes {start}-{end - 1}/{size}"}


def file_validators(stat: stat_result) -> tuple[str, str]:
    """(ETag, Last-Modified) of a file: the tag changes whenever its size or mtime does."""
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"', formatdate(stat.st_mtime, usegmt=True)


def http_date(text: str | None) -> int | None:
    """Seconds since the epoch of an HTTP-date, or None for anything else."""
    try:
        parsed = parsedate_tz(text) if text else None
        return mktime_tz(parsed) if parsed else None
    except (ValueError, IndexError, OverflowError):  # hostile text that the parser trips over
        return None


def not_modified(headers, etag: str, mtime: float) -> bool:
    """Does the client hold this version? If-None-Match decides when sent (weak comparison: W/"t"
    matches "t"), else If-Modified-Since (an invalid date is ignored)."""
    tags = headers.get("If-None-Match")
    if tags is not None:
        return tags.strip() == "*" or etag in re.findall(r'"[^"]*"', tags)
    since = http_date(headers.get("If-Modified-Since"))
    return since is not None and int(mtime) <= since


def if_range_holds(headers, etag: str, mtime: float) -> bool:
    """If-Range: the range applies only to the version named (strong ETag or exact date)."""
    value = headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag  # a weak tag never matches
    return http_date(value) == int(mtime)


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """The [start, end) that a Range header asks of a file of `size` bytes.

    None (a 200 with the whole file): no header, a malformed or invalid one (last < first), or
    several ranges (RFC 9110 lets a server ignore Range; we never send multipart replies).
    UNSATISFIABLE (a 416): a range that starts at or past the end, or an empty suffix.
    """
    unit, sep, spec = (header or "").partition("=")
    m = BYTE_RANGE.fullmatch(spec) if sep and unit.lower() == "bytes" else None
    if m is None or not (m[1] or m[2]):
        return None
    first, last = m[1], m[2]
    if not first:  # "-n": the last n bytes
        n = _count(last)
        if n == 0:
            return UNSATISFIABLE
        return (max(0, size - n), size) if size else None  # no Content-Range names an empty part
    start = _count(first)
    if last and _count(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, (min(_count(last) + 1, size) if last else size)


def _count(digits: str) -> int:
    """A byte count; 19 digits or more is past any file (and int() of 5,000 digits raises)."""
    return int(digits) if len(digits) < 19 else 10**18
