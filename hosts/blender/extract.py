"""Renders a Memmatte node's footage to linear EXR frames, numbered by scene frame.

Run in a background Blender, never inside the artist's session:

    blender -b --factory-startup --python extract.py -- spec.json
    python extract.py spec.json          # a Python with the bpy module

spec.json (written by ``hosts.blender.jobs``)::

    {"kind": "movie" | "sequence" | "clip", "filepath": "...", "colorspace": "sRGB",
     "user": {"frame_start": 1, "frame_offset": 0, "frame_duration": 48, "cyclic": false},
     "frames": [1, 48], "output": "/cache/.shot.incoming/source/frame."}

The footage is rebuilt in an empty scene with the node's own settings and rendered through
the compositor, so the frames are what the artist's compositor shows, in scene-linear
Rec.709 (what the batch processor expects of EXR plates). One ``frame`` event per written
frame (``hosts.client.events``, the records ``core.batch`` prints) reports progress.
"""

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path

import bpy


def _load(name: str, path: Path):
    """A module of the add-on by its path: this script runs outside the add-on's package."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while defining classes
    spec.loader.exec_module(module)
    return module


def _compat():
    return _load("memmatte_blender_compat", Path(__file__).with_name("compat.py"))


def _events():
    """``client/events.py`` of the extension, or ``hosts/client/events.py`` in the source
    tree (``client.py`` in this folder stands for it there); it imports only the standard
    library, so it loads on its own."""
    here = Path(__file__).parent
    bundled = here / "client" / "events.py"
    path = bundled if bundled.is_file() else here.parent / "client" / "events.py"
    return _load("memmatte_blender_events", path)


def _footage_node(tree, spec):
    user = spec["user"]
    if spec["kind"] == "clip":
        clip = bpy.data.movieclips.load(spec["filepath"])
        clip.colorspace_settings.name = spec["colorspace"]
        clip.frame_start = user["frame_start"]
        clip.frame_offset = user["frame_offset"]
        node = tree.nodes.new("CompositorNodeMovieClip")
        node.clip = clip
        return node, tuple(clip.size)
    image = bpy.data.images.load(spec["filepath"], check_existing=False)
    size = tuple(image.size)  # read before the source changes: a sequence reports (0, 0)
    image.source = "SEQUENCE" if spec["kind"] == "sequence" else "MOVIE"
    image.colorspace_settings.name = spec["colorspace"]
    node = tree.nodes.new("CompositorNodeImage")
    node.image = image
    node.frame_start = user["frame_start"]
    node.frame_offset = user["frame_offset"]
    node.frame_duration = user["frame_duration"]
    node.use_cyclic = user["cyclic"]
    node.use_auto_refresh = True
    if spec["kind"] == "movie":
        size = tuple(image.size)
    return node, size


def _reporter(spec):
    events = _events()
    first, last = spec["frames"]

    def report(scene, *_args):
        frame = scene.frame_current
        path = scene.render.frame_path(frame=frame)
        done, total = frame - first + 1, last - first + 1
        print(events.encode(events.Frame(spec["filepath"], frame, done, total, path)), flush=True)

    return report


def main(argv):
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    tree, result = _compat().new_compositor(scene, "Memmatte footage")
    node, (width, height) = _footage_node(tree, spec)
    if width <= 0 or height <= 0:
        raise SystemExit(f"memmatte: cannot read the size of {spec['filepath']}")
    tree.links.new(node.outputs["Image"], result)

    render = scene.render
    render.resolution_x, render.resolution_y = width, height
    render.resolution_percentage = 100
    render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    render.use_compositing = True
    render.use_sequencer = False
    settings = render.image_settings
    settings.file_format = "OPEN_EXR"
    settings.color_mode = "RGB"
    settings.color_depth = "16"
    settings.exr_codec = "ZIP"
    render.use_file_extension = True
    render.filepath = spec["output"] + "####"
    scene.frame_start, scene.frame_end = spec["frames"]
    bpy.app.handlers.render_write.append(_reporter(spec))
    bpy.ops.render.render(animation=True, scene=scene.name)


def _run_as_module(argv) -> None:
    """``main`` in a Python with the bpy module. bpy 4.2's exit handlers crash (they free
    Python classes after the interpreter has gone: SIGSEGV) once a file has been read, which
    would turn a finished extraction into exit code -11; so this process leaves without them,
    with main's own status."""
    status = 0
    try:
        main(argv)
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
        status = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    if bpy.app.binary_path:
        main(argv)  # inside a Blender binary, which exits cleanly
    else:
        _run_as_module(argv)
