"""Shader files: includes resolve, and every op's constants exist as `override`s in its shader."""

import re
from pathlib import Path

import pytest

from pyapp.runtime.gpu import shaders

WGSL = Path(__file__).resolve().parent.parent / "wgsl"


def test_includes_resolve_once():
    files = {"a.wgsl": '// #include "c.wgsl"\nfn a() {}', "c.wgsl": "fn c() {}"}
    text = shaders.resolve_includes('// #include "a.wgsl"\n// #include "c.wgsl"\nfn main() {}', files.__getitem__)
    assert text.count("fn c()") == 1 and "fn a()" in text and "fn main()" in text


def test_overrides_are_found():
    assert shaders.overrides("override WG: u32 = 64;\n  override SCALE : f32;\nlet x = 1;") == {"WG", "SCALE"}


TEAMS = [(("common/team.wgsl", f"common/team_{flavor}.wgsl"),) for flavor in ("single", "subgroup", "workgroup")]


@pytest.mark.parametrize("path", sorted(p.relative_to(WGSL) for p in WGSL.rglob("*.wgsl")), ids=str)
def test_every_shader_loads(path):
    if path.parts[0] == "common":
        return
    name = str(path.with_suffix(""))
    if '"common/team.wgsl"' in (WGSL / path).read_text():  # a fused kernel: one source per team flavor
        for aliases in TEAMS:
            text = shaders.load(name, aliases)
            assert "fn main" in text and "fn team_sum" in text
            assert text.startswith("enable subgroups;") == ("subgroup" in aliases[0][1])
    else:
        assert "fn main" in shaders.load(name)


def test_directives_move_to_the_top():
    files = {"a.wgsl": "enable subgroups;\ndiagnostic(off, subgroup_uniformity);\nfn a() {}\n"}
    text = shaders.resolve_includes('override N: u32;\n// #include "a.wgsl"\nfn main() {}', files.__getitem__)
    assert text.splitlines()[:3] == ["enable subgroups;", "diagnostic(off, subgroup_uniformity);", "override N: u32;"]


def op_modules():
    import importlib
    import pkgutil

    import pyapp.runtime.ops as ops_pkg
    for room in pkgutil.iter_modules(ops_pkg.__path__):
        if room.ispkg:
            for info in pkgutil.iter_modules([f"{ops_pkg.__path__[0]}/{room.name}"]):
                if not info.name.startswith("_"):
                    yield importlib.import_module(f"pyapp.runtime.ops.{room.name}.{info.name}")


@pytest.mark.parametrize("module", list(op_modules()), ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_op_module_pairs_with_its_shaders(module):
    """One op = one module + its .wgsl (same name); every constant it passes is an `override`."""
    name = module.__name__.rsplit(".", 1)[1]
    assert name in module.SHADERS or all(k.startswith(name.split("_with")[0]) for k in module.SHADERS)
    for shader, constants in module.SHADERS.items():
        assert (WGSL / f"{shader}.wgsl").is_file(), f"{name}: no wgsl/{shader}.wgsl"
        missing = set(constants) - shaders.overrides(shaders.load(shader, TEAMS[0]))
        assert not missing, f"{shader}.wgsl lacks overrides {missing}"


def test_ops_pass_exactly_the_declared_constants():
    from pyapp.runtime import ops
    from pyapp.runtime.graph.graph import Graph

    g = Graph(None)
    x = g.input("x", (2, 64))
    ops.linear_q4gsw(g, x, g.constant("w", (8, 32), "u8"), g.constant("s", (2, 8)), 32)
    q, k = g.input("q", (1, 1, 2, 8)), g.input("k", (1, 1, 1, 8))
    c = [g.state(n, (1, 4, 1, 8)) for n in ("kc", "vc")]
    ops.sdpa_with_kv_cache(g, q, k, k, *c, g.symint("p"), 1)
    declared = {}
    for m in op_modules():
        declared.update(m.SHADERS)
    for d in g.dispatches:
        assert set(d.constants) == set(declared[d.kernel]), d.label


UNIFORM_BINDING = re.compile(r"@binding\((\d+)\)\s+var<uniform>\s+\w+\s*:\s*([\w<>]+)\s*;")
STRUCT = re.compile(r"struct\s+(\w+)\s*\{([^}]*)\}")


def uniform_layouts(text: str) -> dict[int, list[str] | None]:
    """binding -> the field names of the struct it binds (padding `pad*` left out), or None for vec4<u32>."""
    structs = {name: [line.split(":")[0].strip() for line in re.sub(r"//[^\n]*", "", body).split(",")
                      if ":" in line] for name, body in STRUCT.findall(text)}
    return {int(b): None if t == "vec4<u32>" else [f for f in structs[t] if not f.startswith("pad")]
            for b, t in UNIFORM_BINDING.findall(text)}


def test_uniforms_match_the_wgsl_structs():
    """Every uniform an op binds is what its shader declares there: a graph.uniform's fields, in
    order, are the names of the WGSL struct at that binding; a SymInt is a vec4<u32> (value in .x)."""
    from pyapp.runtime import ops
    from pyapp.runtime.graph.graph import Graph
    from pyapp.runtime.graph.values import SymInt, Uniform

    g = Graph(None)
    x, y = g.input("x", (3, 64)), g.input("y", (3, 64))
    pos, rows = g.symint("pos", 0), g.symint("rows", 3)
    ops.linear_q4gsw(g, x, g.constant("w", (8, 32), "u8"), g.constant("s", (2, 8)), 32)
    ops.linear_q8gaw(g, x, g.constant("w8", (8, 64), "u8"), g.constant("s8", (2, 8)), g.constant("o8", (2, 8)), 32)
    ops.linear_f32(g, x, g.constant("wf", (8, 64)))
    ops.add(g, x, y, rows=rows)
    ops.silu_mul(g, x, y, rows=rows)
    ops.rms_norm(g, x, g.constant("gamma", (64,)), 1e-5, rows=rows)
    ops.embedding(g, g.input("tok", (3,), "i32"), g.constant("table", (10, 64)), "f32", 64, rows=rows)
    t = g.input("t", (3, 2, 8))
    cos, sin = g.constant("cos", (16, 4)), g.constant("sin", (16, 4))
    ops.rope(g, t, cos, sin, pos, rows=rows)
    q, k = g.input("q", (1, 1, 2, 8)), g.input("k", (1, 1, 1, 8))
    ops.sdpa_with_kv_cache(g, q, k, k, *(g.state(n, (1, 4, 1, 8)) for n in ("kc", "vc")), pos, 1)
    checked = set()
    for d in g.dispatches:
        layout = uniform_layouts(d.source)
        first = len(d.writes) + len(d.reads)
        for i, u in enumerate(d.uniforms):
            want = list(u.index) if isinstance(u, Uniform) else None
            assert isinstance(u, (Uniform, SymInt))
            assert layout[first + i] == want, f"{d.label}: binding {first + i} declares {layout[first + i]}, gets {want}"
            checked.add(d.kernel)
    assert {"linear_q4gsw", "linear_q8gaw", "linear_f32", "add", "silu_mul", "rms_norm", "embedding", "rope",
            "update_cache", "sdpa_compute_attn_weights"} <= checked
