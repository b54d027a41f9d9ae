"""``memmatte_nuke.install()`` with the fake nuke module: the shared installer (tested in
tests/hosts/client/test_install.py) driven by a ProgressTask, ending with the Check."""

from __future__ import annotations

import os
import sys
import time

from tests.hosts.client.wheelhouse import fake_wheelhouse, isolate_pip


def test_install_from_a_wheelhouse_checks_and_sets_memmatte_python(
    tmp_path, fake_nuke, memmatte_nuke, monkeypatch
):
    monkeypatch.delenv("MEMMATTE_PYTHON", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    isolate_pip(monkeypatch)
    venv = tmp_path / "venv"
    installer = memmatte_nuke.install(
        folder=str(venv),
        wheelhouse=str(fake_wheelhouse(tmp_path / "wheels")),
        torch="cpu",
        python=sys.executable,
    )
    assert fake_nuke.run_main_thread(timeout=120) == 1  # the closing message
    python = installer.wait()
    assert python == str(venv / "bin" / "python")
    assert os.environ["MEMMATTE_PYTHON"] == python
    (task,) = fake_nuke.tasks
    assert task.title == "Install memmatte" and task.progress[-1] >= 66
    (message,) = fake_nuke.messages
    assert message.startswith('Memmatte: installed and checked ({"python": ')
    assert f"os.environ['MEMMATTE_PYTHON'] = {python!r}" in message


def test_cancel_from_the_progress_bar_removes_the_venv(tmp_path, fake_nuke, memmatte_nuke):
    slow = tmp_path / "slow-python"
    slow.write_text('#!/bin/sh\nmkdir -p "$3"\nexec sleep 60\n')
    slow.chmod(0o755)
    venv = tmp_path / "venv"
    installer = memmatte_nuke.install(
        folder=str(venv), wheelhouse=str(tmp_path), torch="cpu", python=str(slow)
    )
    while not fake_nuke.tasks:
        time.sleep(0.01)
    fake_nuke.tasks[0].cancel_requested.set()  # the Cancel button
    assert fake_nuke.run_main_thread(timeout=30) == 1
    assert installer.progress().state == "cancelled"
    assert fake_nuke.messages == ["Memmatte install cancelled: cancelled; nothing was installed"]
    assert not venv.exists()
