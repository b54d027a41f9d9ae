"""Parameter groups and the learning-rate schedule, shared by ``training.train`` and
``training.distill``."""

from __future__ import annotations

import math


def param_group(name: str) -> str:
    """``backbone``, ``refiner`` (the Deep Guided Filter) or ``rest``, by parameter name."""
    for prefix in ("backbone", "refiner"):
        if name.startswith(prefix + "."):
            return prefix
    return "rest"


def lr_factor(step: int, total: int, warmup: int, decay: str) -> float:
    """Learning-rate multiplier after ``step`` matting steps of ``total``."""
    factor = min(1.0, (step + 1) / warmup) if warmup else 1.0
    if decay == "cosine":
        factor *= 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    return factor
