"""The Blender add-on's worker (the real ``python -m core.batch``) killed mid-job, as the
out-of-memory killer or a user would: the job shows why, the cache keeps the matte it held
(complete frames only, nothing of the killed job), and a rerun finishes.
Part of docs/reliability.md (``python -m tests.reliability.report blender-killed``)."""

from __future__ import annotations

import os
import signal
import sys
import time

from hosts.blender.worker import MANIFEST, RESULT, MatteJob, Stage, read_manifest, staging_folder
from hosts.client.command import BatchCommand
from tests.reliability.harness import child_env, make_weights, pixels, write_shot

FRAMES = 8


def _job(plates, destination, weights, manifest) -> MatteJob:
    staging = staging_folder(destination)
    command = BatchCommand(
        inputs=(str(plates / "plate.####.exr"),),
        output=str(staging / RESULT / "matte.####.exr"),
        weights=str(weights),
        device="cpu",
        threads=1,
        log_format="json",
    )
    stage = Stage("Matting", tuple(command.argv(sys.executable)), FRAMES)
    return MatteJob([stage], staging, destination, python=sys.executable, manifest=manifest)


def test_a_killed_worker_fails_the_job_keeps_the_cache_and_a_rerun_finishes(tmp_path, monkeypatch):
    for name, value in child_env().items():
        monkeypatch.setenv(name, value)
    weights = make_weights(tmp_path)
    plates = tmp_path / "plates"
    write_shot(plates, FRAMES, height=144, width=256)
    destination = tmp_path / "cache" / "shot"
    destination.mkdir(parents=True)
    (destination / "matte.0001.exr").write_bytes(b"an earlier job's matte")
    before = sorted(os.listdir(destination))
    manifest = {"footage": str(plates), "files": [f"matte.{f}.exr" for f in range(1001, 1009)]}

    job = _job(plates, destination, weights, manifest).start()
    deadline = time.monotonic() + 120
    while job.progress().done < 2 and not job.progress().finished:
        assert time.monotonic() < deadline, "the worker never reported a frame"
        time.sleep(0.01)
    os.kill(job.pid, signal.SIGKILL)
    final = job.wait()
    assert final.state == "failed"
    assert final.message.startswith("Matting was killed by SIGKILL")
    assert sorted(os.listdir(destination)) == before  # nothing of the killed job
    assert sorted(os.listdir(tmp_path / "cache")) == ["shot"]  # its staging is gone

    final = _job(plates, destination, weights, manifest).start().wait()
    assert final.state == "done", final.message
    assert read_manifest(destination) == manifest
    assert sorted(os.listdir(destination)) == sorted([*manifest["files"], MANIFEST])
    assert all(pixels(destination / name) is not None for name in manifest["files"])
