"""What the page needs from the host: Pyodide, the micropip wheel, Jinja2 and MarkupSafe (the
page renders a GGUF's chat template with them) and our own wheel.

Everything comes from package registries at set-up time (npm for Pyodide, pip for the rest, at
the versions Pyodide's lock names) and is served locally: the page never reaches a CDN.
MarkupSafe's wheels carry a C speedup; its pure-Python half is repacked as a py3-none-any wheel
(MarkupSafe falls back to it by itself).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # pyapp/server/assets.py in a checkout: pyproject.toml, web/, wgsl/
WEB = ROOT / "web"
PYODIDE = WEB / "node_modules" / "pyodide"
CACHE = Path(os.environ.get("PYAPP_CACHE", ROOT / ".cache"))


class SetupError(RuntimeError):
    """A missing install step, said in words that name the fix."""


def pyodide_dir() -> Path:
    if not (PYODIDE / "pyodide.mjs").is_file():
        raise SetupError(f"Pyodide is not installed in {PYODIDE}: run `make setup` (npm ci in web/)")
    return PYODIDE


def pyodide_lock() -> dict:
    return json.loads((pyodide_dir() / "pyodide-lock.json").read_text())


def _lock(name: str) -> tuple[str, str]:
    """(version, Python major.minor) of a package in Pyodide's lock."""
    lock = pyodide_lock()
    return lock["packages"][name]["version"], ".".join(lock["info"]["python"].split(".")[:2])


def _downloaded(spec: str, pattern: str, *extra: str) -> Path:
    """A wheel in CACHE/wheels matching pattern, downloaded once with pip (no dependencies)."""
    dest = CACHE / "wheels"
    found = sorted(dest.glob(pattern))
    if found:
        return found[0]
    dest.mkdir(parents=True, exist_ok=True)
    print(f"pyapp: downloading {spec} for the page ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    *extra, "-d", str(dest), spec], check=True)
    return next(dest.glob(pattern))


def micropip_wheel() -> Path:
    """The micropip wheel that matches Pyodide's lock."""
    version, python = _lock("micropip")
    return _downloaded(f"micropip=={version}", f"micropip-{version}-py3-none-any.whl", "--python-version", python)


def page_wheels() -> list[Path]:
    """Jinja2 and a pure MarkupSafe at the lock's versions, installed in the page before pyapp."""
    jinja_version, python = _lock("jinja2")
    jinja = _downloaded(f"jinja2=={jinja_version}", f"jinja2-{jinja_version}-py3-none-any.whl",
                        "--python-version", python)
    return [jinja, pure_markupsafe(_lock("markupsafe")[0])]


def pure_markupsafe(version: str) -> Path:
    """MarkupSafe's Python files from one of its binary wheels, repacked as py3-none-any."""
    out = CACHE / "wheels" / f"markupsafe-{version}-py3-none-any.whl"
    if out.is_file():
        return out
    binary = _downloaded(f"markupsafe=={version}", f"markupsafe-{version}-cp311-*.whl", "--python-version", "3.11",
                         "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64")
    tmp = out.with_suffix(".part")
    records = []
    with zipfile.ZipFile(binary) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            name = item.filename
            if name.endswith(("/", ".so", ".pyd", ".c", "/RECORD", "/WHEEL")):
                continue
            data = src.read(item)
            if name.endswith("/METADATA"):
                info = name.rsplit("/", 1)[0]
            dst.writestr(name, data)
            records.append(_record(name, data))
        wheel = b"Wheel-Version: 1.0\nGenerator: pyapp\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        dst.writestr(f"{info}/WHEEL", wheel)
        records.append(_record(f"{info}/WHEEL", wheel))
        dst.writestr(f"{info}/RECORD", "".join(records) + f"{info}/RECORD,,\n")
    tmp.replace(out)
    return out


def _record(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


class AppWheel:
    """Builds the pyapp wheel from the working tree, again whenever a source file changes.

    The page gets it under a content-hashed URL, so a reload never runs stale code.
    """

    def __init__(self, root: Path = ROOT):
        self.root = root
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self.path: Path | None = None
        self.digest = ""

    def _sources(self):
        for folder in ("pyapp", "wgsl"):
            yield from (p for p in (self.root / folder).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts)
        yield self.root / "pyproject.toml"

    def current(self) -> tuple[str, Path]:
        """(digest, path) of a wheel that matches the sources right now."""
        with self._lock:
            stamp = tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in self._sources()))
            if stamp != self._stamp:
                self.path = self._build()
                self.digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
                self._stamp = stamp
            return self.digest, self.path

    def _build(self) -> Path:
        from hatchling.builders.wheel import WheelBuilder

        out = Path(tempfile.mkdtemp(prefix="pyapp-wheel-"))
        builder = WheelBuilder(str(self.root))
        return Path(next(iter(builder.build(directory=str(out), versions=["standard"]))))
