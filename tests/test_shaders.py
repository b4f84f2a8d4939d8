"""Shader files: includes resolve, and every op's constants exist as `override`s in its shader."""

from pathlib import Path

import pytest

from pyapp.runtime import shaders

WGSL = Path(__file__).resolve().parent.parent / "wgsl"


def test_includes_resolve_once():
    files = {"a.wgsl": '// #include "c.wgsl"\nfn a() {}', "c.wgsl": "fn c() {}"}
    text = shaders.resolve_includes('// #include "a.wgsl"\n// #include "c.wgsl"\nfn main() {}', files.__getitem__)
    assert text.count("fn c()") == 1 and "fn a()" in text and "fn main()" in text


def test_overrides_are_found():
    assert shaders.overrides("override WG: u32 = 64;\n  override SCALE : f32;\nlet x = 1;") == {"WG", "SCALE"}


@pytest.mark.parametrize("path", sorted(p.relative_to(WGSL) for p in WGSL.rglob("*.wgsl")), ids=str)
def test_every_shader_loads(path):
    if path.parts[0] == "common":
        return
    assert "fn main" in shaders.load(str(path.with_suffix("")))
