"""The Render matte button end to end: the real ``python -m core.batch`` on a small EXR
sequence, driven through the fake ``nuke`` as Nuke would drive it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.hosts.nuke.conftest import NUKE_DIR
from tests.hosts.nuke.nkscript import parse_gizmo

pytest.importorskip("hosts.exr.processor", reason="the image-sequence processor is not installed")
oiio = pytest.importorskip("OpenImageIO")

FIRST, LAST = 997, 1002  # crosses 999 → 1000 with padding 4
H, W = 32, 48


def _write_plate(folder: Path, first: int, last: int) -> str:
    rng = np.random.default_rng(0)
    base = rng.random((H, W, 3), dtype=np.float32)
    for frame in range(first, last + 1):
        path = str(folder / f"plate.{frame:04d}.exr")
        out = oiio.ImageOutput.create(path)
        assert out.open(path, oiio.ImageSpec(W, H, 3, "half"))
        pixels = np.clip(base + 0.05 * rng.random((H, W, 3), dtype=np.float32), 0, 1)
        assert out.write_image(pixels)
        out.close()
    return str(folder / "plate.####.exr")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from core.model import MattingNetwork, NetworkConfig
    from core.weights import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "lite.safetensors"
    return str(save_weights(MattingNetwork(NetworkConfig.lite()), path))


@pytest.fixture(scope="module")
def gizmo_text():
    return parse_gizmo((NUKE_DIR / "Memmatte.gizmo").read_text())


@pytest.fixture(scope="module")
def button_script(gizmo_text):
    return gizmo_text.user_knob("render_matte").flags["T"]


def _gizmo_knobs(fake_nuke, gizmo, **settings) -> dict:
    """The gizmo's user knobs with their default values (or ``settings``), as Nuke would
    create them: file knobs (type 2) and integer knobs (type 3) as such."""
    knobs = {}
    for knob in gizmo.user_knobs:
        if knob.type in (20, 22):  # tabs and buttons hold no value
            continue
        token = gizmo.knobs.get(knob.name)
        if knob.type == 6:
            value = token is not None and token.text == "true"
        elif knob.type == 3:
            value = int(token.text) if token else 0
        elif knob.type == 4:  # an enumeration's value() is its item's name: the first
            value = token.text if token else knob.flags["M"].split()[0]
        else:
            value = token.text if token else ""
        value = settings.get(knob.name, value)
        kind = {2: fake_nuke.File_Knob, 3: fake_nuke.Int_Knob}.get(knob.type, fake_nuke.Knob)
        knobs[knob.name] = kind(value)
    return knobs


@pytest.fixture
def scene(fake_nuke, gizmo_text):
    """A Read → Dot → Memmatte1 graph; the Memmatte node has exactly the gizmo's knobs."""

    def make(plate: str, first: int, last: int, **settings):
        read = fake_nuke.Read("Read1", plate, first, last)
        dot = fake_nuke.Node("Dot", "Dot1", inputs=[read])
        knobs = _gizmo_knobs(fake_nuke, gizmo_text, **{"python": sys.executable, **settings})
        assert set(settings) <= set(knobs), "a knob the gizmo does not have"
        return fake_nuke.Group("Memmatte", "Memmatte1", knobs, inputs=[dot])

    return make


def _press(fake_nuke, gizmo, script):
    """What Nuke does when the Python button is pressed."""
    fake_nuke.press(gizmo, "render_matte", script, fake_nuke)


