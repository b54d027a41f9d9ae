"""Seeded 2D procedural video-matting clips (no Blender): a head-and-shoulders person with strand hair
over a moving background, with exact fractional alpha. Used by tests, CI and as cheap training data.

    python -m training.synthetic.procedural --out /tmp/vm --clips 8 --frames 30 --size 512x288 --seed 0

A frame is rendered in layers (back hair, body, head, front hair, arm) with supersampled
anti-aliasing and composited front-to-back in premultiplied sRGB, so alpha is the exact blend weight
of eq. 1 (I = alpha F + (1 - alpha) B) of the paper. Fast clips average several sub-frame renders
(motion blur). An occluder passing in front of the person belongs to the background and cuts the
alpha.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.cli import frame_size
from training.synthetic.backgrounds import Background, Occluder, sample_background, sample_occluder
from training.synthetic.figure import Figure, sample_figure
from training.synthetic.hair import HAIR_STYLES, Hair, sample_hair
from training.synthetic.motion import Trajectory, sample_trajectory
from training.synthetic.raster import (
    Paint,
    bounding_box,
    over,
    rasterize,
    transform,
    unpremultiply,
    warp_canvas,
)
from training.synthetic.writer import write_evaluation, write_videomatte

_OPAQUE = 1e-3  # where 1 - alpha is below this, the background is not recoverable from eq. 1
_SAMPLE_SPACING = 2.5  # pixels the figure may move between motion-blur sub-frames


@dataclass(frozen=True)
class ClipConfig:
    """What a clip may contain. Probabilities are per clip: 1.0 forces a feature, 0.0 removes it.

    `motion` scales every motion amplitude. `strand_density` scales strand counts, which also
    follow the frame height so hair looks alike at every size. `supersample` is the anti-aliasing
    grid per output pixel side. Fast clips average up to `motion_blur_samples` sub-frames spread
    over `shutter` of the frame interval, as many as keep them 2.5 pixels apart.
    """

    hair_styles: tuple[str, ...] = HAIR_STYLES
    p_arm: float = 0.3
    p_fast_motion: float = 0.2
    p_occluder: float = 0.25
    p_photo_background: float = 0.5
    motion: float = 1.0
    strand_density: float = 1.0
    supersample: int = 4
    motion_blur_samples: int = 6
    shutter: float = 0.5

    def __post_init__(self) -> None:
        unknown = set(self.hair_styles) - set(HAIR_STYLES)
        if not self.hair_styles or unknown:
            raise ValueError(
                f"hair_styles must be a non-empty subset of {HAIR_STYLES}, got {self.hair_styles}"
            )
        for name in ("p_arm", "p_fast_motion", "p_occluder", "p_photo_background"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.supersample <= 8:
            raise ValueError(f"supersample must be in 1..8, got {self.supersample}")
        if self.motion_blur_samples < 1:
            raise ValueError(f"motion_blur_samples must be >= 1, got {self.motion_blur_samples}")
        if not 0.0 < self.shutter <= 1.0:
            raise ValueError(f"shutter must be in (0, 1], got {self.shutter}")
        if self.motion < 0.0 or self.strand_density <= 0.0:
            raise ValueError(
                f"motion must be >= 0 and strand_density > 0, got {self.motion}, {self.strand_density}"
            )


PRESETS: dict[str, ClipConfig] = {
    "varied": ClipConfig(),
    "calm": ClipConfig(p_arm=0.0, p_fast_motion=0.0, p_occluder=0.0, motion=0.5),
}


@dataclass(frozen=True)
class ClipInfo:
    """What was drawn for a clip."""

    seed: int
    hair_style: str
    background: str
    fast_motion: bool
    occluder: str | None
    arm: bool


@dataclass(frozen=True, eq=False)
class Clip:
    """A generated clip; every array is float32 sRGB in [0, 1] (not linear light).

    foreground: (T, H, W, 3). Where alpha > 0 it is the person's colour (premultiplied colour /
        alpha); where alpha is 0 it is the person's colour diffused outward (push-pull), smooth and
        plausible but never seen in the composite.
    alpha: (T, H, W), the exact coverage used to composite, fractional along edges, on hair
        strands, in motion blur and under occluder edges.
    background: (T, H, W, 3), everything behind the person plus any occluder in front of them
        (the occluder cuts alpha). In motion-blurred or occluded frames it is solved from the
        rendered image so that `composite` reproduces that image (to 1e-3 where alpha is ~1).
    """

    foreground: np.ndarray
    alpha: np.ndarray
    background: np.ndarray
    info: ClipInfo

    @property
    def composite(self) -> np.ndarray:
        """(T, H, W, 3) float32: alpha * foreground + (1 - alpha) * background (eq. 1)."""
        a = self.alpha[..., None]
        return a * self.foreground + (1.0 - a) * self.background


@dataclass(frozen=True, eq=False)
class _Spec:
    size: tuple[int, int]
    config: ClipConfig
    figure: Figure
    hair: Hair
    trajectory: Trajectory
    background: Background
    occluder: Occluder | None = None


def generate_clip(
    seed: int,
    *,
    frames: int,
    size: tuple[int, int] = (288, 512),
    config: ClipConfig | None = None,
) -> Clip:
    """Render clip `seed` with `frames` frames of `size` (H, W).

    The same seed, size and config give bit-identical arrays, and frame t does not depend on
    `frames` (a longer clip extends a shorter one).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f"size must be (H, W) with both >= 16, got {size}")
    config = config or ClipConfig()
    spec = _sample_spec(int(seed), (int(size[0]), int(size[1])), config)
    h, w = spec.size
    fg = np.empty((frames, h, w, 3), np.float32)
    alpha = np.empty((frames, h, w), np.float32)
    bg = np.empty((frames, h, w, 3), np.float32)
    for t in range(frames):
        fg[t], alpha[t], bg[t] = _render_frame(spec, t)
    info = ClipInfo(
        seed=int(seed),
        hair_style=spec.hair.style,
        background=spec.background.kind,
        fast_motion=spec.trajectory.fast,
        occluder=spec.occluder.kind if spec.occluder else None,
        arm=spec.figure.arm is not None,
    )
    return Clip(fg, alpha, bg, info)


