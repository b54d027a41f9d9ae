"""``python -m core.batch shots/*.exr``: matte image sequences on a workstation or a farm.

The processor lives in ``hosts.exr`` (sequence discovery, OpenImageIO I/O, colour,
metadata, chunking, resume); this module is only the command-line entry the product names,
and imports it inside ``main`` so that ``core`` itself never depends on a host.
See docs/farm.md.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from hosts.exr.cli import main as run

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
