"""``python -m training.real fetch`` fills the cache; ``list`` prints the manifest's items;
``hash ARCHIVE MEMBER...`` prints the integrity and sha256 values a new manifest item needs."""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from pathlib import Path

from training.real import FetchError, ManifestError, cache_root, fetch, read_manifest
from training.real.fetch import archive_integrity, is_cached, read_members
from training.real.manifest import MANIFEST


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.real", description=__doc__)
    parser.add_argument("command", choices=("fetch", "list", "hash"))
    parser.add_argument("archive", nargs="?", type=Path, help="hash: a downloaded package")
    parser.add_argument("members", nargs="*", help="hash: paths inside the archive")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--cache", type=Path, default=None, help="default: $MEMMATTE_CACHE/real")
    parser.add_argument("--keep-archives", action="store_true", help="keep downloaded packages")
    args = parser.parse_args(argv)
    if args.command == "hash":
        return _hash(parser, args.archive, args.members)
    cache = args.cache if args.cache is not None else cache_root()
    try:
        items = read_manifest(args.manifest, cache)
        if args.command == "fetch":
            fetch(items, cache, keep_archives=args.keep_archives)
    except (FetchError, ManifestError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.command == "list":
        for item in items:
            state = "cached" if is_cached(item) else "missing"
            print(f"{item.id:32} {item.kind:10} {item.split:7} {state:7} {item.licence}")
    counts = Counter((item.kind, item.split) for item in items)
    summary = ", ".join(f"{n} {kind} {split}" for (kind, split), n in sorted(counts.items()))
    size = sum(item.path.stat().st_size for item in items if item.path.is_file())
    print(f"{len(items)} items ({summary}); {size / 1e6:.1f} MB in {cache / 'files'}")
    return 0


def _hash(parser: argparse.ArgumentParser, archive: Path | None, members: list[str]) -> int:
    if archive is None or not archive.is_file():
        parser.error(f"hash needs a downloaded archive, got {archive}")
    like = "sha512-" if archive.suffix == ".tgz" else "sha256:"
    print(f'integrity = "{archive_integrity(archive, like)}"')
    registry = "debian" if archive.suffix == ".deb" else "npm/pypi"
    try:
        contents = read_members(archive, registry, members)
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for member, data in contents.items():
        print(f'path = "{member}"\nsha256 = "{hashlib.sha256(data).hexdigest()}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
