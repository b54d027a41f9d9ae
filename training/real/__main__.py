"""``python -m training.real fetch`` fills the cache; ``list`` prints the manifest's items."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from training.real import FetchError, ManifestError, cache_root, fetch, read_manifest
from training.real.fetch import is_cached
from training.real.manifest import MANIFEST


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.real", description=__doc__)
    parser.add_argument("command", choices=("fetch", "list"))
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--cache", type=Path, default=None, help="default: $MEMMATTE_CACHE/real")
    parser.add_argument("--keep-archives", action="store_true", help="keep downloaded packages")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
