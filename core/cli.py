"""Argument types shared by memmatte's command-line entry points."""

from __future__ import annotations

import argparse


def frame_size(text: str, minimum: int = 1) -> tuple[int, int]:
    """``"512x288"`` (WIDTHxHEIGHT, as image tools and Nuke formats write sizes) →
    (288, 512), as (height, width); an ``argparse`` type."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"size must be WIDTHxHEIGHT, e.g. 1920x1080; got {text!r}"
        ) from None
    if min(height, width) < minimum:
        raise argparse.ArgumentTypeError(f"size must be at least {minimum}x{minimum}, got {text!r}")
    return height, width
