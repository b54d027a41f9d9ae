"""Affine trajectories: per-clip start and end parameters eased over T frames, and the warp.

A trajectory is a ``(T, 6)`` array of parameters per frame, in the order of :data:`PARAMS`:
rotation (degrees, counter-clockwise on screen), translation x and y (fractions of the output
width and height), isotropic scale, shear x and y (degrees). :func:`centred_affine` turns one
row into a 3x3 matrix about the output centre; matrices map source pixel coordinates to output
pixel coordinates (pixel centres at integer coordinates, cv2's convention).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PARAMS = ("rotation", "translate_x", "translate_y", "scale", "shear_x", "shear_y")


def _back_in_out(t: float) -> float:
    c = 1.70158 * 1.525
    u = 2.0 * t
    if u < 1.0:
        return u * u * ((c + 1.0) * u - c) / 2.0
    u -= 2.0
    return (u * u * ((c + 1.0) * u + c) + 2.0) / 2.0


EASINGS: dict[str, Callable[[float], float]] = {
    "linear": lambda t: t,
    "quad_in": lambda t: t * t,
    "quad_out": lambda t: 1.0 - (1.0 - t) ** 2,
    "quad_in_out": lambda t: 2 * t * t if t < 0.5 else 1.0 - 2 * (1.0 - t) ** 2,
    "cubic_in_out": lambda t: 4 * t**3 if t < 0.5 else 1.0 - 4 * (1.0 - t) ** 3,
    "sine_in_out": lambda t: 0.5 - 0.5 * math.cos(math.pi * t),
    "back_in_out": _back_in_out,
    # A sudden jump half-way: a cut or a bumped camera, which a memory of past frames must survive.
    "step": lambda t: 0.0 if t < 0.5 else 1.0,
}

SMOOTH_EASINGS = tuple(name for name in EASINGS if name != "step")


def easing_curve(name: str, length: int) -> np.ndarray:
    """``(length,)`` progress values in [0, 1] (``back_in_out`` overshoots slightly); 0 for T=1."""
    if name not in EASINGS:
        raise ValueError(f"unknown easing {name!r}; choose from {sorted(EASINGS)}")
    if length == 1:
        return np.zeros(1)
    fn = EASINGS[name]
    return np.array([fn(k / (length - 1)) for k in range(length)])


@dataclass(frozen=True)
class AffineRange:
    """Symmetric ranges for one affine draw: each parameter is uniform in ``[-x, x]``, scale in
    ``[scale[0], scale[1]]``. Translation is a fraction of the output size."""

    rotation: float = 0.0
    translate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    shear: float = 0.0

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One ``(6,)`` parameter vector."""
        return np.array(
            [
                rng.uniform(-self.rotation, self.rotation),
                rng.uniform(-self.translate, self.translate),
                rng.uniform(-self.translate, self.translate),
                rng.uniform(*self.scale),
                rng.uniform(-self.shear, self.shear),
                rng.uniform(-self.shear, self.shear),
            ]
        )


def sample_trajectory(
    rng: np.random.Generator,
    length: int,
    start: AffineRange,
    motion: AffineRange | None,
    easings: Sequence[str],
) -> np.ndarray:
    """``(length, 6)`` parameters: a start drawn from ``start``, an end that adds a draw from
    ``motion`` (scale multiplies), and an easing from ``easings`` in between. ``motion=None``
    gives a static pose repeated over the clip."""
    a = start.sample(rng)
    if motion is None:
        return np.tile(a, (length, 1))
    delta = motion.sample(rng)
    b = a + delta
    b[3] = a[3] * delta[3]
    progress = easing_curve(easings[rng.integers(len(easings))], length)
    return a[None, :] + progress[:, None] * (b - a)[None, :]


