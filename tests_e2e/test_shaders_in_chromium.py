"""Every shader source compiles in Chromium's own WGSL compiler (Tint), not only in naga.

The host tests and `pyapp.native` compile through wgpu-native's naga, which accepts some WGSL
that Tint rejects (`a && b || c` without parentheses was one): a shader that only the page's
compiler refuses would otherwise surface in whichever browser test first builds it, if any does.
"""

from pathlib import Path

from pyapp.runtime.gpu import shaders

WGSL = Path(__file__).resolve().parent.parent / "wgsl"
FLAVORS = ("single", "subgroup", "workgroup")

COMPILE = """async (sources) => {
  const adapter = await navigator.gpu.requestAdapter();
  const wanted = ["subgroups", "shader-f16", "chromium-experimental-subgroup-matrix"].filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredFeatures: wanted });
  const errors = {}, skipped = [];
  for (const [name, code] of Object.entries(sources)) {
    const needs = { subgroups: "subgroups", f16: "shader-f16", chromium_experimental_subgroup_matrix: "chromium-experimental-subgroup-matrix" };
    if (Object.entries(needs).some(([ext, f]) => new RegExp(`^enable ${ext};`, "m").test(code) && !device.features.has(f))) {
      skipped.push(name);  // the adapter lacks an extension the source enables (SwiftShader: subgroup matrices)
      continue;
    }
    const info = await device.createShaderModule({ code, label: name }).getCompilationInfo();
    const bad = info.messages.filter((m) => m.type === "error");
    if (bad.length) errors[name] = bad.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ");
  }
  device.destroy();
  return { errors, skipped };
}"""


def all_sources() -> dict[str, str]:
    """name -> full source of every kernel, the fused ones once per team flavor and once by tiles
    (in f32, and on subgroup matrices where the adapter has them)."""
    sources = {}
    for path in sorted(WGSL.rglob("*.wgsl")):
        rel = path.relative_to(WGSL)
        if rel.parts[0] == "common":
            continue
        name = str(rel.with_suffix(""))
        text = path.read_text()
        if '"common/team.wgsl"' in text:
            for flavor in FLAVORS:
                sources[f"{name}[{flavor}]"] = shaders.load(name, (("common/team.wgsl", f"common/team_{flavor}.wgsl"),))
        if '"common/fused.wgsl"' in text:  # the GPU prefill's entry points (fused/_fused.py dispatch_tiles)
            for variant in ("tiles", "matrix"):
                sources[f"{name}[{variant}]"] = shaders.load(name, (("common/team.wgsl", "common/team_single.wgsl"),
                                                                    ("common/fused_entry.wgsl", f"common/fused_{variant}.wgsl")))
        else:
            sources[name] = shaders.load(name)
    return sources


def test_every_shader_compiles_in_chromium(app):
    sources = all_sources()
    result = app.page.evaluate(COMPILE, sources)
    assert not result["errors"], "Tint rejects: " + "\n".join(f"{k}: {v}" for k, v in result["errors"].items())
    assert len(result["skipped"]) < len(sources) // 2, f"most shaders went uncompiled: {result['skipped']}"
