"""Synthetic matting data: a seeded 2D procedural generator and dataset writers.

Exports are resolved lazily so that ``python -m training.synthetic.procedural`` does not import the
module twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.synthetic.procedural import (
        PRESETS,
        Clip,
        ClipConfig,
        ClipInfo,
        SeededClips,
        generate_clip,
    )
    from training.synthetic.writer import WrittenClip, write_evaluation, write_videomatte

_EXPORTS = {
    "PRESETS": "procedural",
    "Clip": "procedural",
    "ClipConfig": "procedural",
    "ClipInfo": "procedural",
    "generate_clip": "procedural",
    "SeededClips": "procedural",
    "WrittenClip": "writer",
    "write_evaluation": "writer",
    "write_videomatte": "writer",
}

__all__ = [
    "PRESETS",
    "Clip",
    "ClipConfig",
    "ClipInfo",
    "SeededClips",
    "WrittenClip",
    "generate_clip",
    "write_evaluation",
    "write_videomatte",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"training.synthetic.{_EXPORTS[name]}"), name)
