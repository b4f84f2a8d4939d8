"""What the page needs from the host: Pyodide, the micropip wheel and our own wheel.

Everything comes from package registries at set-up time (npm for Pyodide, pip for micropip)
and is served locally: the page never reaches a CDN.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # a checkout: pyproject.toml, web/, wgsl/
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


def micropip_wheel() -> Path:
    """The micropip wheel that matches Pyodide's lock, downloaded once with pip."""
    lock = pyodide_lock()
    version = lock["packages"]["micropip"]["version"]
    python = ".".join(lock["info"]["python"].split(".")[:2])
    dest = CACHE / "wheels"
    found = sorted(dest.glob(f"micropip-{version}-py3-none-any.whl"))
    if found:
        return found[0]
    dest.mkdir(parents=True, exist_ok=True)
    print(f"pyapp: downloading micropip {version} for Pyodide's Python {python} ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "--python-version", python, "-d", str(dest), f"micropip=={version}"],
        check=True,
    )
    return next(dest.glob(f"micropip-{version}-py3-none-any.whl"))


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
