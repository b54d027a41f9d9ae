"""The client runs inside Blender's and Nuke's own Python: standard library only."""

import json
import sys
from pathlib import Path

from tests.hosts.bare_python import run_bare

ROOT = Path(__file__).parents[3]
CLIENT = ROOT / "hosts" / "client"


def test_the_client_imports_only_the_standard_library():
    names = [f"hosts.client.{p.stem}" for p in sorted(CLIENT.glob("*.py")) if p.stem != "__init__"]
    assert {"hosts.client.command", "hosts.client.events", "hosts.client.runner"} <= set(names)
    code = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    run = run_bare(code)
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout)
    assert set(names) <= set(loaded)
    ours = [m for m in loaded if m in ("__main__", "hosts") or m.startswith("hosts.client")]
    foreign = [
        m for m in loaded if m not in ours and m.split(".")[0] not in sys.stdlib_module_names
    ]
    assert foreign == []
