"""Bad GGUF files, made from a good tiny one: each ends in one line that names the file, fast.

The faults are written byte by byte here (struct, from the records gguf's own reader finds in the
good file), never through the validator under test.
"""

import os
import random
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_llama
from gguf import GGUFReader

from pyapp.convert import bundles, gguf_check
from pyapp import export

ARRAY, STRING, UINT8, UINT32, FLOAT32 = 9, 8, 0, 4, 6
REQUIRED_KEYS = ["general.architecture", "llama.block_count", "llama.embedding_length", "llama.attention.head_count",
                 "llama.feed_forward_length", "llama.context_length", "llama.attention.layer_norm_rms_epsilon",
                 "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.merges"]


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def string(s: bytes) -> bytes:
    return u64(len(s)) + s


def key_value(key: bytes, value_type: int, value: bytes) -> bytes:
    return string(key) + u32(value_type) + value


def tensor_info(name: str, dims, ggml_type: int, offset: int, name_bytes: bytes | None = None) -> bytes:
    name_bytes = name.encode() if name_bytes is None else name_bytes
    return string(name_bytes) + u32(len(dims)) + b"".join(u64(d) for d in dims) + u32(ggml_type) + u64(offset)


class Parts:
    """A GGUF split into its raw key-value records, tensor infos and data, to be joined again with faults."""

    def __init__(self, path: Path):
        reader = GGUFReader(str(path))
        raw = path.read_bytes()
        self.keys = {name: raw[f.offset:f.offset + sum(int(p.nbytes) for p in f.parts)]
                     for name, f in reader.fields.items() if not name.startswith("GGUF.")}
        self.tensors = [{"name": t.name, "dims": [int(d) for d in t.shape], "ggml_type": int(t.tensor_type),
                         "offset": t.data_offset - reader.data_offset} for t in reader.tensors]
        self.data = raw[reader.data_offset:]

    def join(self, *, magic=b"GGUF", version=3, keys=None, tensors=None, n_keys=None, n_tensors=None,
             alignment=32) -> bytes:
        keys = list(self.keys.values()) if keys is None else keys
        tensors = self.tensors if tensors is None else tensors
        head = (magic + u32(version) + u64(len(tensors) if n_tensors is None else n_tensors)
                + u64(len(keys) if n_keys is None else n_keys)
                + b"".join(keys) + b"".join(tensor_info(**t) for t in tensors))
        return head + bytes(-len(head) % alignment) + self.data

    def without(self, *names) -> list[bytes]:
        return [record for name, record in self.keys.items() if name not in names]

    def with_tensor(self, index: int, **changes) -> list[dict]:
        return [{**t, **changes} if i == index else t for i, t in enumerate(self.tensors)]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return tiny_llama.write(tmp_path_factory.mktemp("good") / "good.gguf", types=tiny_llama.MIXED, seed=3)


@pytest.fixture(scope="module")
def parts(good) -> Parts:
    parts = Parts(good)
    assert parts.join() == good.read_bytes()  # the splitter itself is exact
    return parts


