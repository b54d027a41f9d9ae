"""``pip install -e .`` (no extras) is enough for the README's main job, ``python -m
core.batch`` on the sample shot: every package it imports comes with the base dependencies."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = {"opt-einsum"}
"""Imported by torch only when installed (torch's own ``opt-einsum`` extra)."""

RUN = """
import json, sys
from core.batch import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """``names`` and everything they require (without extras), as installed here."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def test_the_main_job_needs_no_extras(tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    allowed = _closure({_name(r) for r in project["dependencies"]}) | OPTIONAL
    args = ["examples/sample_shot/plate.1001-1003#.exr", "-o", f"{tmp_path}/", "--device", "cpu"]
    result = subprocess.run(
        [sys.executable, "-c", RUN, *args, "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0 and len(list(tmp_path.glob("plate.*.exr"))) == 3
    owners = metadata.packages_distributions()
    used = {
        dist.lower().replace("_", "-")
        for module in report["modules"]
        for dist in owners.get(module, [])
    }
    assert used - {"memmatte"} <= allowed, sorted(used - allowed - {"memmatte"})


def test_the_package_metadata_builds_without_deprecation_warnings():
    """setuptools reads pyproject.toml as a build does, and warns about nothing (a licence
    as a TOML table stops building in February 2027): an SPDX licence expression, the
    licence texts that ship with the weights, and the ``memmatte`` console command."""
    import warnings

    from setuptools.config import pyprojecttoml
    from setuptools.dist import Distribution

    dist = Distribution()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pyprojecttoml.apply_configuration(dist, str(ROOT / "pyproject.toml"))
    assert [str(w.message).splitlines()[0] for w in caught] == []
    assert dist.metadata.license_expression == "Apache-2.0"
    assert dist.entry_points["console_scripts"] == ["memmatte = core.batch:main"]
    for text in dist.metadata.license_files:
        assert (ROOT / text).is_file()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert "setuptools>=77" in build["requires"]  # the first to read license-files
