"""The layering the code promises (docs/architecture.md), checked on its source: only the
store touches its recorder, nothing is dispatched by module name, no module imports another's
private names, and the modules of `workbench` import one another without a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("workbench", "dashboards", "ingest")


def sources(*packages: str) -> Iterator[tuple[str, ast.Module]]:
    """(module name, syntax tree) of every module of the packages."""
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_only_the_store_touches_its_recorder() -> None:
    reaches = [
        f"{name}:{node.lineno}"
        for name, tree in sources(*PACKAGES)
        if not name.startswith("workbench.store")
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "recorder"
    ]
    assert reaches == []


def _is_import_module(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
        or (isinstance(node.func, ast.Name) and node.func.id == "import_module")
    )


def test_nothing_is_dispatched_by_module_name() -> None:
    """``getattr(importlib.import_module(...), name)`` chooses code by a string; the one
    import by name is of the user's projection modules (WORKBENCH_PROJECTIONS), a plug-in
    point whose modules register themselves."""
    dispatch = [
        f"{name}:{node.lineno}"
        for name, tree in sources(*PACKAGES)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and node.args
        and _is_import_module(node.args[0])
    ]
    assert dispatch == []
    importing = {
        name
        for name, tree in sources(*PACKAGES)
        for node in ast.walk(tree)
        if _is_import_module(node)
    }
    assert importing <= {"workbench.checkpoints"}


def test_no_module_imports_another_modules_private_names() -> None:
    private = [
        f"{name}:{node.lineno} {alias.name} from {node.module}"
        for name, tree in sources(*PACKAGES, "tests", "benchmarks")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__"
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert private == []


def _imports(name: str, tree: ast.Module, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that one imports, at its top or inside a function (an
    import inside a function is still a dependency), outside ``if TYPE_CHECKING:``."""
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return {module for module in found if module in modules and module != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, if it has any (depth-first, colouring)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_modules_of_workbench_import_each_other_without_a_cycle() -> None:
    """A package's ``__init__`` only gathers its modules' names, so importing the package is
    counted as importing the modules it gathers from."""
    trees = dict(sources("workbench"))
    modules = set(trees)
    graph = {name: _imports(name, tree, modules) for name, tree in trees.items()}
    packages = {
        name for name in modules if (ROOT / name.replace(".", "/") / "__init__.py").exists()
    }

    def gathered(target: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if target not in packages:
            return {target}
        inner = graph[target] - seen - {target}
        return set().union(set(), *(gathered(t, seen | {target}) for t in inner))

    resolved = {
        name: set().union(set(), *(gathered(target) for target in targets)) - {name}
        for name, targets in graph.items()
        if name not in packages
    }
    assert _cycle(resolved) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("x = store.recorder.log_id('a')", 1),
        ("x = store.ledger.jobs()", 0),
    ],
)
def test_the_recorder_check_sees_an_attribute_access(source: str, found: int) -> None:
    tree = ast.parse(source)
    hits = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "recorder"]
    assert len(hits) == found
