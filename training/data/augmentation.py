"""Video augmentation for matting and segmentation clips, after Robust Video Matting's
``MotionAugmentation`` but written on numpy/cv2/torch.

One call turns decoded source frames into fixed-size float clips:

1. geometry, per layer: fit the source to the output (cover, optional random zoom, aspect
   stretch, crop position and mirror), then an affine *trajectory* (start pose, optional motion
   to an end pose, eased over T frames). The foreground and its alpha share one trajectory; the
   background gets its own, so it moves independently; an optional camera trajectory moves both.
   Each frame is warped once, straight to the output size.
2. photometric, at the output size: Gaussian blur (foreground and alpha with the same kernel),
   colour jitter per layer (per-clip values that may drift over time), greyscale, sensor noise
   (one noise field added to foreground and background, which is exactly noise on the
   composite ``I = alpha F + (1 - alpha) B``), and an optional pause (frozen frames).

Randomness comes only from the ``numpy.random.Generator`` passed in, so a dataset item is
reproducible from its seed and index. Temporal sampling (speed, reverse playback) happens
before decoding; see :mod:`training.data.sampling`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np
import torch

from . import photometric
from .affine import (
    EASINGS,
    AffineRange,
    centred_affine,
    crop_slack,
    easing_curve,
    fit_matrix,
    sample_trajectory,
    warp_frames,
)
from .sampling import FrameSampling

# RVM's motion range: +-10 degrees, +-10 % shift, 0.9-1.1 zoom, +-5 degrees shear.
RVM_MOTION = AffineRange(rotation=10.0, translate=0.1, scale=(0.9, 1.1), shear=5.0)


@dataclass(frozen=True)
class ColourJitter:
    """Per-clip colour change. Brightness, contrast and saturation are offsets from a factor of 1
    (0.1 means factors in [0.9, 1.1]); hue is a rotation in turns. A clip draws a start and an end
    value for each and moves from start towards end by up to ``drift`` (0 = constant colour)."""

    brightness: float = 0.1
    contrast: float = 0.1
    saturation: float = 0.1
    hue: float = 0.02
    drift: float = 0.2


@dataclass(frozen=True)
class AugmentationConfig:
    """Probabilities and ranges for :func:`augment_matting` and :func:`augment_segmentation`.

    Zoom ranges are relative to the scale at which the source just covers the output: a
    foreground zoom below 1 leaves it smaller than the frame, a background zoom of at least 1
    keeps the frame covered. ``*_pose`` is a static pose drawn per clip; ``motion`` is added to
    it to get the end pose when a layer moves (``*_motion_prob``).
    """

    frames: FrameSampling = field(default_factory=FrameSampling)
    random_crop: bool = False
    fgr_zoom: tuple[float, float] = (1.0, 1.0)
    bgr_zoom: tuple[float, float] = (1.0, 1.0)
    aspect: tuple[float, float] = (1.0, 1.0)
    fgr_pose: AffineRange = field(default_factory=AffineRange)
    bgr_pose: AffineRange = field(default_factory=AffineRange)
    motion: AffineRange = RVM_MOTION
    fgr_motion_prob: float = 0.0
    bgr_motion_prob: float = 0.0
    camera_motion_prob: float = 0.0
    easings: tuple[str, ...] = tuple(EASINGS)
    hflip_prob: float = 0.0
    colour_prob: float = 0.0
    colour: ColourJitter = field(default_factory=ColourJitter)
    greyscale_prob: float = 0.0
    noise_prob: float = 0.0
    noise_std: float = 0.1
    noise_grain: tuple[float, float] = (1.0, 4.0)
    blur_prob: float = 0.0
    blur_sigma: float = 5.0
    pause_prob: float = 0.0

    def __post_init__(self) -> None:
        unknown = [e for e in self.easings if e not in EASINGS]
        if unknown or not self.easings:
            raise ValueError(f"easings must be a non-empty subset of {sorted(EASINGS)}: {unknown}")

    @classmethod
    def none(cls) -> AugmentationConfig:
        """Deterministic: consecutive frames, centre crop, no motion or colour change (validation)."""
        return cls()

    @classmethod
    def video_train(cls) -> AugmentationConfig:
        """RVM's VideoMatte training probabilities: real video already moves, so extra motion is rare."""
        pose = AffineRange(rotation=10.0, translate=0.1, shear=5.0)
        return cls(
            frames=FrameSampling.train(),
            random_crop=True,
            fgr_zoom=(0.5, 1.0),
            bgr_zoom=(1.0, 1.5),
            aspect=(0.9, 1.1),
            fgr_pose=pose,
            bgr_pose=pose,
            fgr_motion_prob=0.3,
            bgr_motion_prob=0.15,
            camera_motion_prob=0.15,
            hflip_prob=0.5,
            colour_prob=0.3,
            greyscale_prob=0.02,
            noise_prob=0.1,
            blur_prob=0.02,
            pause_prob=0.03,
        )

    @classmethod
    def image_train(cls) -> AugmentationConfig:
        """RVM's ImageMatte probabilities: a still foreground is almost always set in motion."""
        return replace(cls.video_train(), fgr_motion_prob=0.95, noise_prob=0.05)

    @classmethod
    def segmentation_train(cls) -> AugmentationConfig:
        """RVM's COCO / YouTube-VIS settings: wider pose and aspect ranges, colour always jittered,
        and motion for pseudo-clips made from stills."""
        return cls(
            frames=FrameSampling.train(),
            random_crop=True,
            fgr_zoom=(1.0, 1.4),
            aspect=(0.7, 1.3),
            fgr_pose=AffineRange(rotation=20.0, translate=0.1, shear=10.0),
            fgr_motion_prob=0.95,
            hflip_prob=0.5,
            colour_prob=1.0,
            colour=ColourJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.15),
            greyscale_prob=0.05,
            noise_prob=0.05,
            blur_prob=0.02,
        )


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W[, C])`` uint8 -> ``(T, C, H, W)`` float in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(frames))
    if t.ndim == 3:
        t = t.unsqueeze(-1)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def _uniform_range(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _layer_matrices(
    rng: np.random.Generator,
    config: AugmentationConfig,
    source_size: tuple[int, int],
    size: tuple[int, int],
    length: int,
    layer: Literal["fgr", "bgr"],
) -> list[np.ndarray]:
    """Per-frame source-to-output matrices of one layer: fit, then its pose trajectory."""
    if layer == "fgr":
        zoom_range, pose, motion_prob = config.fgr_zoom, config.fgr_pose, config.fgr_motion_prob
    else:
        zoom_range, pose, motion_prob = config.bgr_zoom, config.bgr_pose, config.bgr_motion_prob
    zoom = _uniform_range(rng, zoom_range)
    aspect = math.exp(rng.uniform(math.log(config.aspect[0]), math.log(config.aspect[1])))
    hflip = bool(rng.random() < config.hflip_prob)
    offset = (0.0, 0.0)
    if config.random_crop:
        slack = crop_slack(source_size, size, zoom)
        offset = (float(rng.uniform(-slack[0], slack[0])), float(rng.uniform(-slack[1], slack[1])))
    base = fit_matrix(source_size, size, zoom, aspect, offset, hflip)
    motion = config.motion if rng.random() < motion_prob else None
    trajectory = sample_trajectory(rng, length, pose, motion, config.easings)
    return [centred_affine(p, size) @ base for p in trajectory]


def _camera(
    rng: np.random.Generator, config: AugmentationConfig, size: tuple[int, int], length: int
) -> list[np.ndarray] | None:
    if rng.random() >= config.camera_motion_prob:
        return None
    trajectory = sample_trajectory(rng, length, AffineRange(), config.motion, config.easings)
    return [centred_affine(p, size) for p in trajectory]


def _eased(
    rng: np.random.Generator,
    config: AugmentationConfig,
    start: np.ndarray,
    end: np.ndarray,
    length: int,
) -> np.ndarray:
    """``(length, n)`` values moving from ``start`` to ``end`` along a random easing."""
    progress = easing_curve(config.easings[rng.integers(len(config.easings))], length)
    return start + progress[:, None] * (end - start)


def _colour(
    rng: np.random.Generator, config: AugmentationConfig, clip: torch.Tensor
) -> torch.Tensor:
    jitter = config.colour
    ranges = np.array([jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue])
    start, end = rng.uniform(-ranges, ranges), rng.uniform(-ranges, ranges)
    drift = rng.uniform(0.0, jitter.drift)
    values = torch.from_numpy(_eased(rng, config, start, start + drift * (end - start), len(clip)))
    b, c, s, h = (values[:, i].float() for i in range(4))
    return photometric.adjust_colour(clip, 1 + b, 1 + c, 1 + s, h)


def _blur_sigmas(rng: np.random.Generator, config: AugmentationConfig, length: int) -> torch.Tensor:
    start, end = rng.uniform(0.0, config.blur_sigma, size=(2, 1))
    return torch.from_numpy(_eased(rng, config, start, end, length)[:, 0]).float()


def _noise(
    rng: np.random.Generator, config: AugmentationConfig, length: int, size: tuple[int, int]
) -> torch.Tensor:
    std = rng.uniform(0.0, config.noise_std)
    grain = _uniform_range(rng, config.noise_grain)
    channels = 1 if rng.random() < 0.5 else 3
    small = (max(1, round(size[0] / grain)), max(1, round(size[1] / grain)))
    field_ = torch.from_numpy(rng.standard_normal((length, channels, *small))).float() * std
    return photometric.grain(field_, size)


def _pause(rng: np.random.Generator, clips: Sequence[torch.Tensor]) -> None:
    length = len(clips[0])
    start = int(rng.integers(length - 1))
    stop = start + 1 + int(rng.integers(1, length - start))
    for clip in clips:
        clip[start + 1 : stop] = clip[start]


def augment_matting(
    config: AugmentationConfig,
    rng: np.random.Generator,
    fgrs: Sequence[np.ndarray],
    phas: Sequence[np.ndarray],
    bgrs: Sequence[np.ndarray],
    size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turns T decoded frames per layer into training tensors.

    Args:
        fgrs: T foreground frames, ``(H0, W0, 3)`` uint8 RGB, all the same size (a still may be
            the same array T times).
        phas: T alphas, ``(H0, W0)`` uint8, aligned with ``fgrs``.
        bgrs: T background frames, ``(H1, W1, 3)`` uint8 RGB, any size.
        size: output ``(H, W)``.

    Returns:
        ``fgr (T, 3, H, W)``, ``pha (T, 1, H, W)``, ``bgr (T, 3, H, W)``: float32 in [0, 1], sRGB.
    """
    length = len(fgrs)
    if not (len(phas) == len(bgrs) == length):
        raise ValueError(f"layers differ in length: {length} fgr, {len(phas)} pha, {len(bgrs)} bgr")
    camera = _camera(rng, config, size, length)
    fgr_m = _layer_matrices(rng, config, fgrs[0].shape[:2], size, length, "fgr")
    bgr_m = _layer_matrices(rng, config, bgrs[0].shape[:2], size, length, "bgr")
    if camera is not None:
        fgr_m = [c @ m for c, m in zip(camera, fgr_m, strict=True)]
        bgr_m = [c @ m for c, m in zip(camera, bgr_m, strict=True)]
    # Outside the source the foreground is fully transparent; replicating its colour there keeps
    # bilinear edges free of black fringes.
    fgr = _to_tensor(warp_frames(fgrs, fgr_m, size, cv2.BORDER_REPLICATE))
    pha = _to_tensor(warp_frames(phas, fgr_m, size, cv2.BORDER_CONSTANT, 0.0))
    bgr = _to_tensor(warp_frames(bgrs, bgr_m, size, cv2.BORDER_REFLECT_101))

    if rng.random() < config.blur_prob:
        target = int(rng.integers(3))  # foreground, background, or both (defocused shot)
        if target in (0, 2):
            fgr, pha = photometric.blur_frames([fgr, pha], _blur_sigmas(rng, config, length))
        if target in (1, 2):
            (bgr,) = photometric.blur_frames([bgr], _blur_sigmas(rng, config, length))
    if rng.random() < config.colour_prob:
        fgr = _colour(rng, config, fgr)
    if rng.random() < config.colour_prob:
        bgr = _colour(rng, config, bgr)
    if rng.random() < config.greyscale_prob:
        fgr, bgr = photometric.greyscale(fgr), photometric.greyscale(bgr)
    if rng.random() < config.noise_prob:
        noise = _noise(rng, config, length, size)
        fgr, bgr = (fgr + noise).clamp_(0, 1), (bgr + noise).clamp_(0, 1)
    if length > 1 and rng.random() < config.pause_prob:
        _pause(rng, (fgr, pha, bgr))
    return fgr, pha, bgr


def augment_segmentation(
    config: AugmentationConfig,
    rng: np.random.Generator,
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`augment_matting` for a full scene and its person mask (no separate background).

    Args:
        images: T frames ``(H0, W0, 3)`` uint8 RGB, all the same size.
        masks: T masks ``(H0, W0)`` uint8, nonzero = person.
        size: output ``(H, W)``.

    Returns:
        ``image (T, 3, H, W)`` float32 in [0, 1] sRGB, ``mask (T, 1, H, W)`` float32 in {0, 1}.
    """
    length = len(images)
    if len(masks) != length:
        raise ValueError(f"{length} images but {len(masks)} masks")
    camera = _camera(rng, config, size, length)
    matrices = _layer_matrices(rng, config, images[0].shape[:2], size, length, "fgr")
    if camera is not None:
        matrices = [c @ m for c, m in zip(camera, matrices, strict=True)]
    # Keyed by identity so a still repeated T times is binarised (and pre-shrunk) once.
    binarised: dict[int, np.ndarray] = {}
    for m in masks:
        binarised.setdefault(id(m), np.where(m > 0, np.uint8(255), np.uint8(0)))
    binary = [binarised[id(m)] for m in masks]
    # The scene is one layer: mirrored borders show plausible content and the mask follows it.
    image = _to_tensor(warp_frames(images, matrices, size, cv2.BORDER_REFLECT_101))
    mask = _to_tensor(warp_frames(binary, matrices, size, cv2.BORDER_REFLECT_101))

    if rng.random() < config.blur_prob:
        image, mask = photometric.blur_frames([image, mask], _blur_sigmas(rng, config, length))
    if rng.random() < config.colour_prob:
        image = _colour(rng, config, image)
    if rng.random() < config.greyscale_prob:
        image = photometric.greyscale(image)
    if rng.random() < config.noise_prob:
        image = (image + _noise(rng, config, length, size)).clamp_(0, 1)
    if length > 1 and rng.random() < config.pause_prob:
        _pause(rng, (image, mask))
    return image, (mask >= 0.5).float()
