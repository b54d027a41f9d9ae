"""Who imports whom among memmatte's own modules, read from the source (no imports run).

Every ``import`` statement counts, including those inside functions: an import deferred to
call time still couples the two modules, and a circle hidden that way is still a circle.
Imports under ``if TYPE_CHECKING:`` do not count (they never run).

``python -m tests.import_graph`` prints the component graph as the Mermaid block that
docs/architecture.md holds; tests/test_architecture.py checks the page against it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "hosts", "training", "benchmarks")

# Modules that load one of ours from its folder rather than by name (no import statement to
# read): Nuke's plugin path holds only hosts/nuke, so the plugin loads the client by path.
LOADED_BY_PATH = {"hosts.nuke.memmatte_nuke.client": "hosts.client"}


@dataclass(frozen=True)
class Import:
    """One import statement: ``source`` imports ``target`` (both dotted module names)."""

    source: str
    target: str
    line: int
    in_function: str | None  # the enclosing function's name, None at module level


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if "build" not in f.relative_to(ROOT).parts[:-1]]


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in source_files()}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, function: str | None) -> Iterator[tuple[ast.AST, str | None]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _walk(other, function)
            continue
        yield child, function
        inner = (
            child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
        )
        yield from _walk(child, inner)


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """The first-party imports of one module, each resolved to the module it loads."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node, function in _walk(tree, None):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from a import b`` loads module a.b when there is one, else a's name b.
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem
                for alias in node.names
            ]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.append(Import(name, target, node.lineno, function))
    return found


def all_imports() -> list[Import]:
    found = modules()
    known = set(found)
    imports = [i for name, path in sorted(found.items()) for i in imports_of(name, path, known)]
    imports += [
        Import(source, target, 1, None)
        for source, target in LOADED_BY_PATH.items()
        if source in known and target in known
    ]
    return imports


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def component(module: str) -> str:
    """The box a module belongs to in the architecture picture.

    core's modules are shown one by one (core.model and any core subpackage as one box);
    a host or a training subpackage is one box; training's own top-level modules are one box.
    """
    parts = module.split(".")
    if module == "core":  # the package only re-exports the session's names
        return "core.session"
    if parts[0] == "benchmarks":
        return "benchmarks"
    if parts[0] == "training" and (len(parts) == 1 or not (ROOT / "training" / parts[1]).is_dir()):
        return "training"
    return ".".join(parts[:2])


def component_edges(imports: list[Import] | None = None) -> set[tuple[str, str]]:
    edges = set()
    for i in imports if imports is not None else all_imports():
        a, b = component(i.source), component(i.target)
        if a != b:
            edges.add((a, b))
    return edges


def components() -> set[str]:
    return {component(name) for name in modules()} - {"hosts"}


def mermaid(nodes: set[str], edges: set[tuple[str, str]]) -> str:
    """A Mermaid flowchart: modules that import nothing of ours and that nothing of ours
    imports (the Nuke and Blender hosts run core in a subprocess) stand alone."""
    linked = {n for edge in edges for n in edge}
    lines = ["graph LR"]
    lines += [f"    {n}" for n in sorted(nodes - linked)]
    lines += [f"    {a} --> {b}" for a, b in sorted(edges)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid(components(), component_edges()))
