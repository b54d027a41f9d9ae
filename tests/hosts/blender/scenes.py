"""Scenes for the Blender host's tests (and the docs picture): generated footage, a
compositor with a Memmatte node, compositor renders read back, and the reference matte
``MattingSession`` gives for the same frames."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from core.session import MattingSession
from hosts.exr import colour
from hosts.exr.io import read_plate

SIZE = (48, 32)  # width, height


def write_exr(path: Path, pixels: np.ndarray, pixel_type: str = "half") -> None:
    height, width, channels = pixels.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), oiio.ImageSpec(width, height, channels, pixel_type))
    out.write_image(np.ascontiguousarray(pixels, dtype=np.float32))
    out.close()


def read_pixels(path: Path) -> np.ndarray:
    buf = oiio.ImageBuf(str(path))
    pixels = buf.get_pixels(oiio.FLOAT)
    assert pixels.size, f"{path}: {buf.geterror()}"
    return pixels


def make_plates(folder: Path, count: int, first: int = 1001, size=SIZE) -> list[Path]:
    """``count`` scene-linear EXR plates ``plate.<first>.exr`` ...: a soft bright blob on a
    darker random background, moving and brightening from frame to frame."""
    width, height = size
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for i in range(count):
        centre = (width * (0.35 + 0.05 * i), height * 0.5)
        blob = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * (height / 5) ** 2))
        background = rng.random((height, width, 3), dtype=np.float32) * 0.4
        srgb = np.clip(background + blob[..., None] * (0.5 + 0.05 * i), 0, 1)
        linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
        path = folder / f"plate.{first + i}.exr"
        write_exr(path, linear.astype(np.float32))
        paths.append(path)
    return paths


def reference(paths: list[Path], weights: Path) -> list:
    """``MattingSession`` results for these plate files, read and colour-converted as the
    batch processor does (linear EXR → sRGB for the network)."""
    frames = []
    for path in paths:
        plate = read_plate(path)
        rgb, _ = colour.sanitise(plate.rgb())
        frames.append(colour.conversion(colour.default_space(plate.spec)).to_network(rgb))
    return list(MattingSession(frames, weights=str(weights), device="cpu"))


def to_linear(srgb: np.ndarray) -> np.ndarray:
    return colour.conversion(colour.linear_space()).to_plate(srgb)


def compositor_with_memmatte(bpy, footage, size=SIZE):
    """The scene's compositor: ``footage`` (an Image or Movie Clip node type and setup
    callback) → Memmatte → the result; returns (tree, footage node, Memmatte node, result)."""
    from hosts.blender import compat

    scene = bpy.context.scene
    tree, result = compat.new_compositor(scene)
    kind, setup = footage
    source = tree.nodes.new(kind)
    setup(source)
    node = tree.nodes.new("CompositorNodeMemmatte")
    tree.links.new(source.outputs["Image"], node.inputs["Image"])
    tree.links.new(node.outputs["Image"], result)
    render = scene.render
    render.resolution_x, render.resolution_y = size
    render.resolution_percentage = 100
    return tree, source, node, result


def render_frames(bpy, folder: Path, first: int, last: int) -> dict[int, np.ndarray]:
    """Renders the compositor for scene frames first..last to float EXR files and reads
    them back: {frame: (H, W, 4) float32}."""
    scene = bpy.context.scene
    settings = scene.render.image_settings
    settings.file_format = "OPEN_EXR"
    settings.color_mode = "RGBA"
    settings.color_depth = "32"
    scene.render.filepath = os.path.join(str(folder), "comp.")
    scene.frame_start, scene.frame_end = first, last
    bpy.ops.render.render(animation=True)
    return {f: read_pixels(Path(scene.render.frame_path(frame=f))) for f in range(first, last + 1)}
