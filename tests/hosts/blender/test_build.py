"""The extension zip: manifest, contents, and code that works under any package name."""

import ast
import tomllib
import zipfile
from pathlib import Path

from hosts.blender import build

EXTENSION = Path(build.__file__).parent
ROOT = EXTENSION.parents[1]


def test_zip_has_the_manifest_and_modules_at_its_root(tmp_path):
    path = build.build(tmp_path / "memmatte.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
    assert {
        "blender_manifest.toml",
        "__init__.py",
        "nodes.py",
        "operators.py",
        "extract.py",
    } <= names
    assert "build.py" not in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert manifest["id"] == "memmatte" and manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0"


def test_manifest_version_is_the_project_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert build.manifest()["version"] == project["version"]


def test_extension_code_imports_only_itself_relatively():
    """Installed, the package is ``bl_ext.<repo>.memmatte``: absolute imports of
    ``hosts``/``core`` would fail, and torch must never load inside Blender."""
    for relative in build.files():
        if relative.suffix != ".py":
            continue
        tree = ast.parse((EXTENSION / relative).read_text(), str(relative))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module.split(".")[0]]
            else:
                continue
            assert not {"hosts", "core", "training", "torch", "numpy"} & set(names), (
                f"{relative}:{node.lineno} imports {names}"
            )


def test_cli_names_the_zip(tmp_path, capsys):
    build.main(["-o", str(tmp_path / "x.zip")])
    assert (tmp_path / "x.zip").is_file()
    assert "Memmatte 0.1.0 for Blender 4.2.0+" in capsys.readouterr().out
