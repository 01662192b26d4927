"""The package's rooms import downwards only, and no module imports itself round a cycle.

Imports are read from the source (lazy imports inside functions count; ``if TYPE_CHECKING:``
blocks do not, since they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import hpo

ROOT = Path(hpo.__file__).parent

#: room -> the rooms it must never import (the arrows of ../shared/GUIDE.md, read upwards)
ABOVE = {
    "hpo.errors": ("hpo.",),
    "hpo.records": ("hpo.model", "hpo.study", "hpo.ablate", "hpo.workers", "hpo.savedmodel", "hpo.report", "hpo.init"),
    "hpo.data": ("hpo.model", "hpo.study", "hpo.ablate", "hpo.workers", "hpo.savedmodel", "hpo.report", "hpo.init"),
    "hpo.config": ("hpo.study", "hpo.ablate", "hpo.workers", "hpo.savedmodel", "hpo.report", "hpo.init"),
    "hpo.model": ("hpo.study", "hpo.ablate", "hpo.workers", "hpo.savedmodel", "hpo.report", "hpo.init"),
    "hpo.workers": ("hpo.study", "hpo.ablate", "hpo.savedmodel", "hpo.report", "hpo.init"),
    "hpo.study": ("hpo.ablate", "hpo.savedmodel", "hpo.report", "hpo.init"),
    "hpo.ablate": ("hpo.savedmodel", "hpo.report", "hpo.init"),
    "hpo.savedmodel": ("hpo.report", "hpo.init"),
    "hpo.report": ("hpo.savedmodel", "hpo.init"),
    "hpo.init": ("hpo.study", "hpo.ablate", "hpo.workers", "hpo.savedmodel", "hpo.report"),
}
TOP = ("hpo.commands", "hpo.api", "hpo.cli")  # only these, and the package's lazy names, import everything


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hpo"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hpo"):
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = _name(path)
        if name in ("hpo", "hpo.__main__"):
            continue  # the package's lazy names (PEP 562) and `python -m hpo`
        graph[name] = {m for m in _runtime_imports(ast.parse(path.read_text())) if m != name}
    return graph


def test_rooms_import_downwards_only() -> None:
    wrong = []
    for module, imports in _graph().items():
        if module.startswith(TOP):
            continue
        room = next((r for r in ABOVE if module == r or module.startswith(r + ".")), None)
        assert room is not None or module in ("hpo.fsutil", "hpo.versions"), f"{module} is in no room"
        for target in imports:
            if room and any(target == up or target.startswith(up.rstrip(".") + ".") for up in ABOVE[room]):
                wrong.append(f"{module} -> {target}")
            if target.startswith(TOP):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def _with_packages(module: str, targets: set[str]) -> set[str]:
    """Importing ``a.b.c`` from outside ``a.b`` also runs ``a.b``'s ``__init__`` first."""
    out = set(targets)
    for target in targets:
        parts = target.split(".")
        for i in range(2, len(parts)):
            package = ".".join(parts[:i])
            if package != module and not module.startswith(package + "."):
                out.add(package)
    return out


def test_no_import_cycle() -> None:
    graph = _graph()
    edges = {m: {t for t in _with_packages(m, ts) if t in graph} for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(edges):
        if module not in state:
            cycle = walk(module)
            assert cycle is None, " -> ".join(cycle)
