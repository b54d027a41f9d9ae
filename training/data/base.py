"""What every reader shares: the item types, seeded randomness and argument checks."""

from __future__ import annotations

import abc

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from .augmentation import AugmentationConfig, augment_segmentation
from .errors import layout_error


class MattingClip(NamedTuple):
    """One matting item; ``default_collate`` batches it to ``(B, T, C, H, W)`` fields.

    fgr: ``(T, 3, H, W)`` float32 in [0, 1], sRGB foreground colour (straight, not premultiplied).
    pha: ``(T, 1, H, W)`` float32 in [0, 1], alpha aligned with ``fgr`` frame by frame.
    bgr: ``(T, 3, H, W)`` float32 in [0, 1], sRGB background. Compose with
    :func:`training.data.compose.composite`.
    """

    fgr: torch.Tensor
    pha: torch.Tensor
    bgr: torch.Tensor


class SegmentationClip(NamedTuple):
    """One segmentation item.

    image: ``(T, 3, H, W)`` float32 in [0, 1], sRGB.
    mask: ``(T, 1, H, W)`` float32, exactly 0 or 1 (1 = person).
    """

    image: torch.Tensor
    mask: torch.Tensor


class ClipDataset(Dataset, abc.ABC):
    """Base for readers that return T-frame clips of a fixed size.

    Item ``i`` draws all its randomness from ``numpy.random.default_rng([seed, epoch, i])``, so it
    is reproducible whichever worker loads it; call :meth:`set_epoch` to vary it between epochs.
    """

    def __init__(
        self,
        clip_length: int,
        size: tuple[int, int],
        augmentation: AugmentationConfig | None,
        seed: int,
    ) -> None:
        if clip_length < 1:
            raise ValueError(f"clip_length must be at least 1, got {clip_length}")
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be (H, W) with positive sides, got {size}")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.clip_length = clip_length
        self.size = (int(size[0]), int(size[1]))
        self.augmentation = augmentation if augmentation is not None else AugmentationConfig.none()
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Changes the random draws of every item (call once per epoch, before iterating)."""
        self.epoch = epoch

    def rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return np.random.default_rng([self.seed, self.epoch, index])

    @abc.abstractmethod
    def __len__(self) -> int: ...


def require_dir(dataset: str, expected: str, path: Path) -> Path:
    """Returns ``path`` if it is a folder, else raises a layout error naming it."""
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise layout_error(dataset, expected, f"{path} {what}")
    return path


def require_file(dataset: str, expected: str, path: Path) -> Path:
    """Returns ``path`` if it is a file, else raises a layout error naming it."""
    if not path.is_file():
        raise layout_error(dataset, expected, f"{path} does not exist")
    return path


class StillSegmentationDataset(ClipDataset):
    """Base for segmentation sets of stills: ``_read(index)`` returns ``(image (H, W, 3) uint8
    RGB, mask (H, W) bool or uint8)`` and the augmentation makes a T-frame pseudo-clip of it."""

    @abc.abstractmethod
    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]: ...

    def __getitem__(self, index: int) -> SegmentationClip:
        rng = self.rng(index)
        image, mask = self._read(index)
        images, masks = [image] * self.clip_length, [mask.astype(np.uint8)] * self.clip_length
        return SegmentationClip(
            *augment_segmentation(self.augmentation, rng, images, masks, self.size)
        )
