"""The picture in docs/hosts/blender.md, made the way the tests make their renders.

    python -m tests.hosts.blender.docs_image -o docs/images/blender_compositor.png \
        [--weights memmatte.safetensors]

A synthetic clip (``training.synthetic``) is written as linear EXR plates; a compositor
reads them, Memmatte computes the matte through the add-on (memmatte's Python = this one),
an Alpha Over puts the node's Image output over a flat colour, and the compositor renders
are read back. One row per frame: footage | Alpha | Foreground over a checkerboard |
Image over a colour (Alpha Over in the compositor).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from core.runtime import DEFAULT_WEIGHTS
from tests.hosts.blender import scenes

SIZE = (256, 144)
BACKGROUND = (0.05, 0.25, 0.6, 1.0)  # scene-linear


def _display(linear: np.ndarray) -> np.ndarray:
    srgb = np.where(
        linear <= 0.0031308, linear * 12.92, 1.055 * np.maximum(linear, 0) ** (1 / 2.4) - 0.055
    )
    return np.clip(srgb, 0, 1)


def _checker(height: int, width: int, cell: int = 12) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.where(((y // cell + x // cell) % 2)[..., None] == 0, 0.6, 0.3).astype(np.float32)


def _plates(folder: Path, frames: int) -> list[Path]:
    from training.synthetic.procedural import PRESETS, generate_clip

    clip = generate_clip(3, frames=frames, size=(SIZE[1], SIZE[0]), config=PRESETS["calm"])
    paths = []
    for i, srgb in enumerate(clip.composite):
        linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
        paths.append(folder / f"plate.{1001 + i}.exr")
        scenes.write_exr(paths[-1], linear.astype(np.float32))
    return paths


def make(output: Path, weights: Path, frames: int = 4, rows: tuple[int, ...] = (1, 4)) -> Path:
    import bpy

    addon_utils = importlib.import_module("addon_utils")  # Blender's, importable after bpy

    work = Path(tempfile.mkdtemp(prefix="memmatte_docs_"))
    plates = _plates(work / "plates", frames)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("hosts.blender", default_set=True)
    prefs = bpy.context.preferences.addons["hosts.blender"].preferences
    prefs.python, prefs.weights, prefs.device = sys.executable, str(weights), "cpu"
    bpy.ops.wm.save_as_mainfile(filepath=str(work / "shot.blend"))
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, frames

    def footage(node):
        image = bpy.data.images.load(str(plates[0]))
        image.source = "SEQUENCE"
        node.image, node.frame_offset, node.frame_duration = image, 1000, frames

    tree, source, node, result = scenes.compositor_with_memmatte(
        bpy, ("CompositorNodeImage", footage), SIZE
    )
    bpy.ops.memmatte.matte_scene()

    over = tree.nodes.new("CompositorNodeAlphaOver")
    over.inputs["Background"].default_value = BACKGROUND
    tree.links.new(node.outputs["Image"], over.inputs["Foreground"])
    outputs = {"footage": source.outputs["Image"], "alpha": node.outputs["Alpha"]}
    outputs |= {"foreground": node.outputs["Foreground"], "over": over.outputs["Image"]}
    renders = {}
    for name, socket in outputs.items():
        tree.links.new(socket, result)
        renders[name] = scenes.render_frames(bpy, work / name, 1, frames)

    height, width = SIZE[1], SIZE[0]
    checker = _checker(height, width)
    sheet = []
    for frame in rows:
        fg = renders["foreground"][frame]
        tiles = [
            _display(renders["footage"][frame][..., :3]),
            np.repeat(renders["alpha"][frame][..., :1], 3, axis=2),
            _display(fg[..., :3] + checker * (1 - fg[..., 3:4])),  # premultiplied "over"
            _display(renders["over"][frame][..., :3]),
        ]
        sheet.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in tiles], axis=1))
    image = (np.concatenate(sheet, axis=0) * 255 + 0.5).astype(np.uint8)
    output.parent.mkdir(parents=True, exist_ok=True)
    buf = oiio.ImageBuf(oiio.ImageSpec(image.shape[1], image.shape[0], 3, "uint8"))
    buf.set_pixels(oiio.ROI.All, image)
    if not buf.write(str(output)):
        raise RuntimeError(f"{output}: {buf.geterror()}")
    return output


def _test_network(folder: Path) -> Path:
    """The tests' ``lite_network`` (random, seed 0) saved as a checkpoint."""
    import torch

    from core.model import MattingNetwork, NetworkConfig
    from core.weights import save_weights
    from tests.conftest import _randomise_batchnorm

    torch.manual_seed(0)
    network = MattingNetwork(NetworkConfig.lite())
    _randomise_batchnorm(network, 0)
    return save_weights(network.eval(), folder / "lite_network.safetensors")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    weights.add_argument(
        "--test-network",
        action="store_true",
        help="the tests' random network: shows the node's wiring, not matte quality",
    )
    args = parser.parse_args(argv)
    if args.test_network:
        args.weights = _test_network(Path(tempfile.mkdtemp(prefix="memmatte_docs_")))
    elif not args.weights.is_file():
        parser.error(f"no weights at {args.weights}; pass --weights or --test-network")
    print(make(args.output, args.weights))


if __name__ == "__main__":
    main()
