"""The dependency rules docs/architecture.md states, checked on the source.

- no import circles among our modules (imports inside functions count);
- core's library modules import no host and no training code; the command-line entries
  named in ALLOWED_ENTRIES are the exceptions;
- the Blender and Nuke adapters import only the standard library, their host's own
  module and the host client: they run inside Blender or Nuke, where neither torch nor
  memmatte is installed, and start ``core.batch`` in memmatte's own Python;
- the picture in docs/architecture.md is the graph the source has.
"""

from __future__ import annotations

import ast
import re
import sys

import pytest

from tests.import_graph import (
    ROOT,
    all_imports,
    component_edges,
    components,
    cycles,
    mermaid,
    modules,
)

# (importing module, imported package prefix, function the import sits in)
ALLOWED_ENTRIES = {
    ("core.batch", "hosts.exr", "main"),
    ("core.weights", "training.teachers", "main"),
}

# What each in-application adapter may import besides the standard library and itself.
IN_APPLICATION = {
    "hosts.blender": {"bpy", "hosts.client"},
    "hosts.nuke": {"nuke", "nukescripts", "memmatte_nuke", "hosts.client"},
    "hosts.client": set(),
}


@pytest.fixture(scope="module")
def imports():
    return all_imports()


def test_no_import_circles(imports):
    edges = {(i.source, i.target) for i in imports}
    found = cycles(edges)
    where = sorted(
        {
            f"{i.source}:{i.line} imports {i.target}"
            for circle in found
            for i in imports
            if i.source in circle and i.target in circle
        }
    )
    assert not found, "import circles:\n" + "\n".join(where)


def test_core_imports_no_host_or_training_code(imports):
    offending = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in imports
        if i.source.split(".")[0] == "core"
        and i.target.split(".")[0] in ("hosts", "training")
        and not any(
            i.source == source and i.target.startswith(prefix) and i.in_function == function
            for source, prefix, function in ALLOWED_ENTRIES
        )
    ]
    assert not offending, "\n".join(offending)


def _absolute_imports(path) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(IN_APPLICATION))
def test_in_application_adapters_import_only_what_the_application_has(package):
    allowed = IN_APPLICATION[package] | {package}
    offending = []
    for name, path in modules().items():
        if name != package and not name.startswith(package + "."):
            continue
        for line, imported in _absolute_imports(path):
            root = imported.split(".")[0]
            if root in sys.stdlib_module_names:
                continue
            if any(imported == a or imported.startswith(a + ".") for a in allowed):
                continue
            offending.append(f"{name}:{line} imports {imported}")
    assert not offending, "\n".join(offending)


def test_the_architecture_picture_is_the_source_graph():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)\n```", page, re.DOTALL)
    assert block, "docs/architecture.md has no mermaid block"
    expected = mermaid(components(), component_edges())
    assert block[1].strip() == expected.strip(), (
        "docs/architecture.md's picture is stale; regenerate it with "
        "`python -m tests.import_graph`:\n" + expected
    )


def test_the_graph_reader_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The circle rule is only as good as the reader: a deferred import must be an edge."""
    from tests import import_graph

    package = tmp_path / "core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from core import b\n")
    (package / "b.py").write_text("from .a import f\n")
    monkeypatch.setattr(import_graph, "ROOT", tmp_path)
    monkeypatch.setattr(import_graph, "PACKAGES", ("core",))
    edges = {(i.source, i.target) for i in import_graph.all_imports()}
    assert edges == {("core.a", "core.b"), ("core.b", "core.a")}
    assert import_graph.cycles(edges) == [["core.a", "core.b"]]
