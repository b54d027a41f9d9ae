"""The Blender host in real Blender (the bpy 5.0.1 module): the Memmatte node computes a
matte with the batch processor in memmatte's Python, and the compositor's renders carry it.

bpy is imported once for the module; every test starts from factory settings and enables
``hosts.blender`` as an add-on, with memmatte's Python set to this interpreter in its
preferences.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from core.weights import save_weights

bpy = pytest.importorskip("bpy")
import addon_utils  # noqa: E402  (Blender's module, importable once bpy is)

from hosts.blender import compat  # noqa: E402
from tests.hosts.blender import scenes  # noqa: E402

pytestmark = pytest.mark.blender
ADDON = "hosts.blender"
HALF_TOLERANCE = 2e-3  # half floats in [0, 1] are exact to about 5e-4


@pytest.fixture
def weights(tmp_path, lite_network) -> Path:
    return save_weights(lite_network, tmp_path / "tiny.safetensors")


@pytest.fixture
def blend(tmp_path, weights, monkeypatch) -> Path:
    """A saved, empty .blend with the add-on enabled and pointed at this Python."""
    monkeypatch.delenv("MEMMATTE_PYTHON", raising=False)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable(ADDON, default_set=True)
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.python, prefs.weights, prefs.device = sys.executable, str(weights), "cpu"
    path = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    yield path
    # No Memmatte node may outlive its type: Blender 4.2 keeps the evaluated copies of the
    # scene's nodes, which would point at the unregistered type and crash the next file read.
    bpy.ops.wm.read_homefile(use_empty=True)
    addon_utils.disable(ADDON, default_set=True)


def _sequence_footage(paths: list[Path], scene_start: int = 1):
    def setup(node):
        image = bpy.data.images.load(str(paths[0]))
        image.source = "SEQUENCE"
        node.image = image
        node.frame_start = scene_start
        node.frame_offset = int(paths[0].stem.split(".")[-1]) - 1
        node.frame_duration = len(paths)

    return "CompositorNodeImage", setup


class _Layout:
    """Records what a draw function puts in a UI layout (Blender builds none in background)."""

    def __init__(self):
        self.items = []

    def row(self, align=False):
        return self

    def progress(self, factor, type, text):
        self.items.append(("progress", text))

    def operator(self, idname, text=None, icon=None):
        op = types.SimpleNamespace()
        self.items.append(("operator", idname, op))
        return op

    def label(self, text, icon=None):
        self.items.append(("label", text))


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_render_carries_the_session_matte(tmp_path, blend, weights):
    plates = scenes.make_plates(tmp_path / "plates", 3, first=1001)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 3
    scenes.compositor_with_memmatte(bpy, _sequence_footage(plates))

    assert bpy.ops.memmatte.matte_scene() == {"FINISHED"}  # what a farm script runs
    # The saved file, opened again (with the add-on), renders the matte from the cache.
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    tree = compat.compositor_tree(bpy.context.scene)
    node, result = tree.nodes["Memmatte"], compat.compositor_result(tree)

    cache = tmp_path / "memmatte_cache" / "shot_Scene_Memmatte"
    assert _files(cache) == ["matte.1001.exr", "matte.1002.exr", "matte.1003.exr", "memmatte.json"]
    assert not list((tmp_path / "memmatte_cache").glob(".*"))  # no staging left
    image = node.node_tree.nodes["Matte"].image
    assert image.filepath == "//memmatte_cache/shot_Scene_Memmatte/matte.1001.exr"
    assert tuple(node.matte_frames) == (1, 3)

    expected = scenes.reference(plates, weights)
    renders = scenes.render_frames(bpy, tmp_path / "render", 2, 3)
    for frame, pixels in renders.items():
        want = expected[frame - 1]
        plate = scenes.read_pixels(plates[frame - 1])
        np.testing.assert_allclose(pixels[..., 3], want.alpha, atol=HALF_TOLERANCE)
        # Premultiplied (the default): the footage times the matte.
        np.testing.assert_allclose(
            pixels[..., :3], plate * want.alpha[..., None], atol=HALF_TOLERANCE
        )
    assert renders[2][..., 3].std() > 0.01  # a real matte, not a constant

    from hosts.blender.operators import draw_controls

    layout = _Layout()
    draw_controls(layout, node)
    (_, idname, op), label = layout.items
    assert (idname, op.tree, op.node) == (
        "memmatte.compute_matte",
        compat.tree_key(tree),
        node.name,
    )
    assert label == ("label", "Matte: frames 1-3")

    # The Foreground output: memmatte's clean foreground, premultiplied, back in linear.
    tree.links.new(node.outputs["Foreground"], result)
    foreground = scenes.render_frames(bpy, tmp_path / "render_fg", 3, 3)[3]
    want = expected[2]
    np.testing.assert_allclose(foreground[..., 3], want.alpha, atol=HALF_TOLERANCE)
    np.testing.assert_allclose(
        foreground[..., :3],
        scenes.to_linear(want.foreground) * want.alpha[..., None],
        atol=HALF_TOLERANCE,
    )

    # Straight alpha: the footage's colours untouched, the matte in A.
    node.alpha_mode = "STRAIGHT"
    tree.links.new(node.outputs["Image"], result)
    straight = scenes.render_frames(bpy, tmp_path / "render_straight", 2, 2)[2]
    np.testing.assert_allclose(straight[..., :3], scenes.read_pixels(plates[1]), atol=1e-6)
    np.testing.assert_allclose(straight[..., 3], expected[1].alpha, atol=HALF_TOLERANCE)


def _blend_with_matte(folder: Path, name: str, plates: list[Path]) -> Path:
    """A .blend ``folder/name`` whose node (default names) mattes ``plates``, computed."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, len(plates)
    scenes.compositor_with_memmatte(bpy, _sequence_footage(plates))
    path = folder / name
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    assert bpy.ops.memmatte.matte_scene() == {"FINISHED"}
    bpy.ops.wm.save_mainfile()
    return path


