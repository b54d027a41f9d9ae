"""Writes docs/images/sample_shot_result.png from the main job's output.

    python -m core.batch "examples/sample_shot/plate.####.exr"
    python examples/result_picture.py

Rows are frames 1001, 1012 and 1024; columns: the plate, memmatte's alpha, the true alpha and
the foreground over green (all shown through the sRGB curve).
"""

from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio

ROOT = Path(__file__).resolve().parents[1]
SHOT = ROOT / "examples" / "sample_shot"


def _read(path: Path) -> np.ndarray:
    buf = oiio.ImageBuf(str(path))
    if buf.has_error:
        raise SystemExit(f"{path}: {buf.geterror()} (run the main job first)")
    return buf.get_pixels(oiio.FLOAT)


def _srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def main() -> int:
    rows = []
    for frame in (1001, 1012, 1024):
        plate = _read(SHOT / f"plate.{frame}.exr")[..., :3]
        matte = _read(SHOT / "matte" / f"plate.{frame}.exr")
        truth = _read(SHOT / "truth" / f"alpha.{frame}.exr")[..., 0]
        alpha = matte[..., 3]
        over = matte[..., :3] + (1 - alpha[..., None]) * np.array([0.05, 0.45, 0.1], np.float32)
        grey = [np.repeat(a[..., None], 3, axis=2) for a in (alpha, truth)]
        rows.append(np.concatenate([_srgb(plate), *grey, _srgb(over)], axis=1))
    image = (np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)
    out = ROOT / "docs" / "images" / "sample_shot_result.png"
    cv2.imwrite(str(out), np.ascontiguousarray(image[..., ::-1]))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