def test_render_button_renders_the_read_and_creates_a_read_of_the_matte(
    fake_nuke, scene, tmp_path, checkpoint, button_script
):
    plate = _write_plate(tmp_path, FIRST, LAST)
    gizmo = scene(plate, FIRST, LAST, weights=checkpoint)
    _press(fake_nuke, gizmo, button_script)
    assert gizmo["status"].value() == f"rendering frames {FIRST}-{LAST}"
    assert fake_nuke.run_main_thread(timeout=120) == 1, "one call back on the main thread"

    assert fake_nuke.messages == [], gizmo["status"].value()
    read = fake_nuke.toNode("Memmatte1_matte")
    assert read.Class() == "Read"
    assert read["file"].value() == str(tmp_path / "matte" / "plate.%04d.exr")  # as Nuke says it
    assert (read["first"].value(), read["last"].value()) == (FIRST, LAST)
    assert (read["origfirst"].value(), read["origlast"].value()) == (FIRST, LAST)
    assert read["reload"].executed == 1
    assert gizmo["status"].value().startswith(f"rendered frames {FIRST}-{LAST}")

    written = sorted(os.listdir(tmp_path / "matte"))
    assert written == [f"plate.{f:04d}.exr" for f in range(FIRST, LAST + 1)]
    image = oiio.ImageBuf(str(tmp_path / "matte" / "plate.1000.exr"))
    assert image.spec().channelnames == ("R", "G", "B", "A")
    pixels = image.get_pixels(oiio.FLOAT)
    assert pixels.shape == (H, W, 4)
    assert np.isfinite(pixels).all() and 0 <= pixels[..., 3].min() <= pixels[..., 3].max() <= 1

    (task,) = fake_nuke.tasks
    assert task.title == f"Memmatte Memmatte1: frames {FIRST}-{LAST}"
    assert task.progress[-1] == 100
    assert task.message == f"frame {LAST} (6 of 6)"


def test_a_later_render_updates_the_same_read(fake_nuke, memmatte_nuke):
    from memmatte_nuke import nuke_ui

    gizmo = fake_nuke.Group("Memmatte", "Memmatte1", {"status": ""})
    gizmo.setXYpos(100, 40)
    read = nuke_ui.show_matte(gizmo, "/s/matte/p.####.exr", 1001, 1050)
    assert (read.xpos(), read.ypos()) == (250, 40)
    assert read["file"].value() == "/s/matte/p.%04d.exr"  # Nuke's form of what was set
    # Frames 1051-1100 of the same files: one Read, its range grown to take them in.
    assert nuke_ui.show_matte(gizmo, "/s/matte/p.####.exr", 1051, 1100) is read
    assert (read["first"].value(), read["last"].value()) == (1001, 1100)
    # Other files: the Read now shows those, with their range only.
    assert nuke_ui.show_matte(gizmo, "/s/v2/p.####.exr", 1010, 1020) is read
    assert read["file"].value() == "/s/v2/p.%04d.exr"
    assert (read["first"].value(), read["origlast"].value()) == (1010, 1020)
    assert read["reload"].executed == 3


def test_the_matte_read_goes_beside_a_gizmo_inside_a_group(fake_nuke, memmatte_nuke):
    """In the gizmo's own context (where its button's code runs) ``toNode`` sees the
    gizmo's insides; the Read is made and found in the group that holds the gizmo."""
    from memmatte_nuke import nuke_ui

    with fake_nuke.Group("Group", "Group1") as group:
        gizmo = fake_nuke.Group("Memmatte", "Memmatte1", {"status": ""})
    assert gizmo.fullName() == "Group1.Memmatte1"
    with gizmo:
        read = nuke_ui.show_matte(gizmo, "/s/matte/p.####.exr", 1, 10)
        assert nuke_ui.show_matte(gizmo, "/s/matte/p.####.exr", 11, 20) is read
    assert group.node("Memmatte1_matte") is read and read.fullName() == "Group1.Memmatte1_matte"
    assert fake_nuke.toNode("Memmatte1_matte") is None, "not at the top level"
    assert fake_nuke.toNode("Group1.Memmatte1_matte") is read
    assert (read["first"].value(), read["last"].value()) == (1, 20)


def test_the_fake_answers_as_nuke_does(fake_nuke):
    """The facts of fake_nuke's docstring that the code depends on."""
    read = fake_nuke.Read("Read1", "/s/p.####.exr", 1, 3)
    assert read["file"].value() == "/s/p.%04d.exr" == fake_nuke.filename(read)
    with pytest.raises(NameError):
        read["no_such_knob"]
    assert read.knob("no_such_knob") is None
    assert read["first"].value() == 1
    with pytest.raises(TypeError):
        read["last"].setValue("3")
    with fake_nuke.Group("Group", "Group1"):
        inner = fake_nuke.Read("Read1", "/s/q.#.exr")
        assert fake_nuke.toNode("Read1") is inner and fake_nuke.thisGroup().name() == "Group1"
    assert fake_nuke.toNode("Read1") is read


