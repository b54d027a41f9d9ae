"""YouTube-VIS person masks: real video for the segmentation branch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .augmentation import AugmentationConfig, augment_segmentation
from .base import ClipDataset, SegmentationClip, require_dir, require_file
from .errors import layout_error
from .masks import decode_coco_segmentation
from .reading import check_one_size, read_rgb
from .sampling import sample_frame_indices


class YouTubeVISDataset(ClipDataset):
    """YouTube-VIS (2019, 2021 or 2022), union of all instances of one category per frame.

    Expected tree (2021/2022 release)::

        root/
          train/
            JPEGImages/
              <video>/
                00000.jpg       only the annotated frames (every 5th of the source video)
            instances.json      {"videos": [{"id", "file_names": ["<video>/00000.jpg", ...],
                                  "height", "width"}], "annotations": [{"video_id",
                                  "category_id", "segmentations": [RLE | polygons | null per
                                  frame]}], "categories": [{"id", "name"}]}

    The 2019 release keeps the annotations at ``<root>/train.json``: pass ``annotation_file``.
    The category is looked up by name (person is id 1 in 2019 and id 26 in 2021). Segmentations
    may be uncompressed RLE (what the releases ship), compressed RLE or polygons. Items are
    anchored every ``clip_length`` frames of each video that shows the category.
    """

    NAME = "YouTube-VIS"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        clip_length: int = 1,
        size: tuple[int, int] = (512, 512),
        augmentation: AugmentationConfig | None = None,
        seed: int = 0,
        annotation_file: str | Path | None = None,
        category: str = "person",
    ) -> None:
        super().__init__(clip_length, size, augmentation, seed)
        root = Path(root)
        ann_path = Path(annotation_file) if annotation_file else root / split / "instances.json"
        expected = f"<root>/{split}/JPEGImages/<video>/<frame>.jpg and {ann_path}"
        require_dir(self.NAME, expected, root)
        self.image_dir = require_dir(self.NAME, expected, root / split / "JPEGImages")
        require_file(self.NAME, expected, ann_path)
        try:
            data = json.loads(ann_path.read_text())
            videos = {v["id"]: v for v in data["videos"]}
            categories = {c["name"]: c["id"] for c in data["categories"]}
            annotations = data.get("annotations") or []
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise layout_error(
                self.NAME, expected, f"{ann_path} is not a YouTube-VIS file ({e!r})"
            ) from e
        if category not in categories:
            raise layout_error(
                self.NAME,
                expected,
                f"{ann_path} has no category {category!r}: {sorted(categories)}",
            )
        category_id = categories[category]
        segs: dict[int, list[list[Any]]] = {}
        for ann in annotations:
            if ann["category_id"] != category_id:
                continue
            video = videos.get(ann["video_id"])
            if video is None:
                raise layout_error(
                    self.NAME, expected, f"{ann_path}: video_id {ann['video_id']} is not listed"
                )
            frames = ann["segmentations"]
            if len(frames) != len(video["file_names"]):
                raise layout_error(
                    self.NAME,
                    expected,
                    f"{ann_path}: video {video['id']} has {len(video['file_names'])} frames but "
                    f"an annotation with {len(frames)} segmentations",
                )
            per_frame = segs.setdefault(video["id"], [[] for _ in frames])
            for out, seg in zip(per_frame, frames, strict=True):
                if seg is not None:
                    out.append(seg)
        if not segs:
            raise layout_error(
                self.NAME, expected, f"{ann_path} annotates no {category!r} (a test split?)"
            )
        self.videos: list[dict[str, Any]] = []
        self.segmentations: list[list[list[Any]]] = []
        for video_id in sorted(segs):
            video = videos[video_id]
            for name in video["file_names"]:
                if not (self.image_dir / name).is_file():
                    raise layout_error(
                        self.NAME, expected, f"{self.image_dir / name} does not exist"
                    )
            self.videos.append(video)
            self.segmentations.append(segs[video_id])
        self.items = [
            (v, start)
            for v, video in enumerate(self.videos)
            for start in range(0, len(video["file_names"]), clip_length)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> SegmentationClip:
        rng = self.rng(index)
        v, anchor = self.items[index]
        video, segs = self.videos[v], self.segmentations[v]
        paths = [self.image_dir / name for name in video["file_names"]]
        indices = sample_frame_indices(
            rng, len(paths), self.clip_length, anchor, self.augmentation.frames
        )
        images = {i: read_rgb(paths[i]) for i in sorted(set(indices))}
        check_one_size(images, paths)
        h, w = video["height"], video["width"]
        masks = {}
        for i, image in images.items():
            if image.shape[:2] != (h, w):
                raise layout_error(
                    self.NAME,
                    "frames of the size given in the annotation file",
                    f"{paths[i]} is {image.shape[1]}x{image.shape[0]}, annotated as {w}x{h}",
                )
            mask = np.zeros((h, w), dtype=bool)
            for seg in segs[i]:
                mask |= decode_coco_segmentation(seg, h, w)
            masks[i] = mask.astype(np.uint8)
        return SegmentationClip(
            *augment_segmentation(
                self.augmentation,
                rng,
                [images[i] for i in indices],
                [masks[i] for i in indices],
                self.size,
            )
        )