class SeededClips(Sequence[Clip]):
    """The clips of ``seeds``, each generated by ``generate_clip`` when it is read (so a
    writer holds one clip at a time); the other arguments are ``generate_clip``'s."""

    def __init__(
        self,
        seeds: Sequence[int],
        *,
        frames: int,
        size: tuple[int, int] = (288, 512),
        config: ClipConfig | None = None,
    ) -> None:
        self.seeds = list(seeds)
        self.frames, self.size, self.config = frames, size, config

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        seed = self.seeds[index]
        return generate_clip(seed, frames=self.frames, size=self.size, config=self.config)


def _sample_spec(seed: int, size: tuple[int, int], config: ClipConfig) -> _Spec:
    # one stream per component, so changing how one is drawn leaves the others as they were
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    choice, figure_rng, hair_rng, motion_rng, bg_rng, occluder_rng = streams
    h, w = size
    style = str(choice.choice(config.hair_styles))
    with_arm = bool(choice.random() < config.p_arm)
    fast = bool(choice.random() < config.p_fast_motion)
    occluded = bool(choice.random() < config.p_occluder)
    rx = figure_rng.uniform(0.074, 0.094)
    ry = rx * figure_rng.uniform(1.2, 1.38)
    # strands are 1/supersample pixels wide whatever the frame size, so their count follows the
    # frame height to keep the hair's look (tuned at 288 rows) the same at every size
    hair = sample_hair(hair_rng, rx, ry, style, config.strand_density * h / 288)
    figure = sample_figure(figure_rng, rx, ry, h, hair.palette[1], with_arm)
    return _Spec(
        size=size,
        config=config,
        figure=figure,
        hair=hair,
        trajectory=sample_trajectory(motion_rng, w / h, fast=fast, amount=config.motion),
        background=sample_background(bg_rng, size, config.p_photo_background),
        occluder=sample_occluder(occluder_rng, w / h) if occluded else None,
    )


