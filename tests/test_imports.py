"""The package's modules import only down the pipeline: no import cycle, at any depth."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "vqcodec"


def _graph() -> dict[str, set[str]]:
    """Module -> the vqcodec modules it imports (relative imports, anywhere in the file)."""
    out = {}
    for f in PKG.rglob("*.py"):
        name = ".".join(f.relative_to(PKG).with_suffix("").parts)
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {a.name for a in node.names}
        out[name] = deps
    return out


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
