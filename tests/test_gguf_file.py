"""The pure-Python GGUF reader (pyapp/runtime/gguf/reader.py), which the page and the exporter share,
against gguf's own GGUFReader: the type table, every key-value and every tensor info, on SmolLM2's
file and each tiny model."""

from pathlib import Path

import pytest
from gguf import GGUFReader
from gguf.constants import GGML_QUANT_SIZES

from pyapp.export import default_model
from pyapp.convert.gguf_check import check
from pyapp.runtime.gguf.reader import GGML_TYPES

GOLDENS = Path(__file__).resolve().parent.parent / "tests_e2e" / "goldens"


def test_the_type_table_is_ggmls():
    assert GGML_TYPES == {int(t): (t.name, block, size) for t, (block, size) in GGML_QUANT_SIZES.items()}


@pytest.mark.parametrize("name", ["smollm2", "tiny_mixed", "tiny_kquant", "tiny_qwen3"])
def test_the_header_reads_as_ggufs_reader_reads_it(name):
    path = default_model() if name == "smollm2" else GOLDENS / f"{name}.gguf"
    header, reader = check(path), GGUFReader(str(path))
    want = {key: f.contents() for key, f in reader.fields.items() if not key.startswith("GGUF.")}
    assert header.fields == want
    assert [(t.name, t.type, t.shape, t.offset, t.nbytes) for t in header.tensors] == [
        (t.name, t.tensor_type.name, tuple(int(d) for d in reversed(t.shape)), int(t.data_offset), int(t.n_bytes))
        for t in reader.tensors]
    assert header.data_start == reader.data_offset and header.size == path.stat().st_size
