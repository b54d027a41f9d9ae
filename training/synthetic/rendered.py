"""Blender-rendered video-matting clips: procedural 3D people with strand hair, rendered with
Cycles, with exact alpha, plus separately rendered room backgrounds. Needs the `blender` extra.

    python -m training.synthetic.rendered --out /data/rendered --clips 200 --frames 30 \\
        --size 512x288 --seed 0 --samples 16 --backgrounds 100

Clip i is seed SEED + i: `rendered_spec.sample_scene` draws its person, lights, camera and motion
from that seed alone. The person is rendered over a transparent film, so Cycles' alpha is the
exact coverage (fractional on hair, at motion-blurred and defocused edges). Cycles writes
premultiplied scene-linear RGBA; a frame is stored as the straight (unpremultiplied) colour,
colour / alpha where alpha > 0 and the matte's colour diffused outward where alpha is 0, after the
clip's exposure, a soft highlight shoulder and the sRGB transfer curve. The composite convention
is then that of the other writers: I = alpha F + (1 - alpha) B in sRGB.

Rendering resumes: every frame file that already exists is skipped (frames are written under a
temporary name and renamed when complete), so the same command can be run again, or with more
--clips or --frames, to continue. The settings that change pixels are kept in `rendered.json`
under --out, and a run with different ones stops with an error.

Layouts: `videomatte` writes root/{train,valid}/{fgr,pha}/<clip>/<frame>.jpg (clip i goes to
`valid` when floor((i + 1) f) > floor(i f) for --valid-fraction f, so adding clips never renames
the earlier ones) and room plates to <background root>/images/<plate>.jpg; `evaluation` writes
root/<clip>/{fgr,pha,bgr,com}/<frame>.png, bgr being the clip's room seen through the clip's
camera and com = alpha fgr + (1 - alpha) bgr computed from the stored 8-bit files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from core.cli import frame_size
from training.synthetic.raster import unpremultiply
from training.synthetic.rendered_spec import RenderSettings, sample_room, sample_scene
from training.synthetic.writer import write_image

_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95]
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 3]
_HEADROOM = 16.0  # linear values up to this survive unpremultiplying (it clips to [0, 1])
_SHOULDER = 0.8  # display values above this roll off smoothly towards 1
_REC709_CHROMATICITIES = (0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329)  # primaries, D65
_PLATE_EXPOSURE = -0.5  # stops applied to room plates


def to_display(linear: np.ndarray, exposure: float = 0.0) -> np.ndarray:
    """Scene-linear RGB (any shape) to display sRGB in [0, 1]: exposure in stops, a highlight
    shoulder (identity below 0.8, exponential approach to 1 above), then the sRGB curve."""
    x = np.maximum(np.asarray(linear, np.float32) * np.float32(2.0**exposure), 0.0)
    k = np.float32(_SHOULDER)
    x = np.where(x <= k, x, k + (1 - k) * (1 - np.exp(-(x - k) / (1 - k))))
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.clip(srgb, 0.0, 1.0).astype(np.float32)


def split_render(rgba: np.ndarray, exposure: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Cycles' premultiplied linear RGBA (H, W, 4) to a straight display-sRGB foreground
    (H, W, 3) and alpha (H, W), both float32 in [0, 1]."""
    alpha = np.clip(rgba[..., 3], 0.0, 1.0).astype(np.float32)
    premult = np.maximum(rgba[..., :3], 0.0).astype(np.float32) / np.float32(_HEADROOM)
    straight = unpremultiply(premult, alpha) * np.float32(_HEADROOM)
    return to_display(straight, exposure), alpha


def clip_place(index: int, valid_fraction: float) -> tuple[str, str]:
    """(split, name) of clip `index` in the videomatte layout; stable as clips are added."""
    f = valid_fraction
    is_valid = np.floor((index + 1) * f) > np.floor(index * f)
    n_valid_before = int(np.floor(index * f))
    if is_valid:
        return "valid", f"{n_valid_before:04d}"
    return "train", f"{index - n_valid_before:04d}"


def _frame_name(t: int) -> str:
    return f"{t:04d}"


