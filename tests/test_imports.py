"""The package's modules import only down the pipeline: no import cycle, at any depth.

Strict: every import of a vqcodec module counts, wherever it stands (top level or inside a
function, relative at any level or absolute), and every edge must name a module that exists."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "vqcodec"


def _module_name(f: Path) -> str:
    parts = f.relative_to(PKG).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Module -> the vqcodec modules it imports (names relative to the package; "" = __init__)."""
    files = {_module_name(f): f for f in PKG.rglob("*.py")}
    out = {}
    for name, f in files.items():
        here = name.split(".") if name else []
        if f.name != "__init__.py":
            here = here[:-1]  # the package a module's relative imports start from
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[: len(here) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module:
                    deps.add(mod)
                for a in node.names:  # `from . import x` imports the module x when there is one
                    sub = f"{mod}.{a.name}" if mod else a.name
                    if sub in files:
                        deps.add(sub)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vqcodec"):
                deps.add(node.module.removeprefix("vqcodec").lstrip("."))
            elif isinstance(node, ast.Import):
                deps |= {a.name.removeprefix("vqcodec").lstrip(".") for a in node.names
                         if a.name.split(".")[0] == "vqcodec"}
        out[name] = deps - {name}
    return out


def test_every_import_names_a_module():
    graph = _graph()
    missing = {(m, d) for m, ds in graph.items() for d in ds if d not in graph}
    assert not missing, f"imports of modules that do not exist: {sorted(missing)}"


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == "done" or m not in graph:
            return
        assert state.get(m) != "open", "import cycle: " + " -> ".join(path[path.index(m):] + [m])
        state[m] = "open"
        for d in sorted(graph[m]):
            visit(d, path + [m])
        state[m] = "done"

    for m in sorted(graph):
        visit(m, [])