def _render_frame(spec: _Spec, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foreground (H, W, 3), alpha (H, W) and background (H, W, 3) of frame `t`."""
    cfg = spec.config
    samples = _blur_samples(spec, t) if spec.trajectory.fast else 1
    if samples == 1:
        times = [float(t)]
    else:
        times = list(t + cfg.shutter * (np.arange(samples) / (samples - 1) - 0.5))
    h, w = spec.size
    acc_alpha = np.zeros((h, w), np.float32)
    acc_premult = np.zeros((h, w, 3), np.float32)
    acc_image = np.zeros((h, w, 3), np.float32)
    acc_bg = np.zeros((h, w, 3), np.float32)
    occluded = False
    for ts in times:
        bg = spec.background.frame(ts, spec.size)
        alpha, premult = _render_person(spec, ts)
        image = premult + (1.0 - alpha)[..., None] * bg
        if spec.occluder is not None:
            paints = spec.occluder.paints(ts, h)
            box = bounding_box(paints, spec.size)
            if box is not None:
                occluded = True
                cover, colour = rasterize(paints, box, cfg.supersample, colour=True)
                keep = (1.0 - cover)[..., None]
                for layer in (image, bg):  # the occluder is in front of both
                    layer[box.slices] = colour + keep * layer[box.slices]
                alpha[box.slices] *= keep[..., 0]
                premult[box.slices] *= keep
        acc_alpha += alpha
        acc_premult += premult
        acc_image += image
        acc_bg += bg
    n = np.float32(len(times))
    alpha, premult = acc_alpha / n, acc_premult / n
    fg = unpremultiply(premult, alpha)
    if samples == 1 and not occluded:
        return fg, alpha, acc_bg  # a single clean render: the background as drawn
    # solve eq. 1 for the background so the composite equals the rendered (blurred, occluded) image
    image, bg = acc_image / n, acc_bg / n
    rest = (1.0 - alpha)[..., None]
    solved = (image - alpha[..., None] * fg) / np.maximum(rest, _OPAQUE)
    bg = np.where(rest > _OPAQUE, np.clip(solved, 0.0, 1.0), bg)
    return fg, alpha, bg.astype(np.float32)


def _blur_samples(spec: _Spec, t: int) -> int:
    """Sub-frames for frame `t`: one if the figure moves under a quarter pixel during the exposure,
    else enough that it moves at most _SAMPLE_SPACING pixels between them, capped by the config."""
    cfg, fig, path = spec.config, spec.figure, spec.trajectory
    crown = np.array([[0.0, -fig.head_ry * 1.3]])
    shoulders = np.array([[-1.0, 1.0], [1.0, 1.0]]) * [fig.shoulder_half_width, fig.shoulder_y]
    ends = []
    for ts in (t - cfg.shutter / 2, t + cfg.shutter / 2):
        body = path.body(ts, spec.size[0])
        head = body @ path.head(ts, fig.neck_pivot)
        ends.append(np.concatenate([transform(head, crown), transform(body, shoulders)]))
    travel = float(np.linalg.norm(ends[1] - ends[0], axis=1).max())
    if travel < 0.25:
        return 1
    return int(min(1 + np.ceil(travel / _SAMPLE_SPACING), cfg.motion_blur_samples))


def _render_person(spec: _Spec, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha (H, W) and premultiplied colour (H, W, 3) of the person at frame time `t`."""
    h, w = spec.size
    fig, hair = spec.figure, spec.hair
    body = spec.trajectory.body(t, h)
    head = body @ spec.trajectory.head(t, fig.neck_pivot)
    alpha = np.zeros((h, w), np.float32)
    premult = np.zeros((h, w, 3), np.float32)
    _painted_layer(spec, alpha, premult, hair.paints(head, t, front=False))
    _textured_layer(spec, alpha, premult, fig.body, fig.body_canvas, body)
    _textured_layer(spec, alpha, premult, fig.head, fig.head_canvas, head)
    _painted_layer(spec, alpha, premult, hair.paints(head, t, front=True))
    if fig.arm is not None:
        _painted_layer(spec, alpha, premult, fig.arm.paints(body, t))
    return alpha, premult


def _painted_layer(spec: _Spec, alpha, premult, paints: list[Paint]) -> None:
    box = bounding_box(paints, spec.size)
    if box is None:
        return
    cover, colour = rasterize(paints, box, spec.config.supersample, colour=True)
    over(alpha, premult, box, cover, colour)


def _textured_layer(spec: _Spec, alpha, premult, polygons, canvas, to_screen) -> None:
    paints = [Paint([transform(to_screen, p) for p in polygons])]
    box = bounding_box(paints, spec.size)
    if box is None:
        return
    cover, _ = rasterize(paints, box, spec.config.supersample, colour=False)
    texture = warp_canvas(canvas.image, to_screen @ canvas.to_figure, box)
    over(alpha, premult, box, cover, cover[..., None] * texture)


def contact_sheet(
    path: str | Path,
    seeds: list[int],
    *,
    size: tuple[int, int] = (180, 320),
    frame: int = 6,
    config: ClipConfig | None = None,
) -> np.ndarray:
    """Write a PNG grid, one row per seed: composite | alpha | foreground over a checkerboard |
    alpha around the top of the head at 2x (pixels kept square), at frame `frame` of each clip.
    Returns the sheet (rows, cols, 3) uint8 RGB."""
    rows = []
    for seed in seeds:
        clip = generate_clip(seed, frames=frame + 1, size=size, config=config)
        a = clip.alpha[frame][..., None]
        checker = _checkerboard(size, max(4, size[0] // 18))
        tiles = [
            clip.composite[frame],
            np.repeat(a, 3, axis=2),
            a * clip.foreground[frame] + (1 - a) * checker,
            np.repeat(_hair_zoom(clip.alpha[frame])[..., None], 3, axis=2),
        ]
        row = np.concatenate([_border(_to_uint8(x)) for x in tiles], axis=1)
        label = f"seed {seed}: {clip.info.hair_style}, {clip.info.background}"
        extras = [k for k, v in (("fast", clip.info.fast_motion), ("arm", clip.info.arm)) if v]
        if clip.info.occluder:
            extras.append(f"occluder:{clip.info.occluder}")
        label += "".join(f", {e}" for e in extras)
        cv2.putText(row, label, (6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            row, label, (6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA
        )
        rows.append(row)
    sheet = np.concatenate(rows, axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write contact sheet {path}")
    return sheet


def _hair_zoom(alpha: np.ndarray) -> np.ndarray:
    """The quarter of `alpha` (H, W) around the top of the person, enlarged 2x."""
    h, w = alpha.shape
    ys, xs = np.nonzero(alpha > 0.5)
    top = int(ys.min()) if len(ys) else h // 4
    centre = int(np.median(xs[ys < top + h // 10])) if len(ys) else w // 2
    ch, cw = h // 2, w // 2
    y0 = int(np.clip(top - ch // 5, 0, h - ch))
    x0 = int(np.clip(centre - cw // 2, 0, w - cw))
    crop = alpha[y0 : y0 + ch, x0 : x0 + cw]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_NEAREST)


def _checkerboard(size: tuple[int, int], cell: int) -> np.ndarray:
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    light = ((yy // cell + xx // cell) % 2).astype(np.float32)
    return np.repeat((0.55 + 0.3 * light)[..., None], 3, axis=2)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _border(tile: np.ndarray) -> np.ndarray:
    return cv2.copyMakeBorder(tile, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=(255, 255, 255))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.synthetic.procedural", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="dataset root to write")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument(
        "--size", type=frame_size, default=(288, 512), help="WIDTHxHEIGHT, e.g. 512x288"
    )
    parser.add_argument("--seed", type=int, default=0, help="clip i uses seed SEED + i")
    parser.add_argument("--layout", choices=("videomatte", "evaluation"), default="videomatte")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="varied")
    parser.add_argument("--valid-fraction", type=float, default=0.1, help="videomatte layout only")
    parser.add_argument("--alpha-format", choices=("jpg", "png"), default="jpg")
    parser.add_argument("--contact-sheet", type=Path, help="also write a contact sheet PNG here")
    parser.add_argument("--benchmark", action="store_true", help="time generation, write nothing")
    args = parser.parse_args(argv)
    if args.out is None and args.contact_sheet is None and not args.benchmark:
        parser.error("give --out, --contact-sheet or --benchmark")
    config = PRESETS[args.preset]
    seeds = [args.seed + i for i in range(args.clips)]
    if args.benchmark:
        start = time.perf_counter()
        for seed in seeds:
            generate_clip(seed, frames=args.frames, size=args.size, config=config)
        per_frame = (time.perf_counter() - start) / (len(seeds) * args.frames)
        h, w = args.size
        print(f"{per_frame * 1000:.1f} ms per {w}x{h} frame over {len(seeds)} clips")
    if args.out is not None:
        clips = SeededClips(seeds, frames=args.frames, size=args.size, config=config)
        if args.layout == "videomatte":
            write_videomatte(
                args.out, clips, valid_fraction=args.valid_fraction, alpha_format=args.alpha_format
            )
        else:
            write_evaluation(args.out, clips)
        print(f"wrote {len(seeds)} clips of {args.frames} frames to {args.out}")
    if args.contact_sheet is not None:
        contact_sheet(args.contact_sheet, seeds[:6] if len(seeds) >= 6 else seeds, config=config)
        print(f"wrote {args.contact_sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