def _matte_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("matte.*.exr"))}


def test_two_blends_in_one_folder_keep_their_own_mattes(tmp_path, blend, weights):
    from hosts.blender import check_scene

    a_plates = scenes.make_plates(tmp_path / "a", 3, first=1001)
    b_plates = scenes.make_plates(tmp_path / "b", 3, first=1001, size=(40, 24))
    a = _blend_with_matte(tmp_path, "a.blend", a_plates)
    a_cache = tmp_path / "memmatte_cache" / "a_Scene_Memmatte"
    a_mattes = _matte_files(a_cache)
    b = _blend_with_matte(tmp_path, "b.blend", b_plates)  # same scene and node names
    b_cache = tmp_path / "memmatte_cache" / "b_Scene_Memmatte"
    assert len(_matte_files(b_cache)) == 3
    assert _matte_files(a_cache) == a_mattes  # computing b left a's mattes alone

    bpy.ops.wm.open_mainfile(filepath=str(a))
    check_scene()  # a's cache is a's
    alpha = scenes.render_frames(bpy, tmp_path / "render_a", 2, 2)[2][..., 3]
    np.testing.assert_allclose(
        alpha, scenes.reference(a_plates, weights)[1].alpha, atol=HALF_TOLERANCE
    )
    bpy.ops.wm.open_mainfile(filepath=str(b))
    check_scene()


def test_a_render_from_a_missing_or_stale_cache_fails_loudly(tmp_path, blend):
    from hosts.blender import jobs, operators

    plates = scenes.make_plates(tmp_path / "plates", 3, first=1001)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 3
    _, _, node, _ = scenes.compositor_with_memmatte(bpy, _sequence_footage(plates))

    def refused(expected: str) -> None:
        with pytest.raises(jobs.CacheError, match=re.escape(expected)):
            operators.check_before_render(scene)  # the render_pre handler
        assert expected in node.message  # on the node
        # What a farm task runs before -a: with --python-exit-code 1 this exits 1.
        with pytest.raises(RuntimeError, match=re.escape(expected)):
            bpy.ops.memmatte.check_cache()

    assert operators.check_before_render in bpy.app.handlers.render_pre
    refused("has no matte")
    node.mute = True  # a muted node reads no matte
    operators.check_before_render(scene)
    node.mute = False
    bpy.ops.memmatte.matte_scene()
    operators.check_before_render(scene)
    assert bpy.ops.memmatte.check_cache() == {"FINISHED"}

    cache = tmp_path / "memmatte_cache" / "shot_Scene_Memmatte"
    (cache / "matte.1002.exr").unlink()
    refused("1 matte file(s) missing")
    bpy.ops.memmatte.matte_scene()  # incomplete: computed again
    operators.check_before_render(scene)

    # Other footage under the same names (a new take written over the plates).
    scenes.make_plates(tmp_path / "plates", 3, first=1001, size=(40, 24))
    refused("stale cache")
    (cache / "memmatte.json").unlink()
    refused("no matte cache")


