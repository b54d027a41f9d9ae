"""The job runner of the Blender host with small stand-in commands (no Blender, no torch):
progress from JSON lines, publishing, failures in one sentence, cancel and clean-up."""

import os
import sys
import time

import pytest

from hosts.blender.worker import (
    MANIFEST,
    PYTHON_ENV,
    MatteJob,
    Stage,
    WorkerError,
    cache_complete,
    explain_failure,
    read_manifest,
    remove_stale_staging,
    resolve_python,
    staging_folder,
)
from hosts.client.events import Error

WRITER = """
import os, sys, time
from hosts.client.events import Frame, encode
n, delay = int(sys.argv[1]), float(sys.argv[2])
os.makedirs("matte", exist_ok=True)
print("some log line")
for f in range(1, n + 1):
    open(f"matte/matte.{f:04d}.exr", "w").write("x")
    print(encode(Frame("shot", f, f, n)), flush=True)
    time.sleep(delay)
"""


def _stage(frames=3, delay=0.0, label="Matting"):
    return Stage(label, (sys.executable, "-c", WRITER, str(frames), str(delay)), frames)


def _job(tmp_path, *stages):
    return MatteJob(list(stages), tmp_path / ".shot.incoming", tmp_path / "shot", python="py")


def test_finished_job_replaces_the_destination_and_removes_staging(tmp_path):
    (tmp_path / "shot").mkdir()
    (tmp_path / "shot" / "stale.exr").write_text("old")
    seen = []
    final = _job(tmp_path, _stage(3)).start().wait(seen.append)
    assert final.state == "done" and (final.done, final.total) == (3, 3)
    assert sorted(os.listdir(tmp_path / "shot")) == [f"matte.{f:04d}.exr" for f in (1, 2, 3)]
    assert sorted(os.listdir(tmp_path)) == ["shot"]
    assert seen[-1].state == "done"


def test_each_stage_counts_the_job_frames_once(tmp_path):
    # Two stages over the same 2 frames: "Reading footage 0/2 .. 2/2", then "Matting 0/2 ..
    # 2/2", never out of 4.
    first = Stage("Reading footage", (sys.executable, "-c", WRITER, "2", "0"), 2, False)
    seen = []
    final = _job(tmp_path, first, _stage(2)).start().wait(seen.append, interval=0.005)
    assert (final.state, final.label, final.done, final.total) == ("done", "Matting", 2, 2)
    assert {p.total for p in seen} == {2}
    assert seen[0].label == "Reading footage" and seen[0].done <= 2


def test_cancel_kills_the_process_and_leaves_nothing(tmp_path):
    job = _job(tmp_path, _stage(1000, 0.05)).start()
    deadline = time.monotonic() + 20
    while job.progress().done < 2:
        assert time.monotonic() < deadline, "the stand-in never reported progress"
        time.sleep(0.02)
    pid = job.pid
    final = job.cancel()
    assert final.state == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert os.listdir(tmp_path) == []


def test_failure_is_one_sentence(tmp_path):
    failing = Stage("Matting", (sys.executable, "-c", "raise ValueError('frame 3: bad pixels')"), 3)
    final = _job(tmp_path, failing).start().wait()
    assert final.state == "failed"
    assert final.message == "Matting failed: ValueError: frame 3: bad pixels"
    assert os.listdir(tmp_path) == []


def test_missing_module_names_the_setting():
    stage = Stage("Matting", ("x",), 1)
    stderr = ["Traceback (most recent call last):", "ModuleNotFoundError: No module named 'core'"]
    message = explain_failure(stage, "/opt/py", 1, stderr, [])
    assert "The Python at /opt/py cannot run memmatte (No module named 'core')" in message
    assert "Preferences › Add-ons › Memmatte › Python" in message
    assert "Traceback" not in message


def test_error_event_wins_over_stderr():
    stage = Stage("Matting", ("x",), 1)
    events = [Error("plate.0003.exr: truncated file", 3)]
    assert explain_failure(stage, "py", 3, ["noise"], events) == (
        "Matting failed: plate.0003.exr: truncated file"
    )


def test_unstartable_command_is_reported(tmp_path):
    stage = Stage("Matting", (str(tmp_path / "nothing" / "python"), "-m", "core.batch"), 1)
    final = _job(tmp_path, stage).start().wait()
    assert final.state == "failed"
    assert final.message.startswith(f"Cannot start {tmp_path / 'nothing' / 'python'}")


def test_resolve_python(tmp_path, monkeypatch):
    monkeypatch.delenv(PYTHON_ENV, raising=False)
    with pytest.raises(WorkerError, match="memmatte's Python is not set"):
        resolve_python("")
    with pytest.raises(WorkerError, match="does not exist"):
        resolve_python(str(tmp_path / "missing"))
    with pytest.raises(WorkerError, match="folder without a Python"):
        resolve_python(str(tmp_path))
    venv_python = tmp_path / "bin" / "python"
    venv_python.parent.mkdir()
    venv_python.write_text("#!/bin/sh\n")
    with pytest.raises(WorkerError, match="not executable"):
        resolve_python(str(venv_python))
    venv_python.chmod(0o755)
    assert resolve_python(str(tmp_path)) == str(venv_python)
    monkeypatch.setenv(PYTHON_ENV, sys.executable)
    assert resolve_python("") == sys.executable
    assert resolve_python(str(venv_python)) == str(venv_python)  # the preference wins


def test_parallel_jobs_of_one_cache_publish_one_complete_matte(tmp_path):
    # Farm tasks of one .blend computing the same matte at once, each in its own staging.
    destination = tmp_path / "shot"
    manifest = {"footage": "f", "files": [f"matte.{f:04d}.exr" for f in (1, 2, 3)]}
    jobs = [
        MatteJob(
            [_stage(3, 0.02)], tmp_path / f".shot.incoming-{i}", destination, manifest=manifest
        )
        for i in range(4)
    ]
    for job in jobs:
        job.start()
    assert [job.wait().state for job in jobs] == ["done"] * 4
    assert cache_complete(destination, manifest)
    assert sorted(os.listdir(destination)) == [*manifest["files"], MANIFEST]
    assert read_manifest(destination) == manifest
    assert sorted(os.listdir(tmp_path)) == ["shot"]  # no staging, no .tmp left


def test_staging_is_per_process_and_only_dead_processes_staging_is_removed(tmp_path):
    destination = tmp_path / "shot"
    mine = staging_folder(destination)
    assert mine.parent == tmp_path and mine.name.endswith(f"-{os.getpid()}")
    dead = mine.with_name(mine.name.rsplit("-", 1)[0] + "-4000000")
    other_machine = tmp_path / ".shot.incoming-otherhost-4000000"
    for folder in (mine, dead, other_machine):
        folder.mkdir()
    remove_stale_staging(destination)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other_machine.name])
