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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # the writers take any clip of this shape; nothing is generated here
    from training.synthetic.procedural import Clip, ClipInfo


@dataclass(frozen=True)
class WrittenClip:
    """Where a clip went: split ("train", "valid", or "" in the evaluation layout) and name."""

    split: str
    name: str
    info: ClipInfo


def write_videomatte(
    root: str | Path,
    clips: Sequence[Clip],
    *,
    valid_fraction: float = 0.1,
    background_root: str | Path | None = None,
    alpha_format: str = "jpg",
    jpeg_quality: int = 95,
) -> list[WrittenClip]:
    """Write `clips` as VideoMatte240K (``SeededClips`` generates each when it is written).

    The last round(n * valid_fraction) clips go to `valid`, the rest to `train`; a split with no
    clips gets no folder.
    """
    if not 0.0 <= valid_fraction <= 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1], got {valid_fraction}")
    if alpha_format not in ("jpg", "png"):
        raise ValueError(f"alpha_format must be 'jpg' or 'png', got {alpha_format!r}")
    root = Path(root)
    bg_root = Path(background_root) if background_root is not None else Path(f"{root}_bg")
    n_valid = round(len(clips) * valid_fraction)
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    alpha_params = jpeg if alpha_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    written = []
    counts = {"train": 0, "valid": 0}
    for i, clip in enumerate(clips):
        split = "valid" if i >= len(clips) - n_valid else "train"
        name = f"{counts[split]:04d}"
        counts[split] += 1
        for t, frame in enumerate(_frame_names(clip)):
            write_image(root / split / "fgr" / name / f"{frame}.jpg", clip.foreground[t], jpeg)
            write_image(
                root / split / "pha" / name / f"{frame}.{alpha_format}", clip.alpha[t], alpha_params
            )
            write_image(bg_root / split / name / f"{frame}.jpg", clip.background[t], jpeg)
        written.append(WrittenClip(split, name, clip.info))
    return written


def write_evaluation(root: str | Path, clips: Iterable[Clip]) -> list[WrittenClip]:
    """Write `clips` as root/<clip>/{com,pha,fgr}/<frame>.png."""
    root = Path(root)
    png = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    written = []
    for i, clip in enumerate(clips):
        name = f"{i:04d}"
        composite = clip.composite
        for t, frame in enumerate(_frame_names(clip)):
            write_image(root / name / "com" / f"{frame}.png", composite[t], png)
            write_image(root / name / "pha" / f"{frame}.png", clip.alpha[t], png)
            write_image(root / name / "fgr" / f"{frame}.png", clip.foreground[t], png)
        written.append(WrittenClip("", name, clip.info))
    return written


def _frame_names(clip: Clip) -> list[str]:
    count = clip.alpha.shape[0]
    width = max(4, len(str(count - 1)))
    return [f"{t:0{width}d}" for t in range(count)]


def write_image(path: Path, image: np.ndarray, params: list[int]) -> None:
    """Quantise a float [0, 1] image ((H, W) or (H, W, 3) RGB) to 8 bits and write it."""
    data = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    if data.ndim == 3:
        data = np.ascontiguousarray(data[..., ::-1])  # OpenCV writes BGR
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), data, params):
        raise OSError(f"could not write {path}")
