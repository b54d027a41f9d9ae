"""Scores a checkpoint on a matting test set with the metrics of §6.

    python -m training.evaluate --weights runs/stage3/final.safetensors --data data/eval \
        [--ratio 0.25] [--size 1920x1080] [--out eval/stage3]

The test set is a folder of clips, each with the composite the network sees and its ground
truth, frames paired by name (8- or 16-bit PNG; ``fgr`` may be left out)::

    DIR/<clip>/com/<frame>.png    composite, RGB
    DIR/<clip>/pha/<frame>.png    alpha, greyscale
    DIR/<clip>/fgr/<frame>.png    foreground, RGB (optional: no foreground metrics without it)

Every clip is matted front to back with ``core.MattingSession`` (fp32), scored with
``training.metrics.evaluate_clip``, and written to ``OUT/clips.csv`` (one row per clip) and
``OUT/summary.md`` (the mean over clips, also printed).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from core.cli import frame_size
from core.session import MattingSession
from core.weights import WeightsError, load_network
from training.metrics import evaluate_clip

METRICS = ("mad", "mse", "grad", "conn", "dtssd", "fgr_mad", "fgr_mse", "fgr_mse_inside")
_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


class TestSetError(ValueError):
    """A test set that does not match the layout; the message names the folder or file."""


def read_image(path: Path, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    """An image as float32 in [0, 1]: (H, W) for ``channels=1``, (H, W, 3) RGB for 3.

    ``size`` (H, W) resizes with area averaging when shrinking, bilinear otherwise.
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise TestSetError(f"{path}: missing or not a readable image")
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / 65535.0
    else:
        image = np.clip(image.astype(np.float32), 0.0, 1.0)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if channels == 1 and image.ndim == 3:
        image = image[..., 0] if image.shape[2] == 1 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif channels == 3:
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        image = image[..., ::-1]
    if size is not None and image.shape[:2] != size:
        shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        image = cv2.resize(image, (size[1], size[0]), interpolation=interpolation)
    return np.ascontiguousarray(image, dtype=np.float32)


def _frames(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in _EXTENSIONS}


def list_clips(root: Path) -> list[tuple[str, list[Path], list[Path], list[Path] | None]]:
    """(name, composite paths, alpha paths, foreground paths or None) per clip, by name."""
    if not root.is_dir():
        raise TestSetError(f"{root}: no such test-set folder")
    clips = []
    for clip in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for needed in ("com", "pha"):
            if not (clip / needed).is_dir():
                raise TestSetError(f"{clip}: has no {needed}/ folder (expected com/, pha/, fgr/)")
        com, pha = _frames(clip / "com"), _frames(clip / "pha")
        fgr = _frames(clip / "fgr") if (clip / "fgr").is_dir() else None
        if not com:
            raise TestSetError(f"{clip / 'com'}: no frames")
        for name, frames in (("pha", pha), ("fgr", fgr)):
            if frames is not None and set(frames) != set(com):
                missing = sorted(set(com) ^ set(frames))
                raise TestSetError(
                    f"{clip / name}: frames do not match com/ (unpaired: {', '.join(missing[:5])})"
                )
        names = sorted(com)
        clips.append(
            (
                clip.name,
                [com[n] for n in names],
                [pha[n] for n in names],
                [fgr[n] for n in names] if fgr is not None else None,
            )
        )
    if not clips:
        raise TestSetError(f"{root}: no clip folders (expected <clip>/com, <clip>/pha, <clip>/fgr)")
    return clips


def evaluate(
    weights: str | Path,
    data: str | Path,
    *,
    ratio: float = 1.0,
    size: tuple[int, int] | None = None,
    device: str = "cpu",
) -> list[dict[str, float | str]]:
    """One row per clip: ``{"clip": name, "frames": T, <metric>: value, ...}``."""
    network = load_network(weights)
    rows: list[dict[str, float | str]] = []
    for name, com, pha, fgr in list_clips(Path(data)):
        frames = [read_image(p, 3, size) for p in com]
        true_pha = [read_image(p, 1, size) for p in pha]
        session = MattingSession(
            frames, weights=network, device=device, downsample_ratio=ratio, precision="fp32"
        )
        results = list(session)
        pred_pha = [r.alpha for r in results]
        if fgr is None:
            scores = evaluate_clip(pred_pha, true_pha)
        else:
            true_fgr = [read_image(p, 3, size) for p in fgr]
            scores = evaluate_clip(pred_pha, true_pha, [r.foreground for r in results], true_fgr)
        rows.append({"clip": name, "frames": len(frames), **scores})
    return rows


def mean_row(rows: Sequence[dict[str, float | str]]) -> dict[str, float]:
    """The mean of each metric over the clips that have it."""
    means = {}
    for metric in METRICS:
        values = [float(r[metric]) for r in rows if metric in r]
        if values:
            means[metric] = float(np.mean(values))
    return means


def write_csv(path: Path, rows: Sequence[dict[str, float | str]]) -> None:
    columns = ["clip", "frames", *(m for m in METRICS if any(m in r for r in rows))]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(means: dict[str, float], label: str, clips: int) -> str:
    header = ["weights", "clips", *(m.upper().replace("_", " ") for m in means)]
    cells = [label, str(clips), *(f"{v:.3f}" for v in means.values())]
    return "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] * 2 + ["---:"] * len(means)) + "|",
            "| " + " | ".join(cells) + " |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--weights", type=Path, required=True, help="a .safetensors checkpoint")
    parser.add_argument("--data", type=Path, required=True, help="DIR/<clip>/{com,pha,fgr}/")
    parser.add_argument(
        "--ratio", type=float, default=1.0, help="downsample ratio in (0, 1] (default 1)"
    )
    parser.add_argument(
        "--size", type=frame_size, help="resize every frame to WIDTHxHEIGHT before matting"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--out", type=Path, help="output folder (default: eval-<weights stem>)")
    args = parser.parse_args(argv)
    if not 0 < args.ratio <= 1:
        parser.error(f"--ratio must be in (0, 1], got {args.ratio}")
    out = args.out or Path(f"eval-{args.weights.stem}")
    try:
        rows = evaluate(
            args.weights, args.data, ratio=args.ratio, size=args.size, device=args.device
        )
    except (TestSetError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "clips.csv", rows)
    table = markdown_table(mean_row(rows), args.weights.name, len(rows))
    (out / "summary.md").write_text(
        f"Mean over {len(rows)} clips of {args.data} (ratio {args.ratio}"
        + (f", size {args.size[0]}x{args.size[1]}" if args.size else "")
        + "). MAD, MSE, FGR MAD and FGR MSE x 1e3; Grad and Conn / 1e3; dtSSD x 1e2.\n\n"
        + table
        + "\n"
    )
    print(table)
    print(f"wrote {out / 'clips.csv'} and {out / 'summary.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
