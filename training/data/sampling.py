"""Temporal sampling: which source frames make a T-frame clip (speed, offset, reverse playback)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameSampling:
    """How a clip's frame indices are drawn from a source video.

    ``speeds``: playback speeds to choose from (2 takes every second frame, 0.5 shows each frame
    twice). ``reverse_prob``: chance of playing the clip backwards. ``random_offset``: start up to
    T-1 frames after the item's anchor, so successive epochs see different windows.
    """

    speeds: tuple[float, ...] = (1.0,)
    reverse_prob: float = 0.0
    random_offset: bool = False

    @classmethod
    def train(cls) -> FrameSampling:
        """RVM's training sampler: speeds 0.5-5, reversed half the time."""
        return cls(speeds=(0.5, 1.0, 2.0, 3.0, 4.0, 5.0), reverse_prob=0.5, random_offset=True)

    @classmethod
    def sequential(cls) -> FrameSampling:
        """T consecutive frames from the anchor, forwards: validation."""
        return cls()


def reflect_indices(positions: np.ndarray, num_frames: int) -> np.ndarray:
    """Folds positions past either end back into ``[0, num_frames)``, ping-pong style, so a
    window longer than the video plays on backwards instead of jumping to the start."""
    if num_frames == 1:
        return np.zeros_like(positions)
    period = 2 * (num_frames - 1)
    p = np.mod(positions, period)
    return np.where(p >= num_frames, period - p, p)


def sample_frame_indices(
    rng: np.random.Generator,
    num_frames: int,
    length: int,
    anchor: int | None,
    sampling: FrameSampling,
) -> list[int]:
    """``length`` indices into a video of ``num_frames`` frames, starting at ``anchor`` (plus the
    random offset), or with ``anchor=None`` at a random start where the window fits if it can."""
    speed = sampling.speeds[rng.integers(len(sampling.speeds))]
    steps = np.floor(np.arange(length) * speed).astype(np.int64)
    if anchor is None:
        start = int(rng.integers(max(1, num_frames - int(steps[-1]))))
    else:
        start = anchor + (int(rng.integers(length)) if sampling.random_offset else 0)
    positions = start + steps
    indices = reflect_indices(positions, num_frames)
    if rng.random() < sampling.reverse_prob:
        indices = indices[::-1]
    return [int(i) for i in indices]
