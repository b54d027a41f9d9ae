"""The extension zip: manifest, contents, and code that works under any package name."""

import ast
import tomllib
import zipfile
from pathlib import Path

import pytest

from hosts.blender import build
from tests.hosts.bare_python import run_bare

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
    for relative, path in build.files().items():
        if not relative.endswith(".py"):
            continue
        tree = ast.parse(path.read_text(), relative)
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


def test_zip_carries_the_host_client_which_imports_without_memmatte(tmp_path):
    path = build.build(tmp_path / "memmatte.zip")
    client = ROOT / "hosts" / "client"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "memmatte")
    modules = {f"client/{p.name}" for p in client.glob("*.py")}
    assert modules <= names and "client/__init__.py" in names
    assert "client.py" not in names  # the source tree's stand-in is replaced by client/
    # A Python with nothing but the standard library (no memmatte, no bpy), as Blender's
    # own is before the add-on is enabled: the add-on's plain modules and its client load.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import memmatte.worker, memmatte.footage; "
        "from memmatte.client import command, events, frames, python, runner; "
        "print(events.__file__)"
    )
    run = run_bare(code, str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "memmatte" / "client" / "events.py")


def test_cli_names_the_zip(tmp_path, capsys):
    build.main(["-o", str(tmp_path / "x.zip")])
    assert (tmp_path / "x.zip").is_file()
    assert "Memmatte 0.1.0 for Blender 4.2.0+" in capsys.readouterr().out


def test_zip_can_carry_the_memmatte_wheel_that_install_uses(tmp_path):
    wheel = tmp_path / "memmatte-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    path = build.build(tmp_path / "memmatte.zip", wheel=wheel)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("wheels/memmatte-0.1.0-py3-none-any.whl") == b"a wheel"
    other = tmp_path / "torch-2.13.0-py3-none-any.whl"
    other.write_bytes(b"")
    with pytest.raises(SystemExit, match="is not a memmatte wheel"):
        build.build(tmp_path / "other.zip", wheel=other)
