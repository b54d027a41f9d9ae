"""Write generated clips in the VideoMatte240K layout (training) or the evaluation layout.

VideoMatte240K layout, JPEG like the VideoMatte240K JPEG release; each split numbers its clips from
0000 and the backgrounds mirror the clips one to one:

    root/{train,valid}/fgr/<clip>/<frame>.jpg              foreground, RGB
    root/{train,valid}/pha/<clip>/<frame>.jpg              alpha, 8-bit greyscale (or .png)
    <background_root>/{train,valid}/<clip>/<frame>.jpg     background, RGB (default: root + "_bg")

Evaluation layout, lossless 8-bit PNG:

    root/<clip>/com/<frame>.png    composite, alpha F + (1 - alpha) B
    root/<clip>/pha/<frame>.png    alpha, greyscale
    root/<clip>/fgr/<frame>.png    foreground, RGB

Clip and frame names are zero-padded to four digits (0000, 0001, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.synthetic.procedural import Clip, ClipConfig, ClipInfo, generate_clip


@dataclass(frozen=True)
class WrittenClip:
    """Where a clip went: split ("train", "valid", or "" in the evaluation layout) and name."""

    split: str
    name: str
    info: ClipInfo


def write_videomatte(
    root: str | Path,
    clips_or_seeds: Iterable[Clip | int],
    *,
    frames: int = 30,
    size: tuple[int, int] = (288, 512),
    config: ClipConfig | None = None,
    valid_fraction: float = 0.1,
    background_root: str | Path | None = None,
    alpha_format: str = "jpg",
    jpeg_quality: int = 95,
) -> list[WrittenClip]:
    """Write clips (or generate them from seeds with `frames`, `size`, `config`) as VideoMatte240K.

    The last round(n * valid_fraction) clips go to `valid`, the rest to `train`; a split with no
    clips gets no folder.
    """
    if not 0.0 <= valid_fraction <= 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1], got {valid_fraction}")
    if alpha_format not in ("jpg", "png"):
        raise ValueError(f"alpha_format must be 'jpg' or 'png', got {alpha_format!r}")
    root = Path(root)
    bg_root = Path(background_root) if background_root is not None else Path(f"{root}_bg")
    items = list(clips_or_seeds)
    n_valid = round(len(items) * valid_fraction)
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    alpha_params = jpeg if alpha_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    written = []
    counts = {"train": 0, "valid": 0}
    for i, item in enumerate(items):
        clip = _as_clip(item, frames, size, config)
        split = "valid" if i >= len(items) - n_valid else "train"
        name = f"{counts[split]:04d}"
        counts[split] += 1
        for t, frame in enumerate(_frame_names(clip)):
            _write(root / split / "fgr" / name / f"{frame}.jpg", clip.foreground[t], jpeg)
            _write(
                root / split / "pha" / name / f"{frame}.{alpha_format}", clip.alpha[t], alpha_params
            )
            _write(bg_root / split / name / f"{frame}.jpg", clip.background[t], jpeg)
        written.append(WrittenClip(split, name, clip.info))
    return written


def write_evaluation(
    root: str | Path,
    seeds: Iterable[Clip | int],
    *,
    frames: int = 30,
    size: tuple[int, int] = (288, 512),
    config: ClipConfig | None = None,
) -> list[WrittenClip]:
    """Write clips (or generate them from seeds) as root/<clip>/{com,pha,fgr}/<frame>.png."""
    root = Path(root)
    png = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    written = []
    for i, item in enumerate(seeds):
        clip = _as_clip(item, frames, size, config)
        name = f"{i:04d}"
        composite = clip.composite
        for t, frame in enumerate(_frame_names(clip)):
            _write(root / name / "com" / f"{frame}.png", composite[t], png)
            _write(root / name / "pha" / f"{frame}.png", clip.alpha[t], png)
            _write(root / name / "fgr" / f"{frame}.png", clip.foreground[t], png)
        written.append(WrittenClip("", name, clip.info))
    return written


def _as_clip(item: Clip | int, frames: int, size: tuple[int, int], config) -> Clip:
    if isinstance(item, Clip):
        return item
    return generate_clip(item, frames=frames, size=size, config=config)


def _frame_names(clip: Clip) -> list[str]:
    count = clip.alpha.shape[0]
    width = max(4, len(str(count - 1)))
    return [f"{t:0{width}d}" for t in range(count)]


def _write(path: Path, image: np.ndarray, params: list[int]) -> None:
    """Quantise a float [0, 1] image ((H, W) or (H, W, 3) RGB) to 8 bits and write it."""
    data = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    if data.ndim == 3:
        data = np.ascontiguousarray(data[..., ::-1])  # OpenCV writes BGR
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), data, params):
        raise OSError(f"could not write {path}")
