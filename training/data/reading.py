"""File listing and image decoding shared by the readers.

Everything decoded here is ``uint8`` in RGB order (cv2's BGR is swapped on read), so the
augmentation can warp 8-bit sources and convert to float once, at the output size.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from .errors import DatasetLayoutError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def natural_key(name: str) -> list[int | str]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def _visible(path: Path) -> bool:
    # "._name" files are macOS resource forks shipped inside some archives (AISegment).
    return not path.name.startswith(".")


def list_images(folder: Path, extensions: frozenset[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files directly inside ``folder``, naturally sorted; hidden files are skipped."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and _visible(p) and p.suffix.lower() in extensions
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def list_dirs(folder: Path) -> list[Path]:
    """Sub-folders of ``folder``, naturally sorted; hidden folders are skipped."""
    dirs = [p for p in folder.iterdir() if p.is_dir() and _visible(p)]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def _to_uint8(image: np.ndarray, path: Path) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.float32) + 128.0) / 257.0).astype(np.uint8)
    if image.dtype == np.float32:
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise DatasetLayoutError(f"{path}: unsupported pixel type {image.dtype}")


def _imread(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise DatasetLayoutError(f"{path}: missing or not a readable image")
    return _to_uint8(image, path)


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; grey and RGBA files are converted."""
    return cv2.cvtColor(_imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_gray(path: Path) -> np.ndarray:
    """(H, W) uint8; an RGB file is reduced to luma (alpha mattes saved as RGB JPEGs)."""
    return _imread(path, cv2.IMREAD_GRAYSCALE)


def read_rgba(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb (H, W, 3), alpha (H, W))`` uint8 from a 4-channel file; fails on files without alpha."""
    image = _imread(path, cv2.IMREAD_UNCHANGED)
    if image.ndim != 3 or image.shape[2] != 4:
        channels = 1 if image.ndim == 2 else image.shape[2]
        raise DatasetLayoutError(f"{path}: expected an RGBA image, found {channels} channel(s)")
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB), np.ascontiguousarray(image[..., 3])


def check_same_size(image: np.ndarray, path: Path, reference: np.ndarray, ref_path: Path) -> None:
    """Fails naming both files when two frames that must align differ in size."""
    if image.shape[:2] != reference.shape[:2]:
        raise DatasetLayoutError(
            f"{path}: size {image.shape[1]}x{image.shape[0]} differs from "
            f"{ref_path} ({reference.shape[1]}x{reference.shape[0]})"
        )


def check_one_size(frames: dict[int, np.ndarray], paths: list[Path]) -> None:
    """Fails naming the first odd frame when decoded frames ``{index: image}`` of one clip differ
    in size; ``paths[index]`` is each frame's file."""
    first = min(frames)
    for i, image in frames.items():
        check_same_size(image, paths[i], frames[first], paths[first])
