"""The bundle cache checks itself: a damaged or half-written bundle is exported again, leftovers of
killed exports go, and two exports of one file at once both get the same whole bundle."""

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_llama
from safetensors.numpy import load_file

from pyapp.convert import bundles
from pyapp import export

FILES = {"model.safetensors", "config.json", "tokenizer.json"}


@pytest.fixture
def gguf(tmp_path) -> Path:
    return tiny_llama.write(tmp_path / "tiny.gguf", types=tiny_llama.MIXED)


def key(gguf: Path) -> str:
    return hashlib.sha256(gguf.read_bytes()).hexdigest()[:16]


def assert_whole(bundle: Path, gguf: Path):
    """Checked here, not by the code under test: every file the manifest lists, its size and sha256."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["format"] == bundles.BUNDLE_FORMAT
    assert manifest["source"]["sha256"] == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert set(manifest["files"]) == FILES and set(os.listdir(bundle)) == FILES | {"manifest.json"}
    for name, entry in manifest["files"].items():
        data = (bundle / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"]), name
    assert load_file(bundle / "model.safetensors")
    assert json.loads((bundle / "config.json").read_text())["source"] == manifest["source"]


def assert_no_leftovers(bundles: Path):
    assert not [p.name for p in bundles.iterdir() if p.is_dir() and "." in p.name]  # <sha16>.tmp-*, .part


def test_export_writes_a_manifest_and_nothing_else(gguf, tmp_path):
    bundle = export.export(gguf, cache=tmp_path / "cache")
    assert bundle == tmp_path / "cache" / "bundles" / key(gguf)
    assert_whole(bundle, gguf)
    assert sorted(os.listdir(bundle.parent)) == [bundle.name, f"{bundle.name}.lock"]


def test_a_whole_bundle_is_reused_untouched(gguf, tmp_path, capfd):
    bundle = export.export(gguf, cache=tmp_path / "cache")
    written = {name: (bundle / name).stat().st_mtime_ns for name in FILES}
    capfd.readouterr()
    assert export.export(gguf, cache=tmp_path / "cache") == bundle
    assert {name: (bundle / name).stat().st_mtime_ns for name in FILES} == written
    assert "fails its check" not in capfd.readouterr().err


def truncate_weights(bundle):
    with (bundle / "model.safetensors").open("r+b") as f:
        f.truncate(f.seek(0, os.SEEK_END) // 2)


def overwrite(bundle, name, at, data):
    with (bundle / name).open("r+b") as f:
        f.seek(at)
        f.write(data)


DAMAGE = {
    "truncated weights": (truncate_weights, "model.safetensors: "),
    "weights header garbled (same size)": (lambda b: overwrite(b, "model.safetensors", 8, b"#"),
                                           "header does not parse"),
    "no tokenizer.json": (lambda b: (b / "tokenizer.json").unlink(), "tokenizer.json: missing"),
    "tokenizer.json edited (same size)": (lambda b: overwrite(b, "tokenizer.json", 2, b"X"),
                                          "tokenizer.json: its sha256"),
    "config.json is {}": (lambda b: (b / "config.json").write_text("{}"), "config.json: "),
    "no manifest": (lambda b: (b / "manifest.json").unlink(), "no manifest.json"),
    "manifest is {}": (lambda b: (b / "manifest.json").write_text("{}"), "manifest.json: KeyError"),
    "manifest is not JSON": (lambda b: (b / "manifest.json").write_text("{"), "manifest.json: JSONDecodeError"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_bundle_is_exported_again(case, gguf, tmp_path, capfd):
    damage, reason = DAMAGE[case]
    bundle = export.export(gguf, cache=tmp_path / "cache")
    weights = (bundle / "model.safetensors").read_bytes()
    damage(bundle)
    capfd.readouterr()
    assert export.export(gguf, cache=tmp_path / "cache") == bundle
    note = capfd.readouterr().err
    assert note.count("\n") == 1 and "fails its check" in note and reason in note, note
    assert_whole(bundle, gguf)
    assert (bundle / "model.safetensors").read_bytes() == weights


def test_a_folder_without_config_does_not_block_the_export(gguf, tmp_path):
    bundle = tmp_path / "cache" / "bundles" / key(gguf)
    bundle.mkdir(parents=True)
    (bundle / "junk").write_text("left by an old exporter")
    assert export.export(gguf, cache=tmp_path / "cache") == bundle
    assert_whole(bundle, gguf)


def test_a_bundle_from_before_manifests_is_exported_again(gguf, tmp_path):
    bundle = tmp_path / "cache" / "bundles" / key(gguf)
    bundle.mkdir(parents=True)
    for name in FILES:
        (bundle / name).write_text("{}")
    assert export.export(gguf, cache=tmp_path / "cache") == bundle
    assert_whole(bundle, gguf)


def test_stale_temporary_folders_are_removed(gguf, tmp_path):
    bundles = tmp_path / "cache" / "bundles"
    stale = [bundles / f"{key(gguf)}.tmp-killed", bundles / f"{key(gguf)}.part", bundles / "0123456789abcdef.tmp-x"]
    for folder in stale:
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"junk")
    bundle = export.export(gguf, cache=tmp_path / "cache")
    assert_whole(bundle, gguf)
    assert not any(folder.exists() for folder in stale)
    assert_no_leftovers(bundles)


def test_a_folder_being_written_is_left_alone(gguf, tmp_path):
    """Another bundle's export is under way (its lock is held): its temporary folder stays."""
    bundles = tmp_path / "cache" / "bundles"
    busy = bundles / "0123456789abcdef.tmp-busy"
    busy.mkdir(parents=True)
    with (bundles / "0123456789abcdef.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        export.export(gguf, cache=tmp_path / "cache")
        assert busy.is_dir()
    export.export(gguf, cache=tmp_path / "cache")
    assert not busy.exists()


EXPORT_AT_THE_SIGNAL = """
import sys, time
from pathlib import Path
from pyapp import export
ready, go = Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.001)
print(export.export(Path(sys.argv[1]), cache=Path(sys.argv[4])))
"""


def test_two_exports_at_once_share_one_bundle(tmp_path):
    gguf = tiny_llama.write(tmp_path / "bigger.gguf", layers=4, dim=128, heads=4, kv=2, ffn=256, vocab=64)
    cache, go = tmp_path / "cache", tmp_path / "go"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", EXPORT_AT_THE_SIGNAL, str(gguf), str(tmp_path / f"ready{i}"),
                               str(go), str(cache)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(2)]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # both have imported everything: they start exporting together
    results = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert results[0][0] == results[1][0] == f"{cache / 'bundles' / key(gguf)}\n"
    assert not results[0][1] and not results[1][1], results
    assert_whole(cache / "bundles" / key(gguf), gguf)
    assert_no_leftovers(cache / "bundles")
