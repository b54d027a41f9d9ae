"""Supervisely Person Dataset (SPD): portraits with person polygons and bitmaps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from .augmentation import AugmentationConfig
from .base import StillSegmentationDataset, require_dir
from .errors import layout_error
from .masks import supervisely_objects_to_mask
from .reading import list_dirs, list_images, read_gray, read_rgb

Layout = Literal["auto", "supervisely", "rvm"]


class SuperviselyPersonDataset(StillSegmentationDataset):
    """Supervisely Person Dataset, in either of two layouts.

    ``layout="supervisely"``: the dataset as Supervisely exports it, a project of dataset folders
    (``ds1`` ... ``ds13`` for SPD) with one JSON annotation per image, decoded here::

        root/
          meta.json
          ds1/
            img/
              pexels-photo-12345.png
            ann/
              pexels-photo-12345.png.json   (older exports: pexels-photo-12345.json)
                  {"size": {"height", "width"}, "objects": [{"classTitle", "geometryType":
                   "polygon" | "bitmap", "points": {"exterior": [[x, y], ...], "interior":
                   [[[x, y], ...], ...]}, "bitmap": {"data": base64(zlib(PNG)), "origin": [x, y]}}]}

    A single dataset folder (``root/img`` + ``root/ann``) works too.

    ``layout="rvm"``: RVM's converted copy (``spd_preprocess.py`` output, as its
    ``train_config.py`` names the folders), masks as images, pairing by name::

        root/
          img/
            pexels-photo-12345.jpg
          seg/
            pexels-photo-12345.jpg          nonzero (>= 128 after JPEG) = person

    ``layout="auto"`` picks ``rvm`` if ``root/seg`` exists, else ``supervisely``.
    ``class_titles`` keeps only those Supervisely classes (default: every object).
    """

    NAME = "Supervisely Person"
    _SLY = "<root>/<dataset>/img/<name> with <root>/<dataset>/ann/<name>.json"
    _RVM = "<root>/img/<name>.jpg with <root>/seg/<name>.jpg"

    def __init__(
        self,
        root: str | Path,
        *,
        layout: Layout = "auto",
        clip_length: int = 1,
        size: tuple[int, int] = (512, 512),
        augmentation: AugmentationConfig | None = None,
        seed: int = 0,
        class_titles: Sequence[str] | None = None,
    ) -> None:
        super().__init__(clip_length, size, augmentation, seed)
        root = require_dir(self.NAME, f"{self._SLY} or {self._RVM}", Path(root))
        if layout == "auto":
            layout = "rvm" if (root / "seg").is_dir() else "supervisely"
        if layout not in ("supervisely", "rvm"):
            raise ValueError(f"layout must be 'auto', 'supervisely' or 'rvm', got {layout!r}")
        self.layout = layout
        self.class_titles = tuple(class_titles) if class_titles is not None else None
        # (image, annotation JSON or mask image)
        self.pairs: list[tuple[Path, Path]] = (
            self._rvm_pairs(root) if layout == "rvm" else self._supervisely_pairs(root)
        )

    def _rvm_pairs(self, root: Path) -> list[tuple[Path, Path]]:
        images = list_images(require_dir(self.NAME, self._RVM, root / "img"))
        masks = {p.stem: p for p in list_images(require_dir(self.NAME, self._RVM, root / "seg"))}
        if not images:
            raise layout_error(self.NAME, self._RVM, f"{root / 'img'} has no images")
        for image in images:
            if image.stem not in masks:
                raise layout_error(self.NAME, self._RVM, f"{image} has no mask in {root / 'seg'}")
        return [(image, masks[image.stem]) for image in images]

    def _supervisely_pairs(self, root: Path) -> list[tuple[Path, Path]]:
        if (root / "img").is_dir():
            datasets = [root]
        else:
            datasets = [d for d in list_dirs(root) if (d / "img").is_dir()]
        if not datasets:
            raise layout_error(
                self.NAME, f"{self._SLY} (or {self._RVM})", f"{root} has no img/ folders"
            )
        pairs = []
        for dataset in datasets:
            ann_dir = require_dir(self.NAME, self._SLY, dataset / "ann")
            for image in list_images(dataset / "img"):
                ann = ann_dir / f"{image.name}.json"
                if not ann.is_file():
                    ann = ann_dir / f"{image.stem}.json"
                if not ann.is_file():
                    raise layout_error(
                        self.NAME,
                        self._SLY,
                        f"{image} has no annotation {ann_dir / image.name}.json",
                    )
                pairs.append((image, ann))
        if not pairs:
            raise layout_error(self.NAME, self._SLY, f"no images under {root}")
        return pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image_path, label_path = self.pairs[index]
        image = read_rgb(image_path)
        h, w = image.shape[:2]
        if self.layout == "rvm":
            mask = read_gray(label_path) >= 128
        else:
            ann = json.loads(label_path.read_text())
            ah, aw = ann["size"]["height"], ann["size"]["width"]
            if (ah, aw) != (h, w):
                raise layout_error(
                    self.NAME,
                    "annotations the size of their images",
                    f"{label_path} says {aw}x{ah} but {image_path} is {w}x{h}",
                )
            mask = supervisely_objects_to_mask(ann["objects"], h, w, self.class_titles)
        if mask.shape != (h, w):
            raise layout_error(
                self.NAME,
                "masks the size of their images",
                f"{label_path} is {mask.shape[1]}x{mask.shape[0]} but {image_path} is {w}x{h}",
            )
        return image, mask
