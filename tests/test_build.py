"""`python -m pyapp.build`: the static site's files, its relative URLs, and the OUT folders it
refuses (in one line) or replaces whole."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyapp import build
from pyapp.server.assets import WEB, micropip_wheel, page_wheels, pyodide_dir
from pyapp.build import MARKER, PYODIDE_FILES, main

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests_e2e" / "goldens" / "tiny_mixed.gguf"


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def page_config(folder: Path) -> dict:
    html = (folder / "index.html").read_text()
    return json.loads(re.search(r'<script type="application/json" id="pyapp-config">(.*?)</script>', html, re.S)[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "site"
    main([str(out)])
    return out


def test_the_site_holds_what_the_page_loads_and_nothing_else(site):
    config = page_config(site)
    wheels = {f"wheels/{p.name}" for p in [micropip_wheel(), *page_wheels()]}
    assert files_in(site) == {"index.html", MARKER, *(f"pyodide/{n}" for n in PYODIDE_FILES),
                              "static/boot.js", "static/style.css", "static/screenshot.png",
                              "static/screenshot-narrow.png", *wheels, config["wheel"]}
    for name in PYODIDE_FILES:
        assert (site / "pyodide" / name).read_bytes() == (pyodide_dir() / name).read_bytes()
    assert (site / "static/boot.js").read_bytes() == (WEB / "boot.js").read_bytes()
    assert "model" not in config


def test_every_url_is_relative_and_names_a_file_of_the_site(site):
    config = page_config(site)
    urls = [config["pyodide"] + "pyodide.mjs", config["micropip"], *config["libraries"], config["wheel"]]
    html = (site / "index.html").read_text()
    urls += re.findall(r'(?:href|src)="([^"]+)"', html.split("</head>")[0])
    urls.remove("data:,")  # the empty favicon
    assert sorted(urls) and not [u for u in urls if u.startswith("/") or "://" in u or ".." in u]
    assert all((site / u).is_file() for u in urls), urls
    assert re.fullmatch(r"wheels/[0-9a-f]{16}/pyapp-[\w.]+-py3-none-any\.whl", config["wheel"])


def test_a_model_comes_as_its_bundle_under_a_relative_url(tmp_path):
    from pyapp.export import export

    main([str(tmp_path / "site"), "--model", str(TINY)])
    bundle = export(TINY)
    assert page_config(tmp_path / "site")["model"] == "files/model/"
    for name in ("config.json", "tokenizer.json", "model.safetensors", "manifest.json"):
        assert (tmp_path / "site/files/model" / name).read_bytes() == (bundle / name).read_bytes()


def test_a_previous_build_is_replaced_whole(tmp_path):
    out = tmp_path / "site"
    main([str(out)])
    (out / "stale.txt").write_text("from an older build")
    main([str(out)])
    assert not (out / "stale.txt").exists() and (out / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary folder left beside it


def test_a_failed_build_leaves_the_previous_one(tmp_path, monkeypatch):
    out = tmp_path / "site"
    main([str(out)])
    before = files_in(out)

    def broken_copy(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(build.shutil, "copyfile", broken_copy)
    with pytest.raises(SystemExit, match="pyapp.build: writing .* failed: No space left on device"):
        main([str(out)])
    assert files_in(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_folder_of_other_files_needs_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="is not empty and not a pyapp build: pick another OUT, or --force"):
        main([str(out)])
    assert (out / "notes.txt").read_text() == "keep me"
    main([str(out), "--force"])
    assert not (out / "notes.txt").exists() and (out / MARKER).is_file()


def test_a_missing_file_of_the_page_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "PYODIDE_FILES", (*PYODIDE_FILES, "missing.wasm"))
    with pytest.raises(SystemExit, match=r"^pyapp.build: files the page loads are missing: pyodide/missing.wasm "):
        main([str(tmp_path / "site")])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make_out, message", [
    (lambda tmp: tmp, "holds the working directory or this checkout"),
    (lambda tmp: ROOT, "holds the working directory or this checkout"),
    (lambda tmp: tmp / "file.txt", "exists and is not a directory"),
])
def test_outs_that_a_build_must_not_replace(tmp_path, monkeypatch, make_out, message):
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=message):
        main([str(make_out(tmp_path)), "--force"])
    assert (tmp_path / "file.txt").read_text() == "x"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyapp.build", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args, line", [
    (["OUT", "--model", "missing.gguf"], r"^pyapp\.build: .*missing\.gguf"),
    (["OUT", "--model", "tests_e2e/goldens"], r"^pyapp\.build: .*goldens"),
    (["OUT", "--model", "x.gguf", "--no-model"], r"error: argument --no-model: not allowed with argument --model"),
    ([], r"error: the following arguments are required: OUT"),
])
def test_bad_arguments_end_in_one_line(tmp_path, args, line):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    result = run_cli(*args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert re.search(line, result.stderr.strip().splitlines()[-1]), result.stderr
    assert not (tmp_path / "out").exists()


def test_help_says_how_to_host_the_site():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "http.server" in result.stdout and "--model" in result.stdout and "--force" in result.stdout
