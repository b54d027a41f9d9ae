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
Rec.709 (what the batch processor expects of EXR plates). One JSON line per written frame
reports progress: ``{"event": "frame", "frame": 12}``.
"""

import importlib.util
import json
import sys
from pathlib import Path

import bpy


def _compat():
    spec = importlib.util.spec_from_file_location(
        "memmatte_blender_compat", Path(__file__).with_name("compat.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def _report(scene, *_args):
    print(json.dumps({"event": "frame", "frame": scene.frame_current}), flush=True)


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
    bpy.app.handlers.render_write.append(_report)
    bpy.ops.render.render(animation=True, scene=scene.name)


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:])