def _save(path: Path, image: np.ndarray, params: list[int]) -> None:
    """Write through a temporary name, so an interrupted run never leaves a partial file that a
    resumed run would take for a finished one."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    write_image(partial, image, params)
    os.replace(partial, path)


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OSError(f"could not read {path}")
    image = image.astype(np.float32) / 255.0
    return image[..., ::-1] if image.ndim == 3 else image


class _Log:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.frames = 0
        self.seconds = 0.0

    def frame(self, what: str, seconds: float) -> None:
        self.frames += 1
        self.seconds += seconds
        if not self.quiet:
            print(f"{what}: {seconds:.1f} s", flush=True)


def render_clip(
    seed: int,
    frames: Iterable[int],
    size: tuple[int, int],
    settings: RenderSettings,
    on_frame: Callable[[int, np.ndarray, np.ndarray], None],
    length: int | None = None,
) -> None:
    """Render frames `frames` of clip `seed` and hand each to on_frame(t, foreground, alpha)
    (display sRGB (H, W, 3) and (H, W) float32). `length` is the clip length the motion is keyed
    for (default: one past the last frame); frame t does not depend on it."""
    from training.synthetic.blender_scene import build_clip_scene, render_frame

    frames = list(frames)
    if not frames:
        return
    spec = sample_scene(seed)
    keyed = range(0, length if length is not None else max(frames) + 1)
    build_clip_scene(spec, size, settings, keyed)
    import bpy

    for t in frames:
        rgba = render_frame(bpy.context.scene, t, transparent=True)
        fg, alpha = split_render(rgba, spec.lighting.exposure)
        on_frame(t, fg, alpha)


def render_room(
    room_seed: int,
    size: tuple[int, int],
    settings: RenderSettings,
    on_frame: Callable[[int, np.ndarray], None],
    clip_seed: int | None = None,
    frames: Iterable[int] = (0,),
    length: int | None = None,
) -> None:
    """Render room `room_seed` and hand each frame to on_frame(t, image) (display sRGB
    (H, W, 3) float32): a still from the room's own camera, or, with `clip_seed`, frames
    `frames` through that clip's moving camera with the room behind where the person stands."""
    from training.synthetic.blender_scene import build_room_scene, render_frame

    frames = list(frames)
    if not frames:
        return
    room = sample_room(room_seed)
    spec = sample_scene(clip_seed) if clip_seed is not None else None
    keyed = range(0, length if length is not None else max(frames) + 1)
    # plates are always denoised: a room lit indirectly is noisy at training sample counts, and
    # its noise would be no part of the matting problem
    build_room_scene(room, size, dataclasses.replace(settings, denoise=True), spec, keyed)
    import bpy

    for t in frames:
        rgba = render_frame(bpy.context.scene, t, transparent=False)
        on_frame(t, to_display(rgba[..., :3], _PLATE_EXPOSURE))


def _check_manifest(out: Path, manifest: dict) -> None:
    path = out / "rendered.json"
    if path.exists():
        before = json.loads(path.read_text())
        changed = {k: (before.get(k), v) for k, v in manifest.items() if before.get(k) != v}
        if changed:
            detail = ", ".join(f"{k}: {a!r} before, {b!r} now" for k, (a, b) in changed.items())
            raise SystemExit(
                f"{out} was rendered with other settings ({detail}); use another --out or the "
                "same settings to resume"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def write_rendered(
    out: str | Path,
    *,
    clips: int,
    frames: int,
    size: tuple[int, int] = (288, 512),
    seed: int = 0,
    settings: RenderSettings | None = None,
    layout: str = "videomatte",
    backgrounds: int = 0,
    background_root: str | Path | None = None,
    valid_fraction: float = 0.1,
    alpha_format: str = "jpg",
    quiet: bool = False,
) -> tuple[int, float]:
    """Render what is missing under `out`; returns (frames rendered, seconds spent rendering).
    A clip counts one render per frame (videomatte) or two (evaluation: person and room)."""
    if layout not in ("videomatte", "evaluation"):
        raise ValueError(f"layout must be 'videomatte' or 'evaluation', got {layout!r}")
    if not 0.0 <= valid_fraction <= 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1], got {valid_fraction}")
    if alpha_format not in ("jpg", "png"):
        raise ValueError(f"alpha_format must be 'jpg' or 'png', got {alpha_format!r}")
    if clips < 0 or frames < 1 or backgrounds < 0:
        raise ValueError(
            f"need clips >= 0, frames >= 1, backgrounds >= 0; got {clips}, {frames}, {backgrounds}"
        )
    settings = settings or RenderSettings()
    out = Path(out)
    manifest = {
        "layout": layout,
        "size": list(size),
        "seed": seed,
        "samples": settings.samples,
        "render_seed": settings.seed,
        "strand_scale": settings.strand_scale,
        "max_bounces": settings.max_bounces,
        "denoise": settings.denoise,
        "motion_blur": settings.motion_blur,
        "resolution": settings.resolution,
        "valid_fraction": valid_fraction if layout == "videomatte" else None,
        "alpha_format": alpha_format if layout == "videomatte" else "png",
    }
    _check_manifest(out, manifest)
    log = _Log(quiet)
    for i in range(clips):
        if layout == "videomatte":
            _videomatte_clip(
                out, i, seed + i, frames, size, settings, valid_fraction, alpha_format, log
            )
        else:
            _evaluation_clip(out, i, seed + i, frames, size, settings, log)
    if backgrounds:
        bg_root = Path(background_root) if background_root else Path(f"{out}_bg")
        for j in range(backgrounds):
            path = bg_root / "images" / f"{j:04d}.jpg"
            if path.exists():
                continue
            start = time.perf_counter()
            render_room(seed + j, size, settings, lambda t, img, p=path: _save(p, img, _JPEG))
            log.frame(f"plate {j:04d}", time.perf_counter() - start)
    return log.frames, log.seconds


