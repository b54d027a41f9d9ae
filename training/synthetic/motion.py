"""Smooth affine motion of the figure over a clip.

Every quantity is a constant plus a few sinusoids of the frame time t, so motion is smooth, bounded
for any clip length, and frame t of a clip does not depend on how many frames were asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Head-centre position (frame heights), scale, rotation and head tilt (radians) over time.

    Each `*_waves` array is (K, 3): amplitude, rate (radians per frame), phase.
    """

    centre: tuple[float, float]
    scale: float
    rotation: float
    x_waves: np.ndarray
    y_waves: np.ndarray
    rotation_waves: np.ndarray
    scale_waves: np.ndarray
    tilt_waves: np.ndarray
    fast: bool

    def body(self, t: float, frame_height: int) -> np.ndarray:
        """3x3 affine from figure units to screen pixels at frame time `t`."""
        x = self.centre[0] + _waves(self.x_waves, t)
        y = self.centre[1] + _waves(self.y_waves, t)
        scale = self.scale * (1.0 + _waves(self.scale_waves, t)) * frame_height
        angle = self.rotation + _waves(self.rotation_waves, t)
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        return np.array(
            [[c, -s, x * frame_height], [s, c, y * frame_height], [0, 0, 1]], np.float64
        )

    def head(self, t: float, pivot: np.ndarray) -> np.ndarray:
        """3x3 affine from head-local to figure units: a tilt about the neck `pivot`."""
        angle = _waves(self.tilt_waves, t)
        c, s = np.cos(angle), np.sin(angle)
        px, py = float(pivot[0]), float(pivot[1])
        return np.array(
            [[c, -s, px - c * px + s * py], [s, c, py - s * px - c * py], [0, 0, 1]], np.float64
        )


def sample_trajectory(
    rng: np.random.Generator, aspect: float, *, fast: bool, amount: float
) -> Trajectory:
    """Draw a path for a frame `aspect` (W / H) wide; `fast` adds quick large moves, `amount`
    scales every motion amplitude."""

    def waves(*specs):
        rows = [
            (
                amount * rng.uniform(*amp),
                2 * np.pi / rng.uniform(*period),
                rng.uniform(0, 2 * np.pi),
            )
            for amp, period in specs
        ]
        return np.array(rows, np.float64)

    slow = [((0.0, 0.1 * aspect), (80, 240)), ((0.0, 0.025), (15, 40))]
    x = waves(*slow, *([((0.06, 0.14), (8, 16))] if fast else []))
    y = waves(((0.0, 0.02), (40, 120)), *([((0.02, 0.05), (8, 16))] if fast else []))
    rotation = waves(((0.0, 0.04), (40, 120)), *([((0.04, 0.1), (8, 16))] if fast else []))
    scale = waves(((0.0, 0.06), (60, 200)))
    tilt = waves(((0.02, 0.12), (30, 90)), *([((0.08, 0.18), (8, 14))] if fast else []))
    return Trajectory(
        centre=(rng.uniform(0.38, 0.62) * aspect, rng.uniform(0.3, 0.44)),
        scale=rng.uniform(0.85, 1.3),
        rotation=rng.uniform(-0.06, 0.06),
        x_waves=x,
        y_waves=y,
        rotation_waves=rotation,
        scale_waves=scale,
        tilt_waves=tilt,
        fast=fast,
    )


def _waves(waves: np.ndarray, t: float) -> float:
    if len(waves) == 0:
        return 0.0
    return float(np.sum(waves[:, 0] * np.sin(waves[:, 1] * t + waves[:, 2])))
