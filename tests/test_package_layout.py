"""The Python package's structure: imports form no cycle (and none hides in a
function to dodge one), and the status codes come from C."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "pywamr"
# Compiled, optional extension modules may be imported on first use.
LAZY_OK = {"pywamr._compiler", "pywamr._native_fast", "pywamr._native_classic",
           "pywamr._fastcall"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def _exists(name: str) -> bool:
    return _is_package(name) or (PACKAGE.parent / (name.replace(".", "/") + ".py")).exists()


def _targets(node: ast.ImportFrom | ast.Import, module: str, is_package: bool) -> set[str]:
    """The pywamr modules an import statement loads."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.startswith("pywamr")}
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    if node.level == 0:
        if not (node.module or "").startswith("pywamr"):
            return set()
        base = ""
    target = ".".join(p for p in (base, node.module or "") if p)
    found = set()
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        found.add(sub if _exists(sub) or sub in LAZY_OK else target)
    return found


def _imports() -> tuple[dict[str, set[str]], list[str]]:
    """Module -> modules it imports at import time; and function-level imports."""
    graph: dict[str, set[str]] = {}
    hidden: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text())
        edges = graph.setdefault(module, set())
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(node, module, is_package)
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        late = _targets(node, module, is_package) - LAZY_OK
                        hidden += [f"{module}.{func.name} imports {t}" for t in sorted(late)]
        edges.discard(module)
    return graph, hidden


def test_no_imports_hidden_in_functions() -> None:
    graph, hidden = _imports()
    assert "pywamr._runtime" in graph and "pywamr._module" in graph["pywamr._runtime"]
    assert not hidden, "imports inside functions (cycle dodges?): " + "; ".join(hidden)


def test_no_import_cycles() -> None:
    graph, _ = _imports()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        assert node not in visiting, "import cycle: " + " -> ".join([*visiting, node])
        if node in done or node not in graph:
            return
        visiting.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