def _videomatte_clip(
    out, index, seed, frames, size, settings, valid_fraction, alpha_format, log
) -> None:
    split, name = clip_place(index, valid_fraction)
    fgr_dir, pha_dir = out / split / "fgr" / name, out / split / "pha" / name
    todo = [
        t
        for t in range(frames)
        if not (
            (fgr_dir / f"{_frame_name(t)}.jpg").exists()
            and (pha_dir / f"{_frame_name(t)}.{alpha_format}").exists()
        )
    ]
    alpha_params = _JPEG if alpha_format == "jpg" else _PNG
    clock = [time.perf_counter()]

    def write(t, fg, alpha):
        _save(fgr_dir / f"{_frame_name(t)}.jpg", fg, _JPEG)
        _save(pha_dir / f"{_frame_name(t)}.{alpha_format}", alpha, alpha_params)
        now = time.perf_counter()
        log.frame(f"{split}/{name} (seed {seed}) frame {t}", now - clock[0])
        clock[0] = now

    render_clip(seed, todo, size, settings, write, length=frames)


def _evaluation_clip(out, index, seed, frames, size, settings, log) -> None:
    clip = out / f"{index:04d}"

    def missing(kind: str) -> list[int]:
        return [t for t in range(frames) if not (clip / kind / f"{_frame_name(t)}.png").exists()]

    clock = [time.perf_counter()]

    def tick(what: str) -> None:
        now = time.perf_counter()
        log.frame(f"{clip.name} (seed {seed}) {what}", now - clock[0])
        clock[0] = now

    def write_person(t, fg, alpha):
        _save(clip / "fgr" / f"{_frame_name(t)}.png", fg, _PNG)
        _save(clip / "pha" / f"{_frame_name(t)}.png", alpha, _PNG)
        tick(f"person {t}")

    def write_room(t, image):
        _save(clip / "bgr" / f"{_frame_name(t)}.png", image, _PNG)
        tick(f"room {t}")

    person_todo = sorted(set(missing("fgr")) | set(missing("pha")))
    render_clip(seed, person_todo, size, settings, write_person, length=frames)
    clock[0] = time.perf_counter()
    render_room(
        seed, size, settings, write_room, clip_seed=seed, frames=missing("bgr"), length=frames
    )
    for t in missing("com"):
        name = _frame_name(t)
        fg, alpha, bg = (_read(clip / kind / f"{name}.png") for kind in ("fgr", "pha", "bgr"))
        a = alpha[..., None]
        _save(clip / "com" / f"{name}.png", a * fg + (1 - a) * bg, _PNG)


