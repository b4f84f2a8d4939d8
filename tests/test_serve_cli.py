"""`python -m pyapp.serve` as a user runs it: bad options end in one line (no traceback), IPv6
works, and a server reachable from other machines says so."""

import re
import socket
import subprocess
import sys
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from pyapp.serve import announce

ROOT = Path(__file__).resolve().parent.parent
PATIENCE = 60  # seconds for the CLI to start (it builds the wheel) on a slow, shared machine


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyapp.serve", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=PATIENCE)


def assert_one_line_error(result: subprocess.CompletedProcess, option: str | None = None):
    """Exit status != 0, no traceback; stderr is one `pyapp.serve: ...` line, or argparse's usage
    error naming the option."""
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    if option is None:
        assert len(lines) == 1 and lines[0].startswith("pyapp.serve: "), result.stderr
    else:
        assert lines[0].startswith("usage:") and f"error: argument {option}" in lines[-1], result.stderr


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("args, option", [
    (["--port", "70000"], "--port"),
    (["--port", "-1"], "--port"),
    (["--port=-1"], "--port"),
    (["--port", "abc"], "--port"),
    (["--host", "localhost:8000"], "--host"),
    (["--host", "127.0.0.1:8000"], "--host"),
    (["--host", "[::1]:8000"], "--host"),
    (["--host", "[localhost]"], "--host"),
    (["--host", ""], "--host"),
])
def test_bad_host_or_port_is_a_usage_error(args, option):
    assert_one_line_error(run_cli("--no-model", *args), option)


def test_no_model_with_a_model_is_refused():
    result = run_cli("--no-model", "--model", "some.gguf")
    assert_one_line_error(result, "--model")
    assert "--no-model" in result.stderr.splitlines()[-1]


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("--no-model", "--port", str(taken.getsockname()[1]))
    assert_one_line_error(result)
    assert "in use" in result.stderr


def test_an_address_not_on_this_machine_is_one_line():
    assert_one_line_error(run_cli("--no-model", "--port", "0", "--host", "192.0.2.1"))  # TEST-NET-1


@contextmanager
def cli_server(*args: str):
    """The CLI serving on a free port: yields (process, the line with its URL); stops it after."""
    proc = subprocess.Popen([sys.executable, "-m", "pyapp.serve", "--no-model", "--port", "0", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kill_if_stuck = threading.Timer(PATIENCE, proc.kill)
    kill_if_stuck.start()
    try:
        yield proc, proc.stdout.readline()
    finally:
        kill_if_stuck.cancel()
        proc.terminate()
        proc.wait(timeout=PATIENCE)


def served_url(line: str) -> str:
    found = re.search(r"serving on (http://\S+/)", line)
    assert found, line
    return found.group(1)


def served_style(host: str) -> tuple[str, str]:
    """The server on host serves its style sheet: (the URL it printed, what it wrote to stderr)."""
    with cli_server("--host", host) as (proc, line):
        url = served_url(line)
        with urllib.request.urlopen(url + "static/style.css", timeout=PATIENCE) as r:
            assert r.status == 200
    return url, proc.stderr.read()


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_ipv6_loopback_serves_with_a_bracketed_url(host):
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    url, stderr = served_style(host)
    assert re.fullmatch(r"http://\[::1\]:\d+/", url)
    assert "warning" not in stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_every_interface_prints_a_local_url_and_a_warning(host):
    if host == "::" and not ipv6_loopback():
        pytest.skip("no IPv6 here")
    url, stderr = served_style(host)
    assert re.fullmatch(r"http://localhost:\d+/", url)
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "every network interface" in warnings[0] and "other machines" in warnings[0]
    assert "WebGPU" in warnings[0]


@pytest.mark.parametrize("address, url, warns", [
    (("127.0.0.1", 8000), "http://localhost:8000/", False),
    (("::1", 8000, 0, 0), "http://[::1]:8000/", False),
    (("192.168.1.5", 8000), "http://192.168.1.5:8000/", True),
    (("0.0.0.0", 8000), "http://localhost:8000/", True),
])
def test_announce(capsys, address, url, warns):
    announce(address)
    out, err = capsys.readouterr()
    assert f"serving on {url} " in out
    assert ("other machines can reach this server" in err) == warns