def bad_files(parts: Parts) -> dict[str, tuple[bytes, str]]:
    """{case: (file bytes, a piece of the message it must get)}."""
    p, keys = parts, list(parts.keys.values())
    arch = parts.keys["general.architecture"]
    embd = p.tensors[0]["name"]
    return {
        "wrong magic": (p.join(magic=b"GGUX"), "not a GGUF file (magic b'GGUX')"),
        "version 1": (p.join(version=1), "GGUF version 1 is not supported"),
        "version 99": (p.join(version=99), "GGUF version 99 is not supported"),
        "big-endian": (p.join(version=0x03000000), "big-endian"),
        "key length 2**63": (p.join(keys=[u64(2**63) + arch[8:]] + keys[1:]), "key 0 needs 9223372036854775808 bytes"),
        "string value length 2**63": (p.join(keys=[key_value(b"general.architecture", STRING, u64(2**63) + b"llama")]
                                             + keys[1:]), "needs 9223372036854775808 bytes"),
        "key count 2**32-1": (p.join(n_keys=2**32 - 1), "list of 4294967295 key-value pairs"),
        "tensor count 2**32-1": (p.join(n_tensors=2**32 - 1), "and 4294967295 tensor infos"),
        "array of 2**40 uint8": (p.join(keys=keys + [key_value(b"x.huge", ARRAY, u32(UINT8) + u64(2**40))]),
                                 "the array of 1099511627776 elements in key 15 (x.huge) needs 1099511627776 bytes"),
        "array of 2**40 strings": (p.join(keys=keys + [key_value(b"x.huge", ARRAY, u32(STRING) + u64(2**40))]),
                                   "the array of 1099511627776 strings in key 15 (x.huge)"),
        "array of arrays": (p.join(keys=keys + [key_value(b"x.nested", ARRAY, u32(ARRAY) + u64(1))]),
                            "array of arrays"),
        "value type 13": (p.join(keys=keys + [key_value(b"x.odd", 13, u32(0))]), "value type 13"),
        "key not UTF-8": (p.join(keys=keys + [key_value(b"x.\xff", UINT32, u32(0))]), "is not UTF-8"),
        "key with a newline": (p.join(keys=keys + [key_value(b"x.\n", UINT32, u32(0))]), "not printable"),
        "duplicated key": (p.join(keys=keys + [parts.keys["llama.block_count"]]), "duplicate key 'llama.block_count'"),
        "duplicated tensor name": (p.join(tensors=p.with_tensor(3, name=embd)), f"duplicate tensor name '{embd}'"),
        "5 dimensions": (p.join(tensors=p.with_tensor(0, dims=[64, 48, 1, 1, 1])), "has 5 dimensions"),
        "a zero dimension": (p.join(tensors=p.with_tensor(0, dims=[64, 0])), "a dimension of 0"),
        "ggml type 99": (p.join(tensors=p.with_tensor(0, ggml_type=99)), "ggml type 99"),
        "a partial block": (p.join(tensors=p.with_tensor(0, dims=[48, 64])), "not a multiple of its 32-element block"),
        "data past the end": (p.join(tensors=p.with_tensor(0, offset=len(p.data) - 32)), "'s data needs"),
        "overlapping tensors": (p.join(tensors=p.with_tensor(1, offset=0)), "overlaps"),
        "misaligned offset": (p.join(tensors=p.with_tensor(0, offset=8)), "not a multiple of the alignment 32"),
        "alignment 3": (p.join(keys=keys + [key_value(b"general.alignment", UINT32, u32(3))]),
                        "general.alignment=3 is not a power of two"),
        "alignment as a float": (p.join(keys=keys + [key_value(b"general.alignment", FLOAT32, struct.pack("<f", 32))]),
                                 "general.alignment has value type 6"),
        "block count as a float": (p.join(keys=p.without("llama.block_count") + [
            key_value(b"llama.block_count", FLOAT32, struct.pack("<f", 2))]),
                                   "llama.block_count=2.0 is not a positive integer"),
        "three bytes": (b"GGU", "truncated: the magic needs 4 bytes at offset 0, the file ends at 3"),
        **{f"no {key}": (p.join(keys=p.without(key)), f"missing key {key}") for key in REQUIRED_KEYS},
    }


CASES = ["wrong magic", "version 1", "version 99", "big-endian", "key length 2**63", "string value length 2**63",
         "key count 2**32-1", "tensor count 2**32-1", "array of 2**40 uint8", "array of 2**40 strings",
         "array of arrays", "value type 13", "key not UTF-8", "key with a newline", "duplicated key",
         "duplicated tensor name", "5 dimensions", "a zero dimension", "ggml type 99", "a partial block",
         "data past the end", "overlapping tensors", "misaligned offset", "alignment 3", "alignment as a float",
         "block count as a float", "three bytes"] + [f"no {key}" for key in REQUIRED_KEYS]
MEMORY_CASES = ["key length 2**63", "string value length 2**63", "key count 2**32-1", "tensor count 2**32-1",
                "array of 2**40 uint8", "array of 2**40 strings"]


def assert_refused(path: Path, cache: Path, fragment: str = "") -> str:
    with pytest.raises(export.ExportError) as e:
        export.export(path, cache=cache)
    message = str(e.value)
    assert str(path) in message and "\n" not in message and fragment in message, message
    return message


def test_every_case_is_listed(parts):
    assert sorted(CASES) == sorted(bad_files(parts))


@pytest.mark.parametrize("case", CASES)
def test_bad_file_is_refused_by_name(case, parts, tmp_path):
    data, fragment = bad_files(parts)[case]
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    assert_refused(path, tmp_path / "cache", fragment)
    assert not [p for p in (tmp_path / "cache" / "bundles").glob("*") if p.is_dir()]  # nothing half-written


def test_the_good_file_passes(good):
    gguf_check.check(good)


