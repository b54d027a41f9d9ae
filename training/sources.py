"""The datasets a training stage reads, built from its ``DataConfig`` and ``SegmentationConfig``.

Matting sources are concatenated into one dataset whose items composite over the configured
background sets (paper eq. 1, done by the readers); segmentation sources likewise. Every item is
a pure function of ``(seed, epoch, index)`` (see ``training.data.base.ClipDataset``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset

from training.config import DataConfig, SegmentationConfig
from training.data import (
    AISegmentDataset,
    AugmentationConfig,
    BackgroundImages,
    BackgroundMix,
    BackgroundVideos,
    CocoPanopticPersonDataset,
    ImageMatteDataset,
    SegmentationClip,
    SuperviselyPersonDataset,
    VideoMatteDataset,
    VideoMatting108Dataset,
    YouTubeVISDataset,
    composite,
)
from training.data.base import ClipDataset

_VIDEO_SOURCES = ("videomatte", "videomatting108")


class MissingRootError(ValueError):
    """A source is listed but its ``data.roots`` entry is empty."""


def _root(data: DataConfig, name: str) -> Path:
    root = getattr(data.roots, name)
    if not root:
        raise MissingRootError(
            f"data.roots.{name} is not set; give it in the config or with "
            f"--set data.roots.{name}=/path/to/{name}"
        )
    return Path(root)


def check_roots(data: DataConfig, names: list[str]) -> None:
    """Raises one ``MissingRootError`` naming every empty ``data.roots`` entry in ``names``."""
    missing = [name for name in names if not getattr(data.roots, name)]
    if missing:
        keys = ", ".join(f"data.roots.{name}" for name in missing)
        example = " ".join(f"--set data.roots.{name}=/path" for name in missing)
        raise MissingRootError(f"{keys} not set; give them in the config or with {example}")


def _backgrounds(data: DataConfig) -> BackgroundMix:
    sources = []
    for name in data.backgrounds:
        if name == "images":
            sources.append(BackgroundImages(_root(data, "background_images")))
        else:
            sources.append(BackgroundVideos(_root(data, "background_videos")))
    return BackgroundMix(sources)


def _matting_augmentation(data: DataConfig, source: str) -> AugmentationConfig:
    if not data.augment:
        return AugmentationConfig.none()
    if source in _VIDEO_SOURCES:
        return AugmentationConfig.video_train()
    return AugmentationConfig.image_train()


def matting_dataset(data: DataConfig, seed: int) -> ConcatDataset:
    """Every ``data.matting`` source at ``data.size`` and ``data.clip_length``, concatenated."""
    check_roots(data, [*data.matting, *(f"background_{name}" for name in data.backgrounds)])
    background = _backgrounds(data)
    parts: list[ClipDataset] = []
    for source in data.matting:
        common = {
            "background": background,
            "clip_length": data.clip_length,
            "size": data.size,
            "augmentation": _matting_augmentation(data, source),
            "seed": seed,
        }
        root = _root(data, source)
        if source == "videomatte":
            parts.append(VideoMatteDataset(root, data.split, **common))
        elif source == "videomatting108":
            parts.append(VideoMatting108Dataset(root, data.split, **common))
        elif source == "imagematte":
            parts.append(ImageMatteDataset(root, data.split, **common))
        else:
            parts.append(AISegmentDataset(root, **common))
    return ConcatDataset(parts)


class MatteMasks(Dataset):
    """Segmentation items made from a matting dataset: the eq. (1) composite and alpha > 0.5.

    For data with no segmentation set (the procedural clips); real runs use COCO, Supervisely
    and YouTube-VIS.
    """

    def __init__(self, matting: ConcatDataset) -> None:
        self.matting = matting

    def __len__(self) -> int:
        return len(self.matting)

    def __getitem__(self, index: int) -> SegmentationClip:
        fgr, pha, bgr = self.matting[index]
        return SegmentationClip(composite(fgr, pha, bgr), (pha > 0.5).to(torch.float32))


def segmentation_dataset(seg: SegmentationConfig, data: DataConfig, seed: int) -> ConcatDataset:
    """Every ``segmentation.sources`` entry at the segmentation size and clip length."""
    augmentation = AugmentationConfig.segmentation_train() if data.augment else None
    common = {
        "clip_length": seg.clip_length,
        "size": seg.size,
        "augmentation": augmentation,
        "seed": seed,
    }
    check_roots(data, [source for source in seg.sources if source != "matte_masks"])
    parts: list[Dataset] = []
    for source in seg.sources:
        if source == "matte_masks":
            as_matting = replace(data, size=seg.size, clip_length=seg.clip_length)
            parts.append(MatteMasks(matting_dataset(as_matting, seed)))
            continue
        root = _root(data, source)
        if source == "coco":
            parts.append(CocoPanopticPersonDataset(root, data.split, **common))
        elif source == "youtubevis":
            parts.append(YouTubeVISDataset(root, data.split, **common))
        else:
            parts.append(SuperviselyPersonDataset(root, **common))
    return ConcatDataset(parts)


def set_epoch(dataset: Dataset, epoch: int) -> None:
    """Sets the augmentation epoch of every reader inside ``dataset``."""
    if isinstance(dataset, ConcatDataset):
        for part in dataset.datasets:
            set_epoch(part, epoch)
    elif isinstance(dataset, MatteMasks):
        set_epoch(dataset.matting, epoch)
    elif isinstance(dataset, ClipDataset):
        dataset.set_epoch(epoch)