def render_sample_shot(
    out_dir: str | Path,
    seed: int,
    *,
    frames: int = 36,
    size: tuple[int, int] = (288, 512),
    samples: int = 32,
    first_frame: int = 1001,
    compression: str = "dwaa:45",
    settings: RenderSettings | None = None,
    quiet: bool = False,
) -> list[Path]:
    """Render person `seed` over room `seed` as scene-linear half-float EXR sequences numbered
    from `first_frame`: out_dir/plate.####.exr (RGB, no transparency) and out_dir/matte.####.exr
    (the exact alpha, one channel A), compressed with `compression` (an OpenImageIO name such as
    "dwaa:45" or "zip"). The person is rendered over a transparent film and composited in linear
    light over the room seen through the same moving camera: plate = person (premultiplied) +
    (1 - alpha) room, each with its display exposure folded in. Existing frames are kept (the
    person pass is cached under out_dir/.person until every plate is written).
    Returns the plate paths."""
    from training.synthetic.blender_scene import build_clip_scene, build_room_scene, render_frame

    if not 1 <= frames <= 1000:
        raise ValueError(f"frames must be in 1..1000, got {frames}")
    settings = settings or RenderSettings(samples=samples)
    out_dir = Path(out_dir)
    cache = out_dir / ".person"
    cache.mkdir(parents=True, exist_ok=True)
    numbers = [first_frame + t for t in range(frames)]
    plates = [out_dir / f"plate.{n:04d}.exr" for n in numbers]
    todo = [t for t in range(frames) if not plates[t].exists()]
    spec = sample_scene(seed)
    person_gain = np.float32(2.0**spec.lighting.exposure)
    room_gain = np.float32(2.0**_PLATE_EXPOSURE)
    need_person = [t for t in todo if not (cache / f"{numbers[t]:04d}.exr").exists()]
    if need_person:
        import bpy

        build_clip_scene(spec, size, settings, range(frames))
        for t in need_person:
            start = time.perf_counter()
            rgba = render_frame(bpy.context.scene, t, transparent=True)
            _write_exr(cache / f"{numbers[t]:04d}.exr", rgba, ("R", "G", "B", "A"), "zip")
            if not quiet:
                print(f"person {numbers[t]}: {time.perf_counter() - start:.1f} s", flush=True)

    if todo:
        import bpy

        build_room_scene(
            sample_room(seed),
            size,
            dataclasses.replace(settings, denoise=True),
            spec,
            range(frames),
        )
        for t in todo:
            start = time.perf_counter()
            room = render_frame(bpy.context.scene, t, transparent=False)[..., :3]
            person = _read_exr(cache / f"{numbers[t]:04d}.exr")
            alpha = np.clip(person[..., 3:4], 0.0, 1.0)
            plate = person[..., :3] * person_gain + (1.0 - alpha) * room * room_gain
            _write_exr(out_dir / f"matte.{numbers[t]:04d}.exr", alpha, ("A",), compression)
            _write_exr(plates[t], plate, ("R", "G", "B"), compression)
            if not quiet:
                print(f"room + plate {numbers[t]}: {time.perf_counter() - start:.1f} s", flush=True)
    for path in cache.glob("*.exr"):
        path.unlink()
    cache.rmdir()
    return plates


def _write_exr(path: Path, pixels: np.ndarray, channels: tuple[str, ...], compression: str) -> None:
    """Half-float scene-linear (Rec.709) EXR, written through a temporary name."""
    import OpenImageIO as oiio

    h, w = pixels.shape[:2]
    spec = oiio.ImageSpec(w, h, len(channels), oiio.HALF)
    spec.channelnames = channels
    if "A" in channels:
        spec.alpha_channel = channels.index("A")
    spec.attribute("compression", compression)
    spec.attribute("oiio:ColorSpace", "lin_rec709")
    spec.attribute("chromaticities", oiio.TypeDesc("float[8]"), _REC709_CHROMATICITIES)
    spec.attribute("Software", "memmatte training.synthetic.rendered")
    partial = path.with_name(f".{path.stem}.partial.exr")
    out = oiio.ImageOutput.create(str(partial))
    if out is None or not out.open(str(partial), spec):
        raise OSError(f"could not write {partial}: {oiio.geterror()}")
    data = np.ascontiguousarray(pixels.reshape(h, w, len(channels)), np.float16)
    if not out.write_image(data):
        raise OSError(f"could not write {partial}: {out.geterror()}")
    out.close()
    os.replace(partial, path)


def _read_exr(path: Path) -> np.ndarray:
    import OpenImageIO as oiio

    pixels = oiio.ImageBuf(str(path)).get_pixels(oiio.FLOAT)
    if pixels is None:
        raise OSError(f"could not read {path}: {oiio.geterror()}")
    return pixels


