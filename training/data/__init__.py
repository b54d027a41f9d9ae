"""Training data: readers for the public matting and segmentation sets, and video augmentation.

Matting readers return :class:`MattingClip` ``(fgr, pha, bgr)``; compose a training frame with
:func:`composite`. Segmentation readers return :class:`SegmentationClip` ``(image, mask)``.
Every reader raises :class:`DatasetLayoutError` at construction when its tree is wrong.
See ``docs/datasets.md`` for the expected trees.
"""

from .augmentation import AugmentationConfig, ColourJitter, augment_matting, augment_segmentation
from .backgrounds import BackgroundImages, BackgroundMix, BackgroundSource, BackgroundVideos
from .base import MattingClip, SegmentationClip
from .coco import CocoPanopticPersonDataset
from .compose import composite
from .errors import DatasetLayoutError
from .imagematte import AISegmentDataset, ImageMatteDataset
from .sampling import FrameSampling
from .supervisely import SuperviselyPersonDataset
from .videomatte import VideoMatteDataset, VideoMatting108Dataset
from .youtubevis import YouTubeVISDataset

__all__ = [
    "AISegmentDataset",
    "AugmentationConfig",
    "BackgroundImages",
    "BackgroundMix",
    "BackgroundSource",
    "BackgroundVideos",
    "CocoPanopticPersonDataset",
    "ColourJitter",
    "DatasetLayoutError",
    "FrameSampling",
    "ImageMatteDataset",
    "MattingClip",
    "SegmentationClip",
    "SuperviselyPersonDataset",
    "VideoMatteDataset",
    "VideoMatting108Dataset",
    "YouTubeVISDataset",
    "augment_matting",
    "augment_segmentation",
    "composite",
]