def test_a_complete_cache_is_reused_not_computed_again(tmp_path, blend, weights):
    from hosts.blender import matte_scene

    plates = scenes.make_plates(tmp_path / "plates", 3, first=1001)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 3
    scenes.compositor_with_memmatte(bpy, _sequence_footage(plates))
    matte_scene()
    cache = tmp_path / "memmatte_cache" / "shot_Scene_Memmatte"
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    lines = []
    matte_scene(report=lines.append)  # what every farm task of the .blend runs
    assert lines == ["Memmatte 'Memmatte': the cache is complete, not computed again"]
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps
    # Other settings (here the device) compute it again.
    lines.clear()
    matte_scene(device="auto", report=lines.append)
    assert not any("not computed again" in line for line in lines)
    assert not list((tmp_path / "memmatte_cache").glob(".*"))  # no staging left


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda_is_one_sentence(tmp_path, blend):
    plates = scenes.make_plates(tmp_path / "plates", 2, first=1)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 2
    _, _, node, _ = scenes.compositor_with_memmatte(bpy, _sequence_footage(plates))
    bpy.context.preferences.addons[ADDON].preferences.device = "cuda"  # the Device setting
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.memmatte.matte_scene()
    expected = "Matting failed: --device cuda: this torch"
    assert expected in str(caught.value) and "Traceback" not in str(caught.value)
    assert node.message.startswith(expected) and "--device cpu or auto" in node.message


def test_movie_clip_is_rendered_then_matted(tmp_path, blend, weights):
    """A Movie Clip node's footage goes through a background Blender to EXR frames numbered
    by scene frame; the matte of scene frame f is the session's matte of what the clip
    shows at f."""
    pngs = tmp_path / "png"
    for i, plate in enumerate(scenes.make_plates(tmp_path / "exr", 5, first=1)):
        srgb = np.clip(scenes.read_pixels(plate), 0, 1) ** (1 / 2.2)
        buf = scenes.oiio.ImageBuf(scenes.oiio.ImageSpec(*scenes.SIZE, 3, "uint8"))
        buf.set_pixels(scenes.oiio.ROI.All, srgb.astype(np.float32))
        pngs.mkdir(exist_ok=True)
        buf.write(str(pngs / f"p.{i + 1:04d}.png"))
    movie = tmp_path / "take.mkv"
    _encode_movie(pngs / "p.0001.png", 5, movie)

    scene = bpy.context.scene

    def setup(node):
        clip = bpy.data.movieclips.load(str(movie))
        clip.frame_start = 3  # scene frame 3 shows the movie's first frame
        node.clip = clip

    tree, source, node, result = scenes.compositor_with_memmatte(
        bpy, ("CompositorNodeMovieClip", setup)
    )
    scene.frame_start, scene.frame_end = 1, 5
    bpy.ops.memmatte.matte_scene()
    cache = tmp_path / "memmatte_cache" / "shot_Scene_Memmatte"
    assert _files(cache) == ["matte.0003.exr", "matte.0004.exr", "matte.0005.exr", "memmatte.json"]

    # What the clip shows at scene frames 3-5, as linear EXR: the frames memmatte saw.
    tree.links.new(source.outputs["Image"], result)
    shown = scenes.render_frames(bpy, tmp_path / "clip", 3, 5)
    plates = []
    for frame, pixels in shown.items():
        plates.append(tmp_path / "shown" / f"shown.{frame:04d}.exr")
        scenes.write_exr(plates[-1], pixels[..., :3], "float")
    expected = scenes.reference(plates, weights)

    tree.links.new(node.outputs["Alpha"], result)
    alphas = scenes.render_frames(bpy, tmp_path / "alpha", 4, 5)
    for frame, pixels in alphas.items():
        np.testing.assert_allclose(pixels[..., 0], expected[frame - 3].alpha, atol=HALF_TOLERANCE)


def _encode_movie(first_png: Path, count: int, movie: Path) -> None:
    """An FFV1 movie of a PNG sequence, made by the compositor in a throwaway scene."""
    scene = bpy.data.scenes.new("encode")
    tree, result = compat.new_compositor(scene, "encode")
    image = bpy.data.images.load(str(first_png))
    image.source = "SEQUENCE"
    node = tree.nodes.new("CompositorNodeImage")
    node.image, node.frame_duration = image, count
    tree.links.new(node.outputs["Image"], result)
    render = scene.render
    render.resolution_x, render.resolution_y = scenes.SIZE
    render.resolution_percentage = 100
    if hasattr(render.image_settings, "media_type"):
        render.image_settings.media_type = "VIDEO"
    render.image_settings.file_format = "FFMPEG"
    render.ffmpeg.format, render.ffmpeg.codec = "MKV", "FFV1"
    render.filepath, render.use_file_extension = str(movie), False
    scene.frame_start, scene.frame_end = 1, count
    bpy.ops.render.render(animation=True, scene=scene.name)
    bpy.data.scenes.remove(scene)
    assert movie.is_file()


