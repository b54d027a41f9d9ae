"""Video matting readers: VideoMatte240K and VideoMatting108."""

from __future__ import annotations

import json
from pathlib import Path

from .augmentation import AugmentationConfig, augment_matting
from .backgrounds import BackgroundSource
from .base import ClipDataset, MattingClip, require_dir, require_file
from .errors import layout_error
from .reading import (
    check_one_size,
    check_same_size,
    list_dirs,
    list_images,
    read_gray,
    read_rgb,
    read_rgba,
)
from .sampling import sample_frame_indices

_VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")


def _clip_items(frame_counts: list[int], clip_length: int) -> list[tuple[int, int]]:
    """One item per ``clip_length`` frames of each clip: ``(clip index, anchor frame)``."""
    return [
        (c, start) for c, count in enumerate(frame_counts) for start in range(0, count, clip_length)
    ]


class VideoMatteDataset(ClipDataset):
    """VideoMatte240K, JPEG release (``VideoMatte240K_JPEG_SD`` or ``_HD``), composited over
    ``background``.

    Expected tree (``split`` is any sub-folder: the release ships ``train`` and ``test``; RVM moves
    clips 0000, 0100, 0200 and 0300 of ``train`` into a ``valid`` folder)::

        root/
          train/
            fgr/
              0000/
                00000.jpg
                00001.jpg
                ...
              0001/ ...
            pha/
              0000/
                00000.jpg      same names as fgr/0000
                ...
          valid/ ...

    Item ``i`` is a ``MattingClip`` of ``clip_length`` frames anchored every ``clip_length`` frames
    of each clip; speed, offset and direction come from ``augmentation.frames``.
    """

    NAME = "VideoMatte240K"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        background: BackgroundSource,
        clip_length: int = 1,
        size: tuple[int, int] = (512, 512),
        augmentation: AugmentationConfig | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(clip_length, size, augmentation, seed)
        self.background = background
        expected = f"<root>/{split}/fgr/<clip>/*.jpg and matching <root>/{split}/pha/<clip>/*.jpg"
        root = require_dir(self.NAME, expected, Path(root))
        fgr_dir = require_dir(self.NAME, expected, root / split / "fgr")
        pha_dir = require_dir(self.NAME, expected, root / split / "pha")
        clips = list_dirs(fgr_dir)
        if not clips:
            videos = [p for p in fgr_dir.iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES]
            hint = (
                f" (found {len(videos)} video files: this reader needs the JPEG frame release)"
                if videos
                else ""
            )
            raise layout_error(self.NAME, expected, f"{fgr_dir} has no clip folders{hint}")
        self.fgr_frames: list[list[Path]] = []
        self.pha_frames: list[list[Path]] = []
        for clip in clips:
            fgr, pha = _paired_frames(self.NAME, expected, clip, pha_dir / clip.name)
            self.fgr_frames.append(fgr)
            self.pha_frames.append(pha)
        self.clips = [c.name for c in clips]
        self.items = _clip_items([len(f) for f in self.fgr_frames], clip_length)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> MattingClip:
        rng = self.rng(index)
        clip, anchor = self.items[index]
        fgr_paths, pha_paths = self.fgr_frames[clip], self.pha_frames[clip]
        indices = sample_frame_indices(
            rng, len(fgr_paths), self.clip_length, anchor, self.augmentation.frames
        )
        fgr = {i: read_rgb(fgr_paths[i]) for i in sorted(set(indices))}
        pha = {i: read_gray(pha_paths[i]) for i in fgr}
        check_one_size(fgr, fgr_paths)
        for i in fgr:
            check_same_size(pha[i], pha_paths[i], fgr[i], fgr_paths[i])
        bgrs = self.background.sample(rng, self.clip_length, self.augmentation.frames)
        fgrs = [fgr[i] for i in indices]
        phas = [pha[i] for i in indices]
        return MattingClip(*augment_matting(self.augmentation, rng, fgrs, phas, bgrs, self.size))


