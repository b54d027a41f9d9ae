"""The code that runs inside a host application's own Python runs on the oldest Python of the
host versions we support (docs/hosts/nuke.md, docs/hosts/blender.md):

- Nuke 13.x ships Python 3.7, Nuke 14 Python 3.9, Nuke 15 Python 3.10, Nuke 16 Python 3.11:
  ``hosts/nuke`` (the plugin folder) and ``hosts/client`` (which it loads) hold to 3.7.
- Blender 4.2 LTS and later ship Python 3.11: ``hosts/blender`` holds to 3.11 (it carries
  ``hosts/client`` too, which holds to 3.7 already).

Three checks: the grammar (``ast.parse`` with ``feature_version``), the standard library
calls and keywords (``vermin``, a minimum-version checker), and, where an older CPython is
installed (pyenv's, or ``python3.X`` on PATH), the plugin imported and a render job run
end to end under it.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
OLDEST = {"hosts/client": (3, 7), "hosts/nuke": (3, 7), "hosts/blender": (3, 11)}
"""Each package that runs in a host's Python, and the oldest Python it must run on."""
NUKE_PYTHONS = {13: (3, 7), 14: (3, 9), 15: (3, 10), 16: (3, 11)}
"""Nuke major version → its Python (Foundry's release notes; docs/hosts/nuke.md)."""


def _modules(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    return files


def _has_annotations(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            if node.returns or any(a is not None and a.annotation for a in every):
                return True
    return False


def _future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )


@pytest.mark.parametrize("package", sorted(OLDEST))
def test_the_grammar_is_the_oldest_pythons(package):
    version = OLDEST[package]
    for path in _modules(package):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, str(path), feature_version=version)
        if version < (3, 9) and _has_annotations(tree):
            # Python 3.7 evaluates annotations when a def runs, and list[int] fails there;
            # the __future__ import keeps them strings (vermin does not evaluate them).
            assert _future_annotations(tree), f"{path}: add 'from __future__ import annotations'"


def test_nuke_16_is_the_oldest_nuke_on_memmattes_own_python():
    assert min(NUKE_PYTHONS.values()) == OLDEST["hosts/nuke"] == OLDEST["hosts/client"]
    assert NUKE_PYTHONS[16] == OLDEST["hosts/blender"]


@pytest.mark.parametrize("package", sorted(OLDEST))
def test_the_standard_library_use_is_the_oldest_pythons(package):
    """vermin: the oldest Python each module's calls, keyword arguments and syntax need
    (``dataclass(kw_only=True)`` is 3.10, ``str.removeprefix`` 3.9, ``shlex.join`` 3.8...)."""
    target = "{}.{}".format(*OLDEST[package])
    code = "import sys, vermin; sys.argv[0] = 'vermin'; sys.exit(vermin.main())"
    args = ["--no-tips", "--violations", f"--target={target}-", "--no-parse-comments"]
    run = subprocess.run(
        [sys.executable, "-c", code, *args, str(ROOT / package)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _python(minor: int) -> str | None:
    """A CPython 3.<minor> on this machine, pyenv's or on PATH (a pyenv shim on PATH may
    name a version that is not selected, so each candidate is asked for its version)."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = [str(p) for p in sorted(pyenv.glob(f"3.{minor}.*/bin/python3.{minor}"))]
    found.append(shutil.which(f"python3.{minor}"))
    for python in filter(None, found):
        ask = [python, "-c", "import sys; print(sys.version_info[1])"]
        run = subprocess.run(ask, capture_output=True, text=True)
        if run.returncode == 0 and run.stdout.strip() == str(minor):
            return python
    return None


# A processor stand-in: two frames reported finished, a third file half-written, then an
# error event and exit code 3, as core.batch fails mid-shot.
PROCESSOR = textwrap.dedent(
    """
    import json, os, sys, time
    folder = sys.argv[1]
    def say(kind, **fields):
        print(json.dumps(dict(schema=1, event=kind, time=time.time(), **fields)), flush=True)
    say("shot_start", shot="p", total=3, path=folder + "/m.####.exr")
    for frame in (1, 2):
        open(os.path.join(folder, "m.%04d.exr" % frame), "w").write("done")
        say("frame", shot="p", frame=frame, done=frame, total=3)
    open(os.path.join(folder, "m.0003.exr"), "w").write("partial")
    say("error", message="m.0003.exr: disk full", exit_code=3)
    sys.exit(3)
    """
)

# What runs under the old Python: the plugin imported as Nuke imports it (a stand-in
# ``nuke`` module for nuke_ui), every event kind through encode and parse, and one
# RenderJob whose processor fails, leaving only its finished frames.
IN_HOST = textwrap.dedent(
    """
    import dataclasses, json, sys, types
    plugin, folder, processor = sys.argv[1:4]
    sys.path.insert(0, plugin)
    sys.modules["nuke"] = types.ModuleType("nuke")
    import memmatte_nuke, memmatte_nuke.nuke_ui
    from memmatte_nuke import render
    from memmatte_nuke.client import command, events, frames, python, runner
    kinds = []
    for kind, cls in sorted(events.KINDS.items()):
        values = {}
        for f in dataclasses.fields(cls):
            if f.name != "time":
                values[f.name] = {"str": "x", "int": 1, "float": 1.5}.get(f.type, ())
        event = cls(**values, time=2.0)
        assert events.parse(events.encode(event)) == event, kind
        kinds.append(kind)
    argv = render.build_command("py", "/s/p.%04d.exr", 1, 3, "/s/m.####.exr")
    job = render.RenderJob([sys.executable, "-c", processor, folder], folder + "/m.####.exr",
                           range(1, 4), env={})
    result = job.run()
    print(json.dumps({"kinds": kinds, "argv": argv, "status": result.status,
                      "frames": result.frames_done, "error": result.error,
                      "version": list(sys.version_info[:2])}))
    """
)


@pytest.mark.parametrize("minor", [7, 9, 10])
def test_the_nuke_plugin_runs_under_nukes_python(minor, tmp_path):
    python = _python(minor)
    if python is None:
        pytest.skip(f"no Python 3.{minor} here (pyenv install 3.{minor} or python3.{minor})")
    plugin = str(ROOT / "hosts/nuke")
    run = subprocess.run(
        [python, "-I", "-S", "-c", IN_HOST, plugin, str(tmp_path), PROCESSOR],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["version"] == [3, minor]
    assert report["kinds"] == sorted(
        ["shot_start", "resume", "stale_temp", "sanitised", "warning", "note", "compiled",
         "frame", "shot_done", "error", "cancelled", "summary", "openjd"]
    )  # fmt: skip
    assert report["argv"][:4] == ["py", "-m", "core.batch", "/s/p.1-3@@@@.exr"]
    assert report["status"] == "failed" and report["frames"] == [1, 2]
    assert "m.0003.exr: disk full" in report["error"]
    assert sorted(os.listdir(tmp_path)) == ["m.0001.exr", "m.0002.exr"]