def test_cancel_kills_the_worker_and_keeps_the_old_matte(tmp_path, blend):
    plates = scenes.make_plates(tmp_path / "plates", 60, first=1)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 60
    _, _, node, _ = scenes.compositor_with_memmatte(bpy, _sequence_footage(plates))
    cache_root = tmp_path / "memmatte_cache"
    previous = cache_root / "shot_Scene_Memmatte" / "matte.0001.exr"
    previous.parent.mkdir(parents=True)
    previous.write_bytes(b"the previous matte")

    from hosts.blender import jobs, operators, preferences

    entry = jobs.start(scene, node, preferences.settings())  # what Compute Matte's invoke does
    deadline = time.monotonic() + 40
    while entry.job.progress().done < 1:  # the processor is writing frames now
        assert not entry.job.progress().finished, entry.job.progress().message
        assert time.monotonic() < deadline, "the worker never wrote a frame"
        time.sleep(0.05)
    pid = entry.job.pid
    assert pid is not None
    assert jobs.running(node) is entry

    # While it runs, the node and the status bar show progress; the node offers Cancel.
    layout = _Layout()
    operators.draw_controls(layout, node)
    (kind, text), (_, idname, op) = layout.items[:2]
    assert kind == "progress" and text.startswith("Matting ") and text.endswith("/60")
    assert (idname, op.node) == ("memmatte.cancel", node.name)
    status = _Layout()
    operators._status_drawer(entry)(types.SimpleNamespace(layout=status), bpy.context)
    assert status.items[0][1].startswith("Memmatte: Matting ")

    # A timer tick while it runs changes nothing; Esc goes to the modal operator's handler.
    operator, reports = _modal_operator(entry)
    assert _event(operator, "TIMER") == {"PASS_THROUGH"}
    state = _event(operator, "ESC")

    assert state == {"CANCELLED"}
    assert reports == [({"INFO"}, "Memmatte: cancelled 'Memmatte'")]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert jobs.running(node) is None
    assert entry.job.progress().state == "cancelled"
    assert _files(cache_root) == ["shot_Scene_Memmatte", "shot_Scene_Memmatte/matte.0001.exr"]
    assert previous.read_bytes() == b"the previous matte"
    assert tuple(node.matte_frames) == (0, -1) and node.message == ""


def _modal_operator(entry):
    """Compute Matte as it is while running modally (Blender cannot deliver events to a
    background session, so the test calls its ``modal`` with the events it handles)."""
    from hosts.blender.operators import MEMMATTE_OT_compute_matte as Operator

    reports = []
    operator = types.SimpleNamespace(_entry=entry, _timer=None)
    operator.report = lambda kinds, text: reports.append((kinds, text))
    operator._end = lambda context: Operator._end(operator, context)
    operator.modal = lambda context, event: Operator.modal(operator, context, event)
    return operator, reports


def _event(operator, kind: str):
    return operator.modal(bpy.context, types.SimpleNamespace(type=kind, value="PRESS"))


def _compute_error(node) -> str:
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.memmatte.compute_matte(tree=compat.tree_key(node.id_data), node=node.name)
    return str(caught.value)


