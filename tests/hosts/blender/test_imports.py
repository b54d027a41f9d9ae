"""The add-on's modules import each other without a cycle, counting imports inside
functions (which only hide a cycle until the function runs)."""

import ast
from pathlib import Path

from hosts.blender import _MODULES, build

EXTENSION = Path(build.__file__).parent


def _graph() -> dict[str, set[str]]:
    modules = {p.stem for p in EXTENSION.glob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    graph["__init__"] |= set(_MODULES)  # register() imports them by name
    for name in modules:
        tree = ast.parse((EXTENSION / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level != 1:
                continue
            if node.module:
                graph[name].add(node.module.split(".")[0])
            else:  # from . import x: a module, or a name of the package's __init__
                graph[name] |= {a.name if a.name in modules else "__init__" for a in node.names}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for after in sorted(graph.get(name, ())):
            if state.get(after) == 1:
                return [*path[path.index(after) :], after]
            if after not in state and (found := visit(after)):
                return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_the_import_graph_of_the_add_on_is_acyclic():
    graph = _graph()
    assert {"jobs", "nodes", "operators", "group"} <= set(graph)
    assert _cycle(graph) is None, " → ".join(_cycle(graph))
    assert "nodes" not in graph["jobs"] and "nodes" not in graph["operators"]
