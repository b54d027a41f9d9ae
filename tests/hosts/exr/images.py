"""Real image files for the processor tests, written and read with OpenImageIO."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import OpenImageIO as oiio


def write_image(
    path: Path,
    pixels: np.ndarray,
    pixel_type: str = "half",
    *,
    channels: tuple[str, ...] | None = None,
    attributes: Mapping[str, object] | None = None,
    origin: tuple[int, int] = (0, 0),
    display: tuple[int, int, int, int] | None = None,
) -> Path:
    """Writes (H, W, C) pixels with OpenImageIO (format from the extension)."""
    height, width, nchannels = pixels.shape
    spec = oiio.ImageSpec(width, height, nchannels, pixel_type)
    if channels:
        spec.channelnames = channels
    spec.x, spec.y = origin
    if display:
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = display
    for name, value in (attributes or {}).items():
        if isinstance(value, tuple) and isinstance(value[0], oiio.TypeDesc):
            spec.attribute(name, value[0], value[1])
        else:
            spec.attribute(name, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), out.geterror()
    assert out.write_image(np.ascontiguousarray(pixels, dtype=np.float32)), out.geterror()
    out.close()
    return path


def plate_frames(count: int, height: int = 32, width: int = 48, seed: int = 0) -> list:
    """Scene-linear frames: a bright blob moving over a darker gradient, values up to ~2."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack([xx / width, yy / height, 0.3 + 0 * xx], -1) * 0.4
    frames = []
    for t in range(count):
        cx, cy = width * (0.3 + 0.04 * t), height * 0.5
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.08 * width * height))
        rgb = background * (1 - blob[..., None]) + blob[..., None] * np.array([1.8, 0.9, 0.6])
        frames.append((rgb + 0.01 * rng.random(rgb.shape)).astype(np.float32))
    return frames


def write_shot(
    folder: Path,
    count: int = 12,
    *,
    name: str = "plate.",
    first: int = 1001,
    ext: str = ".exr",
    pixel_type: str = "half",
    height: int = 32,
    width: int = 48,
    **kwargs,
) -> list[Path]:
    """A sequence ``folder/<name><frame:04d><ext>`` of ``plate_frames``."""
    paths = []
    for i, pixels in enumerate(plate_frames(count, height, width)):
        if ext in (".png", ".jpg", ".dpx", ".tif") and pixel_type in ("uint8", "uint16"):
            pixels = np.clip(pixels, 0, 1)
        path = folder / f"{name}{first + i:04d}{ext}"
        paths.append(write_image(path, pixels, pixel_type, **kwargs))
    return paths


def read_pixels(path: Path) -> tuple[oiio.ImageSpec, np.ndarray]:
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    spec = oiio.ImageSpec(inp.spec())
    pixels = inp.read_image(oiio.FLOAT)
    inp.close()
    return spec, pixels


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name]
