"""The one-click install (hosts/client/install.py) against a local wheelhouse of tiny wheels:
no network, a real venv made by this Python, real pip."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hosts.client import install
from hosts.client.install import Installer, InstallError, InstallPlan
from tests.hosts.client.wheelhouse import fake_wheelhouse, isolate_pip


@pytest.fixture
def wheelhouse(tmp_path) -> Path:
    return fake_wheelhouse(tmp_path / "wheelhouse")


@pytest.fixture(autouse=True)
def _hermetic_pip(monkeypatch):
    isolate_pip(monkeypatch)


def test_installs_torch_and_memmatte_from_a_wheelhouse_and_the_probe_passes(tmp_path, wheelhouse):
    venv = tmp_path / "memmatte-venv"
    plan = InstallPlan(str(venv), sys.executable, wheelhouse=str(wheelhouse), torch="cpu")
    seen = []
    installer = Installer(plan)
    plan.check()
    progress = installer.run(on_progress=seen.append)
    assert progress.state == "done", progress.message
    python = install.venv_python(str(venv))
    assert progress.message == python and progress.done == progress.total == 3
    labels = [p.label for p in seen]
    assert labels.index("Making the environment") < labels.index("Installing torch (cpu)")
    assert labels.index("Installing torch (cpu)") < labels.index("Installing memmatte")
    assert any("memmatte" in p.message for p in seen if p.label == "Installing memmatte")
    assert not (venv / install.MARKER).exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run(
        [python, "-c", install.PROBE], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert probe.returncode == 0, probe.stderr
    assert '"torch": "2.99.0+fake"' in probe.stdout


@pytest.mark.slow  # makes a venv (ensurepip: about 10 s)
def test_a_missing_package_fails_in_one_sentence_and_leaves_nothing(tmp_path, wheelhouse):
    (wheelhouse / "torch-2.99.0-py3-none-any.whl").unlink()
    venv = tmp_path / "memmatte-venv"
    plan = InstallPlan(str(venv), sys.executable, wheelhouse=str(wheelhouse), torch="cpu")
    progress = Installer(plan).run()
    assert progress.state == "failed"
    assert progress.message.startswith("Installing torch (cpu) failed: ")
    assert "torch" in progress.message and "Traceback" not in progress.message
    assert not venv.exists()


def test_cancel_stops_the_step_and_leaves_no_half_made_venv(tmp_path, wheelhouse):
    # A "Python" that starts making the venv, then hangs like a slow download.
    slow = tmp_path / "slow-python"
    slow.write_text('#!/bin/sh\nmkdir -p "$3/lib"\ntouch "$3/pyvenv.cfg"\nexec sleep 60\n')
    slow.chmod(0o755)
    venv = tmp_path / "memmatte-venv"
    plan = InstallPlan(str(venv), str(slow), wheelhouse=str(wheelhouse), torch="cpu")
    installer = Installer(plan).start()
    deadline = time.monotonic() + 20
    while not (venv / "pyvenv.cfg").exists():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    start = time.monotonic()
    installer.cancel()
    with pytest.raises(InstallError, match="cancelled"):
        installer.wait(timeout=20)
    assert time.monotonic() - start < 5
    assert installer.progress().state == "cancelled"
    assert not venv.exists()


@pytest.mark.slow  # makes a venv (ensurepip: about 10 s)
def test_a_folder_left_half_made_is_replaced_but_another_folder_is_refused(tmp_path, wheelhouse):
    venv = tmp_path / "memmatte-venv"
    venv.mkdir()
    (venv / "something").write_text("not ours")
    plan = InstallPlan(str(venv), sys.executable, wheelhouse=str(wheelhouse), torch="cpu")
    with pytest.raises(InstallError, match="already exists; choose a new folder"):
        plan.check()
    (venv / install.MARKER).touch()  # an install that a crashed host never finished
    plan.check()
    assert Installer(plan).run().state == "done"
    assert not (venv / "something").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"source": "/nowhere/memmatte.whl"}, "memmatte's source /nowhere/memmatte.whl does not exist"),
     ({"wheelhouse": "/nowhere"}, "the wheelhouse /nowhere is not a folder"),
     ({"wheelhouse": ""}, "choose memmatte's wheel, its checkout folder, or a wheelhouse"),
     ({"python": "/nowhere/python"}, "no Python at '/nowhere/python'"),
     ({"torch": "rocm"}, "torch must be one of auto, cpu, cuda, not 'rocm'")],
)  # fmt: skip
def test_a_plan_that_cannot_work_is_refused_before_anything_runs(
    tmp_path, wheelhouse, changes, message
):
    fields = {"venv": str(tmp_path / "v"), "python": sys.executable, "torch": "cpu"}
    fields.update({"wheelhouse": str(wheelhouse), **changes})
    with pytest.raises(InstallError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Installer(InstallPlan(**fields)).start()
    assert not (tmp_path / "v").exists()


def test_torch_comes_from_the_index_that_matches_the_machine(monkeypatch):
    assert install.torch_index("cpu", "linux") == ["--index-url", install.TORCH_CPU_INDEX]
    assert install.torch_index("cuda", "linux") == []  # PyPI's Linux torch is the CUDA build
    assert install.torch_index("cuda", "win32") == ["--index-url", install.TORCH_CUDA_INDEX]
    assert install.torch_index("cpu", "darwin") == []
    plan = InstallPlan("/v", sys.executable, source="/m.whl")
    monkeypatch.setattr(install, "nvidia_driver_present", lambda: True)
    assert plan.torch_variant() == "cuda"
    monkeypatch.setattr(install, "nvidia_driver_present", lambda: False)
    label, command = plan.steps()[1]
    assert label == "Installing torch (cpu)" and command[-1] == install.TORCH
    if sys.platform != "darwin":
        assert command[-3:-1] == ["--index-url", install.TORCH_CPU_INDEX]
    assert plan.steps()[2][1][-1] == "/m.whl"
