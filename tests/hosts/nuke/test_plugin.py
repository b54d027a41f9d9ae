"""init.py and menu.py, run as Nuke runs them at start-up (against the fake ``nuke``)."""

import runpy

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
