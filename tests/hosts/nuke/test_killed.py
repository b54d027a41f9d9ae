"""The gizmo's render child (the real ``python -m core.batch``) killed mid-render, as the
out-of-memory killer or a user would: Nuke shows why, the matte folder holds only complete
frames, and a second render with the gizmo's resume knob finishes the shot.
Part of docs/reliability.md (``python -m tests.reliability.report nuke-killed``)."""

from __future__ import annotations

import os
import signal

import OpenImageIO as oiio

from tests.hosts.nuke.test_render_path import (  # noqa: F401 (fixtures)
    _press,
    _write_plate,
    button_script,
    checkpoint,
    gizmo_text,
    scene,
)

FIRST, LAST = 1, 12


def _complete(path) -> bool:
    image = oiio.ImageBuf(str(path))
    return not image.has_error and image.get_pixels(oiio.FLOAT) is not None


def test_a_killed_render_child_shows_the_error_keeps_complete_frames_and_a_rerun_finishes(
    fake_nuke,
    scene,  # noqa: F811
    tmp_path,
    checkpoint,  # noqa: F811
    button_script,  # noqa: F811
    monkeypatch,
    memmatte_nuke,
):
    from memmatte_nuke import nuke_ui

    plate = _write_plate(tmp_path, FIRST, LAST)
    matte = tmp_path / "out"
    gizmo = scene(plate, FIRST, LAST, weights=checkpoint, matte_file=str(matte / "m.%04d.exr"))
    killed = {}
    set_progress = fake_nuke.ProgressTask.setProgress

    def kill_after_the_first_frame(task, value):
        set_progress(task, value)
        if value > 0 and not killed:
            killed["job"] = nuke_ui._running["Memmatte1"]
            os.kill(killed["job"].process.pid, signal.SIGKILL)

    monkeypatch.setattr(fake_nuke.ProgressTask, "setProgress", kill_after_the_first_frame)
    _press(fake_nuke, gizmo, button_script)
    assert fake_nuke.run_main_thread(timeout=300) == 1
    (message,) = fake_nuke.messages
    assert "killed by SIGKILL" in message and "run it again" in message
    assert gizmo["status"].value().startswith("failed: ")
    assert "killed by SIGKILL" in gizmo["status"].value()
    kept = sorted(os.listdir(matte))
    assert 1 <= len(kept) < LAST
    assert all(name.startswith("m.") and _complete(matte / name) for name in kept), kept

    monkeypatch.setattr(fake_nuke.ProgressTask, "setProgress", set_progress)
    fake_nuke.messages.clear()
    gizmo["resume"]._value = True
    _press(fake_nuke, gizmo, button_script)
    assert fake_nuke.run_main_thread(timeout=300) == 1
    assert fake_nuke.messages == [], gizmo["status"].value()
    assert sorted(os.listdir(matte)) == [f"m.{f:04d}.exr" for f in range(FIRST, LAST + 1)]
    assert all(_complete(matte / f"m.{f:04d}.exr") for f in range(FIRST, LAST + 1))
