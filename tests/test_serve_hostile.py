"""The server against hostile clients, over real sockets: every failure is an HTTP error reply
(never a dropped connection or a traceback), and idle, slow or many clients starve no one."""

import resource
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from pyapp.server import httpd
from pyapp.server.httpd import MAX_HEAD, MAX_WAITING
from pyapp.serve import Site, serve_in_thread

PATIENCE = 60  # seconds any single answer may take on a slow, shared machine: a bound, not a speed


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    mount = tmp_path_factory.mktemp("mount")
    (mount / "a.bin").write_bytes(b"\x00" * 10)
    server, _ = serve_in_thread(Site(mounts={"data": mount}))
    yield server
    server.shutdown()


def url_of(server, path: str) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def connect(server) -> socket.socket:
    return socket.create_connection(server.server_address[:2], timeout=PATIENCE)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def exchange(server, request: bytes, half_close: bool = False) -> bytes:
    with connect(server) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def assert_text_error(reply: bytes, status: int):
    """An HTTP error reply: the status, a text/plain body of one line, its length declared."""
    head, _, body = reply.partition(b"\r\n\r\n")
    assert status_of(reply) == status, reply[:200]
    assert b"\r\nContent-Type: text/plain" in head
    assert f"\r\nContent-Length: {len(body)}".encode() in head
    assert body.endswith(b"\n") and body.count(b"\n") == 1


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""  # data before the client sent a full request would be odd
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(PATIENCE)


@pytest.mark.parametrize("path", [
    "/static/" + "a" * 300,
    "/files/data/" + "a" * 300,
    "/pyodide/" + "a" * 256 + "/x",
    "/files/data/" + "a/" * 3000,  # the whole path over PATH_MAX
])
def test_names_too_long_for_the_filesystem_get_404(server, path):
    assert_text_error(exchange(server, f"GET {path} HTTP/1.0\r\n\r\n".encode()), 404)


@pytest.mark.parametrize("request_bytes, status", [
    (b"\r\n\r\n", 400),  # a blank request line
    (b"GET /\r\n\r\n", 400),  # HTTP/0.9
    (b"GET / HTTP/1.0 extra\r\n\r\n", 400),
    (b"BREW /static/style.css HTTP/1.0\r\n\r\n", 501),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTQ/1.0\r\n\r\n", 400),
    (b"GET http://[oops/ HTTP/1.0\r\n\r\n", 400),  # urlsplit refuses the URL
    (b"GET /" + b"a" * MAX_HEAD, 414),  # a request line that never ends
    (b"GET / HTTP/1.0\r\nX: " + b"y" * MAX_HEAD + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.0\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),  # more headers than the stdlib takes
])
def test_malformed_requests_get_an_error_reply(server, request_bytes, status):
    assert_text_error(exchange(server, request_bytes), status)


def test_a_request_cut_short_by_the_client_is_still_answered(server):
    reply = exchange(server, b"GET /static/style.css HTTP/1.0\r\n", half_close=True)
    assert status_of(reply) == 200


class BrokenSite(Site):
    def render_index(self) -> bytes:
        raise RuntimeError("template exploded")


def test_a_server_error_is_a_500_reply_and_one_log_line(capfd):
    server, url = serve_in_thread(BrokenSite())
    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + "/", timeout=PATIENCE)
        assert e.value.code == 500 and e.value.read() == b"server error: template exploded\n"
        with urllib.request.urlopen(url + "/static/style.css", timeout=PATIENCE) as r:
            assert r.status == 200  # and it keeps serving
    finally:
        server.shutdown()
    err = capfd.readouterr().err
    assert "Traceback" not in err
    logged = [line for line in err.splitlines() if "template exploded" in line]
    assert len(logged) == 1 and '"GET / HTTP/1.1" failed: RuntimeError' in logged[0]


def open_stalled(server, idle: int, partial: int) -> tuple[list[socket.socket], list[socket.socket]]:
    """Connections that send nothing, and connections that send half a request head."""
    quiet = [connect(server) for _ in range(idle)]
    halves = [connect(server) for _ in range(partial)]
    for i, sock in enumerate(halves):
        sock.sendall(b"GET / HTTP/1.0\r\n" if i % 2 else b"GET /static/sty")
    return quiet, halves


def test_idle_and_partial_clients_starve_no_one(server, monkeypatch):
    """200 sockets that send nothing and 100 with half a request (more than the workers): a
    normal GET is answered while they all still wait."""
    monkeypatch.setattr(httpd, "HEAD_TIMEOUT", PATIENCE)  # a stalled machine cannot expire them first
    idle, partial = open_stalled(server, 200, 100)
    try:
        with urllib.request.urlopen(url_of(server, "/static/style.css"), timeout=PATIENCE) as r:
            assert r.status == 200
        assert all(still_open(sock) for sock in idle + partial)
    finally:
        for sock in idle + partial:
            sock.close()


def test_stalled_clients_are_closed_after_the_head_timeout(server):
    """Idle connections are closed quietly, half requests get 408 (HEAD_TIMEOUT: 5 s)."""
    idle, partial = open_stalled(server, 20, 20)
    try:
        assert all(read_all(sock) == b"" for sock in idle)
        for sock in partial:
            assert_text_error(read_all(sock), 408)
    finally:
        for sock in idle + partial:
            sock.close()


def test_many_parallel_gets_all_succeed(server):
    url = url_of(server, "/static/style.css")

    def get(_):  # each within PATIENCE: with a listen backlog of 5, some waited 121 s
        with urllib.request.urlopen(url, timeout=PATIENCE) as r:
            return r.status, r.read()

    with ThreadPoolExecutor(max_workers=200) as pool:
        replies = list(pool.map(get, range(200)))
    assert {status for status, _ in replies} == {200} and len({body for _, body in replies}) == 1


def allow_open_files(count: int):
    """Raise this process's soft limit on open files to count, or skip the test if it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"needs {count} open files, the limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def test_past_max_waiting_new_connections_get_503(monkeypatch):
    allow_open_files(2 * MAX_WAITING + 512)  # both ends of every connection live in this process
    monkeypatch.setattr(httpd, "HEAD_TIMEOUT", PATIENCE)  # none of the first ones may expire meanwhile
    server, _ = serve_in_thread(Site())
    socks = [connect(server) for _ in range(MAX_WAITING + 5)]
    try:
        for sock in socks[MAX_WAITING:]:
            assert_text_error(read_all(sock), 503)
        assert all(still_open(sock) for sock in socks[:MAX_WAITING])
    finally:
        for sock in socks:
            sock.close()
        server.shutdown()


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server, url = serve_in_thread(Site(), "::1")
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    try:
        assert url == f"http://[::1]:{server.server_address[1]}"
        with urllib.request.urlopen(url + "/static/style.css", timeout=PATIENCE) as r:
            assert r.status == 200
    finally:
        server.shutdown()


def test_shutdown_closes_the_listening_socket():
    server, _ = serve_in_thread(Site())
    address = server.server_address[:2]
    server.shutdown()
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:  # the serving thread closes it right after shutdown
        try:
            socket.create_connection(address, timeout=PATIENCE).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.05)
    pytest.fail("still accepting connections after shutdown")