def centred_affine(params: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """3x3 matrix for one parameter row, acting about the centre of an output of ``size=(H, W)``."""
    rotation, tx, ty, scale, shear_x, shear_y = params
    h, w = size
    theta = math.radians(rotation)
    # Image y points down, so a counter-clockwise turn on screen is a negative angle in maths axes.
    rot = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
    shear = np.array(
        [[1.0, math.tan(math.radians(shear_x))], [math.tan(math.radians(shear_y)), 1.0]]
    )
    linear = scale * rot @ shear
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    m = np.eye(3)
    m[:2, :2] = linear
    m[:2, 2] = centre + np.array([tx * w, ty * h]) - linear @ centre
    return m


def fit_matrix(
    source_size: tuple[int, int],
    size: tuple[int, int],
    zoom: float = 1.0,
    aspect: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
    hflip: bool = False,
) -> np.ndarray:
    """3x3 matrix that scales a source of ``(H0, W0)`` to cover an output of ``size=(H, W)``
    (the short side fits, the long side is centre-cropped), then zooms by ``zoom``, stretches
    width/height by ``aspect``, shifts by ``offset`` pixels ``(dx, dy)`` and mirrors if ``hflip``."""
    h0, w0 = source_size
    h, w = size
    cover = max(h / h0, w / w0) * zoom
    sx, sy = cover * math.sqrt(aspect), cover / math.sqrt(aspect)
    if zoom >= 1.0:
        # Keep the source covering the frame after the aspect stretch.
        sx, sy = np.array([sx, sy]) * max(1.0, w / (sx * w0), h / (sy * h0))
    m = np.diag([-sx if hflip else sx, sy, 1.0])
    m[:2, 2] = np.array([(w - 1) / 2.0 + offset[0], (h - 1) / 2.0 + offset[1]]) - m[:2, :2] @ [
        (w0 - 1) / 2.0,
        (h0 - 1) / 2.0,
    ]
    return m


def crop_slack(source_size: tuple[int, int], size: tuple[int, int], zoom: float) -> np.ndarray:
    """How far ``(dx, dy)`` in output pixels a covering source can shift and still cover."""
    h0, w0 = source_size
    h, w = size
    cover = max(h / h0, w / w0) * zoom
    return np.maximum(0.0, (np.array([w0, h0]) * cover - np.array([w, h])) / 2.0)


# Below this scale a bilinear warp aliases; sources are first shrunk with area averaging.
_MIN_WARP_SCALE = 0.75


def warp_frames(
    frames: Sequence[np.ndarray],
    matrices: Sequence[np.ndarray],
    size: tuple[int, int],
    border: int,
    border_value: float = 0.0,
) -> np.ndarray:
    """Warps frame ``t`` by ``matrices[t]`` to ``size=(H, W)``; returns ``(T, H, W[, C])`` in the
    frames' dtype. Frames passed as the same array object (a still repeated T times) are
    pre-shrunk once."""
    h, w = size
    scales = [math.sqrt(abs(np.linalg.det(m[:2, :2]))) for m in matrices]
    shrunk: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for frame, m, s in zip(frames, matrices, scales, strict=True):
        if s < _MIN_WARP_SCALE:
            key = id(frame)
            if key not in shrunk:
                shrunk[key] = _shrink(frame, min(scales) / 0.9)
            frame, to_small = shrunk[key]
            m = m @ np.linalg.inv(to_small)
        out.append(
            cv2.warpAffine(
                frame,
                m[:2],
                (w, h),
                flags=cv2.INTER_LINEAR,
                borderMode=border,
                borderValue=border_value,
            )
        )
    return np.stack(out)


def _shrink(frame: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    h0, w0 = frame.shape[:2]
    nw, nh = max(1, round(w0 * factor)), max(1, round(h0 * factor))
    small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    rx, ry = nw / w0, nh / h0
    # Pixel-centre convention: x_small = (x + 0.5) * r - 0.5.
    to_small = np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5], [0.0, 0.0, 1.0]])
    return small, to_small
