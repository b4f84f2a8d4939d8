"""The page as a static site: `python -m pyapp.build OUT [--model PATH.gguf | --no-model] [--force]`.

OUT gets what pyapp.serve would hand the page, as plain files: index.html rendered with
relative URLs (so the site works under any path prefix), Pyodide's files under pyodide/, the
wheels the page installs under wheels/, web/'s own files under static/ and, with --model, the
exported bundle under files/model/. Any static file server can host it (`python -m http.server
-d OUT`) as long as it sends .mjs as JavaScript and .wasm as application/wasm; browsers give
WebGPU to pages from localhost or HTTPS only.

The site is written into a fresh folder beside OUT and renamed into place, so OUT is either
the old build or the new one. OUT must be missing, empty or a previous build (it holds
MARKER); anything else is replaced only with --force.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import __version__
from .server.assets import ROOT, WEB, SetupError
from .serve import Site

# What the page loads from Pyodide's folder (the lock file names the packages; ours come as wheels).
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
MARKER = ".pyapp-site"  # names OUT as a build of ours: a new build may replace it
MODEL_URL = "files/model/"  # where pyapp.serve mounts the bundle, relative


class BuildError(RuntimeError):
    """A bad OUT or input, said in one line."""


def site_files(site: Site) -> dict[str, Path]:
    """Every file of the site by its path inside OUT, which is also its URL relative to the page."""
    config = site.page_config(base="")
    urls = [f"pyodide/{name}" for name in PYODIDE_FILES]
    urls += [config["micropip"], *config["libraries"], config["wheel"]]
    if "model" in site.mounts:
        urls += [MODEL_URL + p.name for p in sorted(site.mounts["model"].iterdir()) if p.is_file()]
    files = {url: site.locate("/" + url) for url in urls}  # the server's own rules find each file
    missing = [url for url, path in files.items() if path is None or not path.is_file()]
    if missing:
        raise BuildError(f"files the page loads are missing: {', '.join(missing)} (`make setup` installs them)")
    # web/'s files that /static/ serves: locate keeps the scripts, styles and images only
    static = {f"static/{p.name}": site.locate(f"/static/{p.name}") for p in sorted(WEB.iterdir())}
    return files | {url: path for url, path in static.items() if path is not None and path.is_file()}


def check_out(out: Path, force: bool):
    """Refuse an OUT that a build must not replace."""
    if Path.cwd().resolve().is_relative_to(out.resolve()) or ROOT.is_relative_to(out.resolve()):
        raise BuildError(f"{out} holds the working directory or this checkout: pick another OUT")
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file() and not force:
        raise BuildError(f"{out} is not empty and not a pyapp build: pick another OUT, or --force to replace it")


def write_site(out: Path, site: Site) -> int:
    """Render and copy the site into a fresh folder, then swap it in for OUT; returns the file count."""
    files = site_files(site)
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (fresh / "index.html").write_bytes(site.render_index(base=""))
        for url, source in files.items():
            (fresh / url).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, fresh / url)  # streams: a model's weights never sit in memory
        (fresh / MARKER).write_text(f"pyapp {__version__} static site: `python -m pyapp.build` replaces this folder\n")
        os.chmod(fresh, 0o755)  # mkdtemp makes it private; a web server must read it
        swap_in(fresh, out)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)  # still there only when something failed
    return len(files) + 1


def swap_in(fresh: Path, out: Path):
    """Rename fresh to out; a previous out is moved aside first and deleted after."""
    if not out.is_dir():
        fresh.rename(out)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
    out.rename(aside / out.name)
    try:
        fresh.rename(out)
    except OSError:
        (aside / out.name).rename(out)  # the previous build stays as it was
        raise
    finally:
        shutil.rmtree(aside)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m pyapp.build",
        description="Write the pyapp page as a static site into OUT: index.html (relative URLs: it works under "
                    "any path prefix), Pyodide, the wheels the page installs and, with --model, the model. "
                    "Host OUT with any static file server, e.g. `python -m http.server -d OUT`; browsers give "
                    "WebGPU only to pages from localhost or HTTPS.",
        epilog="The server must send .mjs files as JavaScript and .wasm files as application/wasm "
               "(Python's http.server does). OUT is written whole or not at all.")
    ap.add_argument("out", type=Path, metavar="OUT", help="the folder to write: missing, empty or a previous build")
    model = ap.add_mutually_exclusive_group()
    model.add_argument("--model", type=Path, metavar="PATH.gguf",
                       help="a GGUF to export and include: the page loads it at start")
    model.add_argument("--no-model", action="store_true", help="no model: the page shows its GPU only (the default)")
    ap.add_argument("--force", action="store_true", help="replace OUT even if it holds files of its own (they are deleted)")
    return ap


def model_bundle(gguf: Path) -> Path:
    from .export import ExportError, export

    try:
        return export(gguf)
    except ExportError as e:
        raise BuildError(str(e)) from None


def main(argv=None):
    args = parser().parse_args(argv)
    out = Path(os.path.abspath(args.out))  # "." has no name to rename
    try:
        check_out(out, args.force)
        site = Site()
        if args.model is not None:
            site.mounts["model"] = model_bundle(args.model)
            site.config["model"] = MODEL_URL
        count = write_site(out, site)
    except (BuildError, SetupError) as e:
        sys.exit(f"pyapp.build: {e}")
    except OSError as e:
        sys.exit(f"pyapp.build: writing {args.out} failed: {e.strerror or e}"
                 + (f" ({e.filename})" if e.filename else ""))
    print(f"pyapp: wrote {count} files to {args.out}; try `python -m http.server -d {args.out}` "
          "and open http://localhost:8000/")


if __name__ == "__main__":
    main()
