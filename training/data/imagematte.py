"""Image matting readers: one still per item, turned into a T-frame pseudo-clip by the
augmentation's motion (as RVM does), so the same reader serves T=1 image training and
image-to-video training."""

from __future__ import annotations

import abc

from pathlib import Path

import numpy as np

from .augmentation import AugmentationConfig, augment_matting
from .backgrounds import BackgroundSource
from .base import ClipDataset, MattingClip, require_dir
from .errors import layout_error
from .reading import check_same_size, list_dirs, list_images, read_gray, read_rgb, read_rgba


class _StillMatteDataset(ClipDataset):
    """Shared item logic: ``self.pairs`` holds ``(foreground image, alpha file)`` paths."""

    pairs: list[tuple[Path, Path]]

    def __init__(
        self,
        background: BackgroundSource,
        clip_length: int,
        size: tuple[int, int],
        augmentation: AugmentationConfig | None,
        seed: int,
    ) -> None:
        super().__init__(clip_length, size, augmentation, seed)
        self.background = background

    @abc.abstractmethod
    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]: ...

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> MattingClip:
        rng = self.rng(index)
        fgr, pha = self._read(index)
        check_same_size(pha, self.pairs[index][1], fgr, self.pairs[index][0])
        bgrs = self.background.sample(rng, self.clip_length, self.augmentation.frames)
        fgrs, phas = [fgr] * self.clip_length, [pha] * self.clip_length
        return MattingClip(*augment_matting(self.augmentation, rng, fgrs, phas, bgrs, self.size))


class ImageMatteDataset(_StillMatteDataset):
    """Adobe Image Matting / Distinctions-646 style foreground + alpha pairs, as RVM's ImageMatte.

    Expected tree (files pair by name without extension; ``split=None`` reads ``root`` itself)::

        root/
          train/               (split)
            fgr/
              sample1.jpg
              sample2.png
            pha/
              sample1.jpg
              sample2.png

    The Adobe release's own folders work too:
    ``ImageMatteDataset(".../Training_set/Adobe-licensed images", fgr_dir="fg", pha_dir="alpha")``.
    """

    NAME = "ImageMatte"

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        *,
        background: BackgroundSource,
        clip_length: int = 1,
        size: tuple[int, int] = (512, 512),
        augmentation: AugmentationConfig | None = None,
        seed: int = 0,
        fgr_dir: str = "fgr",
        pha_dir: str = "pha",
    ) -> None:
        super().__init__(background, clip_length, size, augmentation, seed)
        base = Path(root) if split is None else Path(root) / split
        where = "<root>" if split is None else f"<root>/{split}"
        expected = f"{where}/{fgr_dir}/<name>.jpg|png and matching {where}/{pha_dir}/<name>.jpg|png"
        require_dir(self.NAME, expected, Path(root))
        fgr_files = list_images(require_dir(self.NAME, expected, base / fgr_dir))
        pha_files = list_images(require_dir(self.NAME, expected, base / pha_dir))
        if not fgr_files:
            raise layout_error(self.NAME, expected, f"{base / fgr_dir} has no images")
        pha_by_stem = {p.stem: p for p in pha_files}
        fgr_stems = {f.stem for f in fgr_files}
        for f in fgr_files:
            if f.stem not in pha_by_stem:
                raise layout_error(
                    self.NAME, expected, f"{f} has no alpha {base / pha_dir / f.stem}.*"
                )
        for p in pha_files:
            if p.stem not in fgr_stems:
                raise layout_error(
                    self.NAME, expected, f"{p} has no foreground {base / fgr_dir / p.stem}.*"
                )
        self.pairs = [(f, pha_by_stem[f.stem]) for f in fgr_files]

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        fgr, pha = self.pairs[index]
        return read_rgb(fgr), read_gray(pha)


class AISegmentDataset(_StillMatteDataset):
    """AISegment.com "matting_human_half" portraits (600x800 half-body photos).

    Expected tree (the archive's layout; ``._*`` resource-fork files in it are ignored)::

        root/                                   matting_human_half/
          clip_img/
            1803151818/
              clip_00000000/
                1803151818-00000003.jpg         the photo
          matting/
            1803151818/
              matting_00000000/
                1803151818-00000003.png         RGBA; A is the alpha matte

    The photo's own pixels serve as the foreground colour (the set has no separate foreground),
    so hair edges carry some of the original background colour.

    ``skip_unpaired=True`` drops photos without a matting PNG instead of failing.
    """

    NAME = "AISegment"
    _EXPECTED = (
        "<root>/clip_img/<group>/clip_<k>/<name>.jpg and "
        "<root>/matting/<group>/matting_<k>/<name>.png (RGBA)"
    )

    def __init__(
        self,
        root: str | Path,
        *,
        background: BackgroundSource,
        clip_length: int = 1,
        size: tuple[int, int] = (512, 512),
        augmentation: AugmentationConfig | None = None,
        seed: int = 0,
        skip_unpaired: bool = False,
    ) -> None:
        super().__init__(background, clip_length, size, augmentation, seed)
        root = require_dir(self.NAME, self._EXPECTED, Path(root))
        img_root = require_dir(self.NAME, self._EXPECTED, root / "clip_img")
        matting_root = require_dir(self.NAME, self._EXPECTED, root / "matting")
        self.pairs = []
        for group in list_dirs(img_root):
            for clip in list_dirs(group):
                sub = "matting_" + clip.name.removeprefix("clip_")
                for image in list_images(clip):
                    matte = matting_root / group.name / sub / f"{image.stem}.png"
                    if matte.is_file():
                        self.pairs.append((image, matte))
                    elif not skip_unpaired:
                        raise layout_error(
                            self.NAME,
                            self._EXPECTED,
                            f"{image} has no matting {matte} (pass skip_unpaired=True to drop it)",
                        )
        if not self.pairs:
            raise layout_error(self.NAME, self._EXPECTED, f"no photo/matting pairs under {root}")

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image, matte = self.pairs[index]
        return read_rgb(image), read_rgba(matte)[1]
