"""init.py and menu.py, run as Nuke runs them at start-up (against the fake ``nuke``)."""

import runpy

from tests.hosts.bare_python import run_bare
from tests.hosts.nuke.conftest import NUKE_DIR


def test_init_puts_the_models_folder_on_the_plugin_path(fake_nuke):
    runpy.run_path(str(NUKE_DIR / "init.py"))
    assert fake_nuke.plugin_paths == [str(NUKE_DIR / "models")]


def test_menu_adds_memmatte_to_the_nodes_toolbar(fake_nuke):
    runpy.run_path(str(NUKE_DIR / "menu.py"))
    ((name, command, _),) = fake_nuke.menus["Nodes"].commands
    assert name == "memmatte/Memmatte"
    created = []
    exec(command, {"nuke": type("N", (), {"createNode": staticmethod(created.append)})})
    assert created == ["Memmatte"]
    assert (NUKE_DIR / f"{created[0]}.gizmo").is_file(), "createNode finds the gizmo by name"


def test_the_plugin_path_carries_the_host_client_without_memmatte_installed():
    """Nuke's Python has only the standard library and the plugin folder: the render path
    and the client it loads from the checkout's hosts/client import there."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from memmatte_nuke import render; "
        "from memmatte_nuke.client import events; "
        "print(events.__file__); "
        "print(render.build_command('py', '/s/p.####.exr', 1, 3, '/s/m.####.exr')[3])"
    )
    run = run_bare(code, str(NUKE_DIR))
    assert run.returncode == 0, run.stderr
    client, batch_input = run.stdout.split()
    assert client == str(NUKE_DIR.parent / "client" / "events.py")
    assert batch_input == "/s/p.1-3@@@@.exr"
