"""WGSL sources: one file per kernel in wgsl/, shared helpers joined by one explicit include step.

A line `// #include "common/grid.wgsl"` is replaced by that file's text (once per shader); an
op may alias an include to one of several files (the fused kernels' "common/team.wgsl" is a
team flavor). Directives in included files (`enable ...;`, `diagnostic(...);`) move to the top,
where WGSL wants them. Sizes come in as WGSL `override` constants, never by formatting text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

INCLUDE = re.compile(r'^//\s*#include\s+"([^"]+)"\s*$', re.MULTILINE)
OVERRIDE = re.compile(r"override\s+(\w+)\s*:")
DIRECTIVE = re.compile(r"^(enable\s[^;]*;|diagnostic\s*\([^)]*\);)[ \t]*\n", re.MULTILINE)


def shader_dir() -> Path:
    pyapp = Path(__file__).resolve().parents[2]  # pyapp/runtime/gpu/shaders.py
    for candidate in (pyapp / "wgsl", pyapp.parent / "wgsl"):  # wheel, then checkout
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("wgsl/ not found next to pyapp (wheel) or in the checkout")


def resolve_includes(text: str, read, aliases: dict | None = None) -> str:
    seen: set[str] = set()
    aliases = aliases or {}

    def expand(src: str) -> str:
        def one(m):
            name = aliases.get(m.group(1), m.group(1))
            if name in seen:
                return f"// (already included: {name})"
            seen.add(name)
            return expand(read(name))
        return INCLUDE.sub(one, src)

    body = expand(text)
    directives = [m.group(1) for m in DIRECTIVE.finditer(body)]
    return "".join(f"{d}\n" for d in dict.fromkeys(directives)) + DIRECTIVE.sub("", body)


@lru_cache(maxsize=None)
def load(name: str, aliases: tuple[tuple[str, str], ...] = ()) -> str:
    """The full source of wgsl/<name>.wgsl with its includes resolved (aliases: (include, file) pairs)."""
    root = shader_dir()
    path = root / f"{name}.wgsl"
    if not path.is_file():
        raise FileNotFoundError(f"no shader {name!r} in {root}")
    return resolve_includes(path.read_text(), lambda inc: (root / inc).read_text(), dict(aliases))


def overrides(source: str) -> set[str]:
    """The names of a shader's `override` constants."""
    return set(OVERRIDE.findall(source))