def test_cancel_kills_the_processor_and_removes_partial_files(
    fake_nuke, scene, tmp_path, checkpoint, button_script, monkeypatch, memmatte_nuke
):
    from memmatte_nuke import nuke_ui

    plate = _write_plate(tmp_path, 1, 40)
    matte = tmp_path / "out"
    matte.mkdir()
    (matte / "notes.txt").write_text("not ours")
    gizmo = scene(plate, 1, 40, weights=checkpoint, matte_file=str(matte / "m.%04d.exr"))
    seen = {}
    set_progress = fake_nuke.ProgressTask.setProgress

    def cancel_after_the_first_frame(task, value):
        set_progress(task, value)
        if value > 0 and not seen:
            seen["job"] = nuke_ui._running["Memmatte1"]
            # What a killed processor can leave behind: its temporary file and a frame it
            # never reported finished.
            (matte / f".m.0030.tmp-{seen['job'].process.pid}.exr").write_bytes(b"partial")
            (matte / "m.0031.exr").write_bytes(b"partial")
            task.cancel_requested.set()  # the progress bar's cancel button

    monkeypatch.setattr(fake_nuke.ProgressTask, "setProgress", cancel_after_the_first_frame)
    _press(fake_nuke, gizmo, button_script)
    assert fake_nuke.run_main_thread(timeout=120) == 1

    job = seen["job"]
    assert job.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(job.process.pid, 0)  # no process of its group is left
    from memmatte_nuke.client.events import Frame

    finished = {f"m.{e.frame:04d}.exr" for e in job.events if isinstance(e, Frame)}
    assert 1 <= len(finished) < 40
    assert set(os.listdir(matte)) == finished | {"notes.txt"}
    assert fake_nuke.toNode("Memmatte1_matte") is None, "no Read for a cancelled render"
    assert fake_nuke.messages == []
    assert gizmo["status"].value().startswith(f"cancelled; {len(finished)} finished frames kept")


def test_failed_render_shows_the_processors_error_and_leaves_nothing(
    fake_nuke, scene, tmp_path, button_script
):
    plate = _write_plate(tmp_path, 1, 3)
    gizmo = scene(plate, 1, 3, weights=str(tmp_path / "missing.safetensors"))
    _press(fake_nuke, gizmo, button_script)
    assert fake_nuke.run_main_thread(timeout=120) == 1
    (message,) = fake_nuke.messages
    assert "missing.safetensors: no such weights file" in message
    assert gizmo["status"].value().startswith("failed: ")
    assert "no such weights file" in gizmo["status"].value()
    assert not (tmp_path / "matte").exists()
    assert fake_nuke.toNode("Memmatte1_matte") is None


def test_missing_interpreter_is_reported(fake_nuke, scene, tmp_path, button_script):
    plate = _write_plate(tmp_path, 1, 1)
    gizmo = scene(plate, 1, 1, python=str(tmp_path / "no-python"))
    _press(fake_nuke, gizmo, button_script)
    assert fake_nuke.run_main_thread(timeout=30) == 1
    (message,) = fake_nuke.messages
    assert f"cannot run {tmp_path / 'no-python'}" in message
    assert "MEMMATTE_PYTHON" in message
    assert not (tmp_path / "matte").exists()


def test_settings_errors_are_shown_before_anything_runs(fake_nuke, scene, tmp_path, button_script):
    gizmo = scene(str(tmp_path / "plate.exr"), 1, 3)
    _press(fake_nuke, gizmo, button_script)
    (message,) = fake_nuke.messages
    assert "no frame number" in message
    gizmo = fake_nuke.Node("Memmatte", "Memmatte2", {"status": ""})
    _press(fake_nuke, gizmo, button_script)
    assert "connect a Read" in fake_nuke.messages[-1]
    assert fake_nuke.tasks == []


