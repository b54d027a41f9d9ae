"""COCO panoptic person masks, as RVM's segmentation branch uses them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .augmentation import AugmentationConfig
from .base import StillSegmentationDataset, require_dir, require_file
from .errors import layout_error
from .reading import read_rgb

PERSON = 1


def panoptic_ids(png_bgr: np.ndarray) -> np.ndarray:
    """Segment ids of a COCO panoptic PNG read by cv2 (BGR): ``R + 256 G + 256^2 B``."""
    png = png_bgr.astype(np.int64)
    return png[..., 2] + 256 * png[..., 1] + 65536 * png[..., 0]


class CocoPanopticPersonDataset(StillSegmentationDataset):
    """COCO 2017 panoptic segmentation, reduced to a person / not-person mask.

    Expected tree (the official ``train2017.zip`` and ``panoptic_annotations_trainval2017.zip``,
    with the PNG zip inside ``annotations/`` extracted in place; detectron2's
    ``<root>/panoptic_train2017/`` PNG folder is accepted too)::

        root/
          train2017/
            000000000009.jpg
          annotations/
            panoptic_train2017.json
            panoptic_train2017/
              000000000009.png      RGB-encoded segment ids, id = R + 256 G + 256^2 B

    Only images with at least one segment of ``category_ids`` (default person, id 1; RVM also adds
    backpack 27 and tie 32) are items. Each item is a still turned into a T-frame pseudo-clip.
    """

    NAME = "COCO panoptic"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        clip_length: int = 1,
        size: tuple[int, int] = (512, 512),
        augmentation: AugmentationConfig | None = None,
        seed: int = 0,
        category_ids: Sequence[int] = (PERSON,),
    ) -> None:
        super().__init__(clip_length, size, augmentation, seed)
        name = f"{split}2017"
        expected = (
            f"<root>/annotations/panoptic_{name}.json, <root>/{name}/*.jpg and "
            f"<root>/annotations/panoptic_{name}/*.png"
        )
        root = require_dir(self.NAME, expected, Path(root))
        ann_file = require_file(self.NAME, expected, root / "annotations" / f"panoptic_{name}.json")
        image_dir = require_dir(self.NAME, expected, root / name)
        png_dir = root / "annotations" / f"panoptic_{name}"
        if not png_dir.is_dir() and (root / f"panoptic_{name}").is_dir():
            png_dir = root / f"panoptic_{name}"
        require_dir(self.NAME, expected, png_dir)
        try:
            data = json.loads(ann_file.read_text())
            images = {img["id"]: img["file_name"] for img in data["images"]}
            annotations = data["annotations"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise layout_error(
                self.NAME, expected, f"{ann_file} is not a COCO panoptic file ({e!r})"
            ) from e
        wanted = set(category_ids)
        self.items: list[tuple[Path, Path, tuple[int, ...]]] = []
        for ann in annotations:
            ids = tuple(s["id"] for s in ann["segments_info"] if s["category_id"] in wanted)
            if not ids:
                continue
            if ann["image_id"] not in images:
                raise layout_error(
                    self.NAME,
                    expected,
                    f"{ann_file}: image_id {ann['image_id']} has no image entry",
                )
            image, png = image_dir / images[ann["image_id"]], png_dir / ann["file_name"]
            for path in (image, png):
                if not path.is_file():
                    raise layout_error(self.NAME, expected, f"{path} does not exist")
            self.items.append((image, png, ids))
        if not self.items:
            raise layout_error(
                self.NAME, expected, f"{ann_file} has no segments of categories {sorted(wanted)}"
            )

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image_path, png_path, ids = self.items[index]
        image = read_rgb(image_path)
        png = cv2.imread(str(png_path), cv2.IMREAD_COLOR)
        if png is None:
            raise layout_error(self.NAME, "a readable PNG", f"{png_path} could not be read")
        mask = np.isin(panoptic_ids(png), ids)
        if mask.shape != image.shape[:2]:
            raise layout_error(
                self.NAME,
                "segment PNGs the size of their images",
                f"{png_path} is {mask.shape[1]}x{mask.shape[0]} but {image_path} is "
                f"{image.shape[1]}x{image.shape[0]}",
            )
        return image, mask
