"""Writes the bundled sample shot: ``examples/sample_shot/plate.1001-1024.exr``.

    python examples/make_sample_shot.py            # needs the blender extra (about 5 min)

Twenty-four 320x180 frames from the Blender-rendered generator (``training.synthetic.rendered``,
held-out seed 995000: a procedural person with strand hair, composited in linear light over a
rendered room, 16 Cycles samples), stored as scene-linear Rec.709 half-float EXRs (DWAA) with a
timecode and a frame rate, as a camera plate would arrive. The exact alpha is written beside
it (``truth/alpha.####.exr``) so the mattes can be checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

ROOT = Path(__file__).resolve().parents[1]
SEED = 995_000
FIRST_FRAME = 1001
FRAMES = 24
SIZE = (180, 320)  # (H, W)


def write_exr(path: Path, pixels: np.ndarray, channels: tuple[str, ...], frame: int) -> None:
    height, width, nchannels = pixels.shape
    spec = oiio.ImageSpec(width, height, nchannels, oiio.HALF)
    spec.channelnames = channels
    spec.attribute("compression", "dwaa" if nchannels > 1 else "zip")
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
    parser.add_argument(
        "--rendered",
        type=Path,
        help="restamp this existing render instead "
        "(python -m training.synthetic.rendered --sample-shot DIR --seed 995000 "
        "--frames 24 --size 320x180 --samples 16)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import tempfile

    from training.synthetic.rendered import render_sample_shot

    with tempfile.TemporaryDirectory() as tmp:
        source = args.rendered or Path(tmp)
        if args.rendered is None:
            render_sample_shot(source, SEED, frames=FRAMES, size=SIZE, samples=16, quiet=True)
        (args.out / "truth").mkdir(parents=True, exist_ok=True)
        for t in range(FRAMES):
            frame = FIRST_FRAME + t
            plate = oiio.ImageBuf(str(source / f"plate.{frame}.exr")).get_pixels(oiio.FLOAT)
            matte = oiio.ImageBuf(str(source / f"matte.{frame}.exr")).get_pixels(oiio.FLOAT)
            write_exr(args.out / f"plate.{frame}.exr", plate[..., :3], ("R", "G", "B"), frame)
            write_exr(args.out / "truth" / f"alpha.{frame}.exr", matte[..., -1:], ("A",), frame)
    size = sum(p.stat().st_size for p in args.out.rglob("*.exr"))
    print(f"wrote {FRAMES} frames to {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