def test_bad_python_settings_give_a_clear_message(tmp_path, blend, monkeypatch):
    plates = scenes.make_plates(tmp_path / "plates", 2, first=1)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 2
    _, _, node, _ = scenes.compositor_with_memmatte(bpy, _sequence_footage(plates))
    prefs = bpy.context.preferences.addons[ADDON].preferences

    prefs.python = ""
    message = _compute_error(node)
    assert "memmatte's Python is not set" in message
    assert "Preferences › Add-ons › Memmatte › Python" in message

    prefs.python = str(tmp_path / "no-such-env" / "bin" / "python")
    assert "does not exist" in _compute_error(node)

    # A Python without memmatte: a bare virtual environment.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    prefs.python = str(bare)
    from hosts.blender import jobs, preferences

    entry = jobs.start(bpy.context.scene, node, preferences.settings())  # as from the button
    operator, reports = _modal_operator(entry)
    deadline = time.monotonic() + 30
    while (state := _event(operator, "TIMER")) == {"PASS_THROUGH"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state == {"CANCELLED"}
    [(kinds, message)] = reports
    assert kinds == {"ERROR"}
    assert node.message == message
    assert f"The Python at {bare / 'bin' / 'python'} cannot run memmatte" in message
    assert "No module named 'core'" in message
    assert "Traceback" not in message and 'File "' not in message
    assert not (tmp_path / "memmatte_cache").exists() or not any(
        (tmp_path / "memmatte_cache").iterdir()
    )


def _check(prefs) -> str:
    """Presses Check in the preferences and runs its timer until the probe has answered
    (timers do not fire in a background Blender)."""
    from hosts.blender import preferences

    assert bpy.ops.memmatte.check_python() == {"FINISHED"}
    assert prefs.status == "Checking…"
    process = preferences._checks["running"]
    process.wait(60)
    assert preferences._finish_check() is None
    return prefs.status


def test_check_button_reports_the_environment(tmp_path, blend):
    prefs = bpy.context.preferences.addons[ADDON].preferences
    status = _check(prefs)
    assert status.startswith(f"OK: Python {sys.version.split()[0]}, torch ")
    assert status.endswith(("CUDA available", "no CUDA, CPU only"))

    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    prefs.python = str(bare)
    assert f"The Python at {bare} cannot run memmatte (No module named 'torch')" in _check(prefs)


def test_unsaved_blend_and_missing_footage_are_explained(tmp_path, blend):
    bpy.ops.wm.read_homefile(use_empty=True)  # a new, unsaved file; the add-on stays on
    _, _, node, _ = scenes.compositor_with_memmatte(bpy, ("CompositorNodeImage", lambda node: None))
    assert "has no image" in _compute_error(node)
    assert "has no image" in node.message  # shown on the node too
    plates = scenes.make_plates(tmp_path / "plates", 2, first=1)
    _sequence_footage(plates)[1](node.id_data.nodes["Image"])
    assert "Save the .blend first" in _compute_error(node)


INSTALL = """
import json, sys
import bpy
result = bpy.ops.extensions.package_install_files(
    filepath=sys.argv[1], repo="user_default", enable_on_install=True
)
scene = bpy.context.scene
if hasattr(scene, "compositing_node_group"):  # Blender 5.x
    tree = bpy.data.node_groups.new("Compositor", "CompositorNodeTree")
    scene.compositing_node_group = tree
else:  # Blender 4.x
    scene.use_nodes = True
    tree = scene.node_tree
node = tree.nodes.new("CompositorNodeMemmatte")
modules = [a.module for a in bpy.context.preferences.addons]
print(json.dumps({
    "result": sorted(result),
    "modules": modules,
    "label": node.bl_label,
    "inputs": [s.name for s in node.inputs],
    "outputs": [s.name for s in node.outputs],
    "operators": [n in dir(bpy.ops.memmatte) for n in ("compute_matte", "matte_scene")],
}))
"""


def test_extension_zip_installs_and_registers_the_node(tmp_path):
    from hosts.blender.build import build

    package = build(tmp_path / "memmatte.zip")
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(INSTALL), str(package)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info["result"] == ["FINISHED"]
    assert "bl_ext.user_default.memmatte" in info["modules"]
    assert info["label"] == "Memmatte"
    assert info["inputs"] == ["Image"]
    assert info["outputs"] == ["Image", "Alpha", "Foreground"]
    assert info["operators"] == [True, True]
    installed = tmp_path / "user" / "extensions" / "user_default" / "memmatte"
    assert (installed / "blender_manifest.toml").is_file()


def test_install_button_makes_memmatte_python_from_a_wheelhouse_then_checks_it(
    tmp_path, blend, monkeypatch
):
    from tests.hosts.client.wheelhouse import fake_wheelhouse, isolate_pip

    monkeypatch.chdir(tmp_path)  # the Check's python -c must not see this checkout's core/
    monkeypatch.delenv("PYTHONPATH", raising=False)
    isolate_pip(monkeypatch)
    prefs = bpy.context.preferences.addons[ADDON].preferences
    venv = tmp_path / "memmatte-venv"
    prefs.python = ""
    prefs.install_folder = str(venv)
    prefs.wheelhouse = str(fake_wheelhouse(tmp_path / "wheelhouse"))
    prefs.install_torch = "cpu"
    assert bpy.ops.memmatte.install() == {"FINISHED"}
    assert prefs.python == str(venv / "bin" / "python")
    assert prefs.status == (
        f"OK: Python {sys.version.split()[0]}, torch 2.99.0+fake, no CUDA, CPU only"
    )
    # A second install into the same folder is refused, and the environment stays.
    with pytest.raises(RuntimeError, match="already exists; choose a new folder"):
        bpy.ops.memmatte.install()
    assert (venv / "bin" / "python").exists()
