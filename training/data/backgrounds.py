"""Background sources that matting readers composite their foregrounds over (paper eq. 1)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .base import require_dir
from .errors import layout_error
from .reading import check_one_size, list_dirs, list_images, read_rgb
from .sampling import FrameSampling, sample_frame_indices


class BackgroundSource(Protocol):
    """Anything that can hand a matting reader T background frames."""

    def sample(
        self, rng: np.random.Generator, length: int, sampling: FrameSampling
    ) -> list[np.ndarray]:
        """``length`` frames ``(H, W, 3)`` uint8 RGB of one size; motion is added later."""
        ...


class BackgroundImages:
    """Still backgrounds: one image repeated over the clip (the augmentation may move it).

    Layout (e.g. BG-20k, or RVM's ``Backgrounds/{train,valid}``)::

        root/
          0001.jpg
          0002.png
          ...
    """

    _EXPECTED = "<root>/*.jpg|png (a flat folder of background images)"

    def __init__(self, root: str | Path) -> None:
        self.root = require_dir("BackgroundImages", self._EXPECTED, Path(root))
        self.files = list_images(self.root)
        if not self.files:
            raise layout_error("BackgroundImages", self._EXPECTED, f"{self.root} has no images")

    def __len__(self) -> int:
        return len(self.files)

    def sample(
        self, rng: np.random.Generator, length: int, sampling: FrameSampling
    ) -> list[np.ndarray]:
        image = read_rgb(self.files[int(rng.integers(len(self.files)))])
        return [image] * length


class BackgroundVideos:
    """Moving backgrounds: frame sequences, sampled with the clip's speed and direction.

    Layout (e.g. RVM's DVM-derived ``BackgroundVideos``, or VideoMatting108's ``BG_done``)::

        root/
          0000/
            0000.jpg
            0001.jpg
          0001/
            ...
    """

    _EXPECTED = "<root>/<clip>/<frame>.jpg|png"

    def __init__(self, root: str | Path) -> None:
        self.root = require_dir("BackgroundVideos", self._EXPECTED, Path(root))
        self.clips = list_dirs(self.root)
        if not self.clips:
            raise layout_error(
                "BackgroundVideos", self._EXPECTED, f"{self.root} has no clip folders"
            )
        self.frames = []
        for clip in self.clips:
            frames = list_images(clip)
            if not frames:
                raise layout_error("BackgroundVideos", self._EXPECTED, f"{clip} has no frames")
            self.frames.append(frames)

    def __len__(self) -> int:
        return len(self.clips)

    def sample(
        self, rng: np.random.Generator, length: int, sampling: FrameSampling
    ) -> list[np.ndarray]:
        frames = self.frames[int(rng.integers(len(self.frames)))]
        indices = sample_frame_indices(rng, len(frames), length, None, sampling)
        decoded = {i: read_rgb(frames[i]) for i in sorted(set(indices))}
        check_one_size(decoded, frames)
        return [decoded[i] for i in indices]


class BackgroundMix:
    """Picks one of several sources per clip; RVM uses images and videos half and half."""

    def __init__(
        self, sources: Sequence[BackgroundSource], weights: Sequence[float] | None = None
    ) -> None:
        if not sources:
            raise ValueError("BackgroundMix needs at least one source")
        w = np.ones(len(sources)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(sources),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {len(sources)} non-negative numbers, got {weights}")
        self.sources = list(sources)
        self.weights = w / w.sum()

    def sample(
        self, rng: np.random.Generator, length: int, sampling: FrameSampling
    ) -> list[np.ndarray]:
        source = self.sources[int(rng.choice(len(self.sources), p=self.weights))]
        return source.sample(rng, length, sampling)