class VideoMatting108Dataset(ClipDataset):
    """VideoMatting108 (Zhang et al., "Attention-guided Temporally Coherent Video Object
    Matting", 2021; published with github.com/yunkezhang/TCVOM), in its released layout::

        root/
          FG_done/
            <clip>/
              <frame>.png          RGBA: RGB = foreground colour, A = alpha
          BG_done/
            <bg clip>/
              <frame>.jpg          backgrounds the authors paired with each foreground frame
          frame_corr.json          {"<clip>/<frame>.png": "<bg clip>/<frame>.jpg", ...}
          train_videos.txt         one <clip> per line (80 clips)
          val_videos.txt           (28 clips)
          train_videos_subset.txt, val_videos_subset.txt
          flow_png/                optical flow for metrics; not read here

    With ``background=None`` each foreground frame is composited over its own paired background
    (``frame_corr.json``, as TCVOM does; a ``.jpg`` entry falls back to a ``.png`` file of the same
    stem, as TCVOM does). With a ``BackgroundSource`` the paired backgrounds are ignored (and
    ``BackgroundVideos(root / "BG_done")`` is a valid source).
    """

    NAME = "VideoMatting108"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        background: BackgroundSource | None = None,
        clip_length: int = 1,
        size: tuple[int, int] = (512, 512),
        augmentation: AugmentationConfig | None = None,
        seed: int = 0,
        use_subset: bool = False,
    ) -> None:
        super().__init__(clip_length, size, augmentation, seed)
        split = {"valid": "val"}.get(split, split)
        if split not in ("train", "val"):
            raise ValueError(f"VideoMatting108 split must be 'train' or 'val', got {split!r}")
        self.background = background
        list_name = f"{split}_videos{'_subset' if use_subset else ''}.txt"
        expected = f"<root>/{list_name} naming clips of <root>/FG_done/<clip>/*.png (RGBA)"
        if background is None:
            expected += ", <root>/frame_corr.json and <root>/BG_done/"
        root = require_dir(self.NAME, expected, Path(root))
        fg_dir = require_dir(self.NAME, expected, root / "FG_done")
        clip_names = [
            line.strip()
            for line in require_file(self.NAME, expected, root / list_name).read_text().splitlines()
            if line.strip()
        ]
        if not clip_names:
            raise layout_error(self.NAME, expected, f"{root / list_name} lists no clips")
        self.clips = clip_names
        self.fg_frames: list[list[Path]] = []
        for name in clip_names:
            clip_dir = require_dir(self.NAME, expected, fg_dir / name)
            frames = list_images(clip_dir)
            if not frames:
                raise layout_error(self.NAME, expected, f"{clip_dir} has no frames")
            self.fg_frames.append(frames)
        self.bg_frames: list[list[Path]] | None = None
        if background is None:
            self.bg_frames = self._paired_backgrounds(root, expected)
        self.items = _clip_items([len(f) for f in self.fg_frames], clip_length)

    def _paired_backgrounds(self, root: Path, expected: str) -> list[list[Path]]:
        corr_path = require_file(self.NAME, expected, root / "frame_corr.json")
        bg_dir = require_dir(self.NAME, expected, root / "BG_done")
        try:
            corr = json.loads(corr_path.read_text())
        except json.JSONDecodeError as e:
            raise layout_error(self.NAME, expected, f"{corr_path} is not valid JSON: {e}") from e
        paired = []
        for name, frames in zip(self.clips, self.fg_frames, strict=True):
            bgs = []
            for frame in frames:
                key = f"{name}/{frame.name}"
                if key not in corr:
                    raise layout_error(
                        self.NAME, expected, f"{frame} has no entry {key!r} in {corr_path}"
                    )
                bg = bg_dir / corr[key]
                if not bg.is_file() and bg.with_suffix(".png").is_file():
                    bg = bg.with_suffix(".png")
                if not bg.is_file():
                    raise layout_error(
                        self.NAME, expected, f"{bg} (paired with {frame}) does not exist"
                    )
                bgs.append(bg)
            paired.append(bgs)
        return paired

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> MattingClip:
        rng = self.rng(index)
        clip, anchor = self.items[index]
        paths = self.fg_frames[clip]
        indices = sample_frame_indices(
            rng, len(paths), self.clip_length, anchor, self.augmentation.frames
        )
        decoded = {i: read_rgba(paths[i]) for i in sorted(set(indices))}
        check_one_size({i: rgb for i, (rgb, _) in decoded.items()}, paths)
        if self.bg_frames is None:
            assert self.background is not None
            bgrs = self.background.sample(rng, self.clip_length, self.augmentation.frames)
        else:
            bg_paths = self.bg_frames[clip]
            bg = {i: read_rgb(bg_paths[i]) for i in decoded}
            check_one_size(bg, bg_paths)
            bgrs = [bg[i] for i in indices]
        fgrs = [decoded[i][0] for i in indices]
        phas = [decoded[i][1] for i in indices]
        return MattingClip(*augment_matting(self.augmentation, rng, fgrs, phas, bgrs, self.size))


def _paired_frames(
    dataset: str, expected: str, fgr_clip: Path, pha_clip: Path
) -> tuple[list[Path], list[Path]]:
    """Frames of one clip in ``fgr`` and ``pha`` folders, which must match name for name."""
    if not pha_clip.is_dir():
        raise layout_error(dataset, expected, f"{pha_clip} does not exist (fgr has {fgr_clip})")
    fgr, pha = list_images(fgr_clip), list_images(pha_clip)
    if not fgr:
        raise layout_error(dataset, expected, f"{fgr_clip} has no frames")
    if len(pha) != len(fgr):
        raise layout_error(
            dataset, expected, f"{pha_clip} has {len(pha)} frames but fgr has {len(fgr)}"
        )
    for f, p in zip(fgr, pha, strict=True):
        if f.stem != p.stem:
            raise layout_error(
                dataset, expected, f"{pha_clip / p.name} does not match fgr frame {f}"
            )
    return fgr, pha
