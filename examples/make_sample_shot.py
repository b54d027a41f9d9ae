"""Writes the bundled sample shot: ``examples/sample_shot/plate.1001-1012.exr``.

    python examples/make_sample_shot.py            # needs the train extra (OpenCV)

Twelve 256x144 frames of a procedural head-and-shoulders clip
(``training.synthetic.procedural``), converted from its sRGB to scene-linear Rec.709 with
OCIO and stored as half-float EXRs with a timecode and a frame rate, as a camera plate
would arrive. The clip's true alpha is written beside it (``truth/alpha.####.exr``) so the
mattes can be checked. The same seed always gives the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

ROOT = Path(__file__).resolve().parents[1]
SEED = 3
FIRST_FRAME = 1001
FRAMES = 12
SIZE = (144, 256)  # (H, W): the size the bundled weights were trained at


def write_exr(path: Path, pixels: np.ndarray, channels: tuple[str, ...], frame: int) -> None:
    height, width, nchannels = pixels.shape
    spec = oiio.ImageSpec(width, height, nchannels, oiio.HALF)
    spec.channelnames = channels
    spec.attribute("compression", "zip")
    spec.attribute("FramesPerSecond", oiio.TypeDesc("rational"), (24, 1))
    # SMPTE timecode 01:00:00:00 + frame offset at 24 fps, packed BCD as EXR stores it.
    seconds, frames = divmod(frame - FIRST_FRAME, 24)
    bcd = (0x01 << 24) | (_bcd(seconds % 60) << 8) | _bcd(frames)
    spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (bcd, 0))
    spec.attribute("DateTime", "2024:01:01 00:00:00")  # fixed, so reruns are byte-identical
    out = oiio.ImageOutput.create(str(path))
    if out is None or not out.open(str(path), spec):
        raise SystemExit(f"cannot write {path}: {oiio.geterror()}")
    out.write_image(np.ascontiguousarray(pixels, dtype=np.float32))
    out.close()


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "sample_shot")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from hosts.exr.colour import conversion
    from training.synthetic.procedural import generate_clip

    clip = generate_clip(SEED, frames=FRAMES, size=SIZE)
    to_linear = conversion("lin_rec709")
    (args.out / "truth").mkdir(parents=True, exist_ok=True)
    for t in range(FRAMES):
        frame = FIRST_FRAME + t
        linear = to_linear.to_plate(clip.composite[t])
        write_exr(args.out / f"plate.{frame}.exr", linear, ("R", "G", "B"), frame)
        alpha = clip.alpha[t][..., None]
        write_exr(args.out / "truth" / f"alpha.{frame}.exr", alpha, ("A",), frame)
    size = sum(p.stat().st_size for p in args.out.rglob("*.exr"))
    print(f"wrote {FRAMES} frames to {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