def test_truncated_anywhere_in_the_header(good, parts, tmp_path):
    data = good.read_bytes()
    header_end = len(data) - len(parts.data)
    path = tmp_path / "cut.gguf"
    for n in range(1, header_end, 3):
        path.write_bytes(data[:n])
        assert "truncated" in assert_refused(path, tmp_path / "cache"), n


def test_truncated_inside_the_tensor_data(good, parts, tmp_path):
    data = good.read_bytes()
    path = tmp_path / "cut.gguf"
    for n in list(range(len(data) - len(parts.data), len(data), 997)) + [len(data) - 1]:
        path.write_bytes(data[:n])
        assert_refused(path, tmp_path / "cache", "truncated: tensor ")


def test_flipped_header_bytes_are_refused_or_harmless(good, parts, tmp_path):
    """A flipped byte may land in a token's text and leave a valid file; nothing else may come out."""
    data, rng = good.read_bytes(), random.Random(1234)
    header_end = len(data) - len(parts.data)
    refused = 0
    for i in range(300):
        flipped = bytearray(data)
        for at in rng.sample(range(header_end), rng.choice([1, 2, 4])):
            flipped[at] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flip{i}.gguf"
        path.write_bytes(flipped)
        try:
            bundle = export.export(path, cache=tmp_path / "cache")
        except export.ExportError as e:
            assert str(path) in str(e) and "\n" not in str(e), str(e)
            refused += 1
        else:
            assert bundles.bundle_problem(bundle, bundles.sha256_file(path), full=True) is None
    assert refused > 200


def test_empty_file_and_directory(tmp_path):
    (tmp_path / "empty.gguf").write_bytes(b"")
    assert_refused(tmp_path / "empty.gguf", tmp_path / "cache", "is empty")
    (tmp_path / "dir.gguf").mkdir()
    assert_refused(tmp_path / "dir.gguf", tmp_path / "cache", "is a directory")
    assert_refused(tmp_path / "nope.gguf", tmp_path / "cache", "no such file")


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run_cli(paths: list[Path], cache: Path, timeout: float = 30) -> list[tuple[subprocess.CompletedProcess, float]]:
    """`python -m pyapp.export --model P` for each path at once, in 1 GB of address space; (result, seconds) each."""
    env = {**os.environ, "PYAPP_CACHE": str(cache), "OPENBLAS_NUM_THREADS": "1"}
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "pyapp.export", "--model", str(p)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_limit_memory)
             for p in paths]
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"{proc.args[-1]}: still running after {timeout} s")
        results.append((subprocess.CompletedProcess(proc.args, proc.returncode, out, err), time.monotonic() - started))
    return results


def assert_cli_refused(result: subprocess.CompletedProcess, path: Path):
    assert result.returncode != 0 and not result.stdout, result
    assert "Traceback" not in result.stderr and result.stderr.startswith("pyapp.export:"), result.stderr
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr, result.stderr


def test_huge_declared_sizes_fail_fast_in_bounded_memory(parts, tmp_path):
    """Today's reader allocates until killed on these; in 1 GB of address space each must fail at once."""
    files = bad_files(parts)
    paths = []
    for i, case in enumerate(MEMORY_CASES):
        paths.append(tmp_path / f"huge{i}.gguf")
        paths[-1].write_bytes(files[case][0])
    for (result, seconds), path in zip(run_cli(paths, tmp_path / "cache"), paths):
        assert_cli_refused(result, path)
        assert seconds < 20


def test_cli_says_one_line_for_a_sample_of_bad_files(good, parts, tmp_path):
    files = bad_files(parts)
    paths = []
    for case in ["wrong magic", "duplicated key", "no llama.block_count", "data past the end", "key not UTF-8"]:
        paths.append(tmp_path / f"{case.replace(' ', '_')}.gguf")
        paths[-1].write_bytes(files[case][0])
    paths.append(tmp_path / "cut.gguf")
    paths[-1].write_bytes(good.read_bytes()[:1000])
    paths.append(tmp_path / "empty.gguf")
    paths[-1].write_bytes(b"")
    paths.append(tmp_path / "a_dir.gguf")
    paths[-1].mkdir()
    paths.append(tmp_path / "fifo.gguf")
    os.mkfifo(paths[-1])  # nobody writes it: opening it to read would block
    for (result, _), path in zip(run_cli(paths, tmp_path / "cache"), paths):
        assert_cli_refused(result, path)