def contact_sheet(
    path: str | Path,
    seeds: list[int],
    *,
    size: tuple[int, int] = (144, 256),
    frame: int = 0,
    settings: RenderSettings | None = None,
) -> np.ndarray:
    """Write a PNG grid, one row per seed: the person over their room | alpha | foreground over a
    checkerboard, at frame `frame`. Returns the sheet (rows, cols, 3) uint8 RGB."""
    from training.synthetic.procedural import _border, _checkerboard, _to_uint8

    settings = settings or RenderSettings()
    rows = []
    for seed in seeds:
        got: dict[str, np.ndarray] = {}
        render_clip(
            seed, [frame], size, settings, lambda t, fg, a, got=got: got.update(fg=fg, alpha=a)
        )
        render_room(
            seed,
            size,
            settings,
            lambda t, img, got=got: got.update(bg=img),
            clip_seed=seed,
            frames=[frame],
        )
        a = got["alpha"][..., None]
        checker = _checkerboard(size, max(4, size[0] // 18))
        tiles = [
            a * got["fg"] + (1 - a) * got["bg"],
            np.repeat(a, 3, axis=2),
            a * got["fg"] + (1 - a) * checker,
        ]
        row = np.concatenate([_border(_to_uint8(x)) for x in tiles], axis=1)
        spec = sample_scene(seed)
        fig = spec.figure
        label = (
            f"seed {seed}: {fig.hair.style} hair, {fig.clothing.neckline} "
            f"{fig.clothing.pattern}, f/{spec.camera.fstop:.1f}"
            + (", fast" if spec.motion.fast else "")
        )
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
            cv2.putText(
                row, label, (6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, thickness, cv2.LINE_AA
            )
        rows.append(row)
    sheet = np.concatenate(rows, axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write contact sheet {path}")
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.synthetic.rendered", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="dataset root to write (or to resume)")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument(
        "--size",
        type=lambda text: frame_size(text, minimum=16),
        default=(288, 512),
        help="WIDTHxHEIGHT, e.g. 512x288",
    )
    parser.add_argument("--seed", type=int, default=0, help="clip i uses seed SEED + i")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel")
    parser.add_argument(
        "--strand-scale",
        type=float,
        default=1.0,
        help="scale the hair strand counts (about 3.5k-6k scalp strands at 1)",
    )
    parser.add_argument("--denoise", action="store_true", help="OpenImageDenoise the colour")
    parser.add_argument("--no-motion-blur", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="render threads (0: all cores)")
    parser.add_argument("--layout", choices=("videomatte", "evaluation"), default="videomatte")
    parser.add_argument(
        "--backgrounds",
        type=int,
        default=0,
        help="room plates to render (videomatte layout), room i from SEED + i",
    )
    parser.add_argument("--background-root", type=Path, help="default: OUT + '_bg'")
    parser.add_argument("--valid-fraction", type=float, default=0.1)
    parser.add_argument("--alpha-format", choices=("jpg", "png"), default="jpg")
    parser.add_argument("--contact-sheet", type=Path, help="write a contact sheet PNG of 6 clips")
    parser.add_argument(
        "--sample-shot",
        type=Path,
        help="write the person of --seed in a room as plate.####.exr here",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.out is None and args.contact_sheet is None and args.sample_shot is None:
        parser.error("give --out, --contact-sheet or --sample-shot")
    settings = RenderSettings(
        samples=args.samples,
        strand_scale=args.strand_scale,
        denoise=args.denoise,
        motion_blur=not args.no_motion_blur,
        threads=args.threads,
    )
    start = time.perf_counter()
    if args.out is not None:
        n, seconds = write_rendered(
            args.out,
            clips=args.clips,
            frames=args.frames,
            size=args.size,
            seed=args.seed,
            settings=settings,
            layout=args.layout,
            backgrounds=args.backgrounds if args.layout == "videomatte" else 0,
            background_root=args.background_root,
            valid_fraction=args.valid_fraction,
            alpha_format=args.alpha_format,
            quiet=args.quiet,
        )
        h, w = args.size
        per = f", {seconds / n:.2f} s per {w}x{h} render" if n else " (nothing was missing)"
        print(f"rendered {n} frames into {args.out}{per}")
    if args.contact_sheet is not None:
        contact_sheet(args.contact_sheet, [args.seed + i for i in range(6)], settings=settings)
        print(f"wrote {args.contact_sheet}")
    if args.sample_shot is not None:
        paths = render_sample_shot(
            args.sample_shot,
            args.seed,
            frames=args.frames,
            size=args.size,
            settings=settings,
            quiet=args.quiet,
        )
        print(f"wrote {len(paths)} frames to {args.sample_shot}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