def test_the_processor_runs_without_nukes_python_settings(
    fake_nuke, scene, tmp_path, checkpoint, button_script, monkeypatch, memmatte_nuke
):
    from memmatte_nuke import render

    # A studio path on Nuke's PYTHONPATH whose numpy would shadow the venv's.
    studio = tmp_path / "studio"
    (studio / "numpy").mkdir(parents=True)
    (studio / "numpy" / "__init__.py").write_text("raise ImportError('the studio numpy')\n")
    monkeypatch.setenv("PYTHONPATH", str(studio))
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "nuke-python-home"))
    env = render.child_environment()
    assert not {"PYTHONHOME"} & set(env) and str(studio) not in env.get("PYTHONPATH", "")
    assert env["PATH"] == os.environ["PATH"]

    plate = _write_plate(tmp_path, 1, 3)
    gizmo = scene(plate, 1, 3, weights=checkpoint)
    _press(fake_nuke, gizmo, button_script)
    assert fake_nuke.run_main_thread(timeout=120) == 1
    assert fake_nuke.messages == [], gizmo["status"].value()
    assert sorted(os.listdir(tmp_path / "matte")) == [f"plate.{f:04d}.exr" for f in (1, 2, 3)]


def _between(fake_nuke, gizmo, node_class: str, **knobs):
    """Puts a ``node_class`` node between the gizmo's input and the gizmo."""
    node = fake_nuke.Node(node_class, f"{node_class}1", knobs, inputs=[gizmo.input(0)])
    gizmo._inputs[0] = node
    return node


def test_a_node_between_the_read_and_the_gizmo_is_refused(
    fake_nuke, scene, tmp_path, button_script, memmatte_nuke
):
    from memmatte_nuke import nuke_ui

    plate = _write_plate(tmp_path, 1, 3)
    gizmo = scene(plate, 1, 3)
    transform = _between(fake_nuke, gizmo, "Transform", disable=False)
    _press(fake_nuke, gizmo, button_script)
    (message,) = fake_nuke.messages
    assert "Transform1 (Transform) sits between the plate's Read and the gizmo" in message
    assert fake_nuke.tasks == [] and not (tmp_path / "matte").exists()
    transform["disable"]._value = True  # a disabled node passes the plate through
    job, *_ = nuke_ui.prepare(gizmo)
    assert job.command[3].endswith("plate.1-3@@@@.exr")


def test_a_read_that_changes_frame_numbers_is_refused(
    fake_nuke, scene, tmp_path, button_script, memmatte_nuke
):
    from memmatte_nuke import nuke_ui

    plate = _write_plate(tmp_path, 1, 3)
    gizmo = scene(plate, 1, 3)
    read = fake_nuke.toNode("Read1")
    read._knobs["frame_mode"] = fake_nuke.Knob("offset")
    read._knobs["frame"] = fake_nuke.Knob("10")
    _press(fake_nuke, gizmo, button_script)
    (message,) = fake_nuke.messages
    assert "Read1 changes frame numbers (frame: offset 10)" in message
    assert fake_nuke.tasks == []
    read["frame"]._value = ""  # the default: file frame = Nuke frame
    nuke_ui.prepare(gizmo)


@pytest.mark.parametrize(("output", "rgb"), [("foreground", None), ("plate", "plate")])
def test_the_output_knob_chooses_the_rendered_colour(scene, tmp_path, memmatte_nuke, output, rgb):
    """*output* plate (the Memmatte tab): the render path writes plate × matte (--rgb plate),
    as the native path does; foreground (the default) passes nothing."""
    from memmatte_nuke import nuke_ui

    gizmo = scene(_write_plate(tmp_path, 1, 3), 1, 3, output=output)
    job, *_ = nuke_ui.prepare(gizmo)
    found = job.command[job.command.index("--rgb") + 1] if "--rgb" in job.command else None
    assert found == rgb
