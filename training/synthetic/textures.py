"""Procedural textures: value noise, fabric patterns and soft shape masks for painting canvases.

All images are float32 sRGB in [0, 1]; masks are float32 in [0, 1] with a one-pixel soft edge.
"""

from __future__ import annotations

import cv2
import numpy as np

SKIN_TONES = np.array(
    [
        (0.96, 0.80, 0.69),
        (0.93, 0.74, 0.62),
        (0.86, 0.65, 0.50),
        (0.78, 0.56, 0.41),
        (0.66, 0.45, 0.31),
        (0.53, 0.35, 0.23),
        (0.40, 0.26, 0.17),
        (0.29, 0.18, 0.12),
    ],
    np.float32,
)

CLOTH_PATTERNS = ("solid", "stripes", "checks", "dots", "knit")


def value_noise(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, octaves: int = 3
) -> np.ndarray:
    """Smooth noise (h, w) float32 in [0, 1]: random grids of `cell`-pixel spacing, bicubic-upsampled
    and summed over `octaves` halving the cell and the amplitude each time."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    amplitude = 1.0
    for _ in range(octaves):
        gh = max(2, int(h / cell) + 2)
        gw = max(2, int(w / cell) + 2)
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amplitude * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amplitude *= 0.5
        cell = max(cell / 2.0, 1.0)
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def random_colour(rng: np.random.Generator, saturation=(0.2, 0.9), value=(0.2, 0.95)) -> np.ndarray:
    """One sRGB colour (3,) float32 drawn in HSV."""
    hsv = np.array(
        [[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]],
        np.float32,
    ).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def soft_ellipse(x, y, cx, cy, rx, ry, pixel: float, angle: float = 0.0) -> np.ndarray:
    """Mask of an ellipse on coordinate grids `x`, `y` with an edge `pixel` units wide."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = x - cx, y - cy
    u = (c * dx + s * dy) / rx
    v = (-s * dx + c * dy) / ry
    dist = (np.sqrt(u * u + v * v) - 1.0) * min(rx, ry)
    return np.clip(0.5 - dist / pixel, 0.0, 1.0).astype(np.float32)


def paint(canvas: np.ndarray, mask: np.ndarray, colour) -> None:
    """Blend `colour` ((3,) or (h, w, 3)) into `canvas` (h, w, 3) where `mask` (h, w), in place."""
    canvas += mask[..., None] * (np.asarray(colour, np.float32) - canvas)


def cloth_texture(
    rng: np.random.Generator, x: np.ndarray, y: np.ndarray, base: np.ndarray, kind: str
) -> np.ndarray:
    """Fabric (h, w, 3) on coordinate grids `x`, `y` in figure units (frame heights).

    Every kind carries soft vertical folds; `kind` is one of CLOTH_PATTERNS.
    """
    h, w = x.shape
    pixel = float(x[0, 1] - x[0, 0])
    second = random_colour(rng)
    folds = value_noise(rng, (max(2, h // 6), w), cell=max(2.0, 0.08 / pixel), octaves=2)
    folds = cv2.resize(folds, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    if kind == "stripes":
        period = rng.uniform(0.015, 0.08)
        angle = rng.choice([0.0, np.pi / 2, rng.uniform(-0.6, 0.6)])
        phase = (np.cos(angle) * y + np.sin(angle) * x) / period
        duty = rng.uniform(0.25, 0.6)
        stripe = np.clip(
            (np.abs((phase % 1.0) - 0.5) - (0.5 - duty / 2)) * period / pixel + 0.5, 0, 1
        )
        paint(out, stripe.astype(np.float32), second)
    elif kind == "checks":
        period = rng.uniform(0.03, 0.1)
        band = rng.uniform(0.15, 0.4)
        across = (np.abs((x / period) % 1.0 - 0.5) < band).astype(np.float32)
        down = (np.abs((y / period) % 1.0 - 0.5) < band).astype(np.float32)
        paint(out, 0.45 * (across + down), second)
    elif kind == "dots":
        period = rng.uniform(0.025, 0.07)
        radius = period * rng.uniform(0.15, 0.35)
        dx = (x / period) % 1.0 - 0.5
        dy = (y / period + 0.5 * (np.floor(x / period) % 2)) % 1.0 - 0.5
        dist = (np.sqrt(dx * dx + dy * dy) * period - radius) / pixel
        paint(out, np.clip(0.5 - dist, 0, 1).astype(np.float32), second)
    elif kind == "knit":
        grain = value_noise(rng, (h, w), cell=max(1.5, 0.006 / pixel), octaves=2)
        out = out * (0.8 + 0.4 * grain[..., None])
    shade = 0.75 + 0.35 * folds
    return np.clip(out * shade[..., None], 0.0, 1.0).astype(np.float32)
