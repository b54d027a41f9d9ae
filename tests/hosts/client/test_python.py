"""Which interpreter runs memmatte: the setting, the environment, the host's fallback."""

import pytest

from hosts.client.python import PYTHON_ENV, PythonError, check_python, resolve_python


def test_the_setting_wins_then_the_environment_then_the_fallback():
    env = {PYTHON_ENV: "/env/python"}
    assert resolve_python("/set/python", env) == "/set/python"
    assert resolve_python("  ", env, fallback="python3") == "/env/python"
    assert resolve_python("", {}, fallback="python3") == "python3"


def test_nothing_set_and_no_fallback_says_where_to_set_it():
    with pytest.raises(PythonError, match=r"not set: .* in the add-on's preferences \(or set "):
        resolve_python("", {}, where="the add-on's preferences")


def test_a_virtual_environment_folder_stands_for_its_interpreter(tmp_path):
    with pytest.raises(PythonError, match="folder without a Python interpreter"):
        resolve_python(str(tmp_path), {})
    interpreter = tmp_path / "bin" / "python3"
    interpreter.parent.mkdir()
    interpreter.write_text("#!/bin/sh\n")
    assert resolve_python(str(tmp_path), {}) == str(interpreter)
    assert resolve_python("", {PYTHON_ENV: str(tmp_path)}) == str(interpreter)


def test_check_refuses_missing_and_non_executable_paths(tmp_path):
    with pytest.raises(PythonError, match="does not exist"):
        check_python(str(tmp_path / "missing"), "the knob")
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(PythonError, match="not executable; check the knob"):
        check_python(str(script), "the knob")
    script.chmod(0o755)
    assert check_python(str(script)) == str(script)
