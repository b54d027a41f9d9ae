"""Shared helpers for the benchmark scripts (not part of the package)."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import torch

from core.model import MattingNetwork
from core.runtime import default_weights


def network(weights: Path | None) -> tuple[MattingNetwork, str]:
    """The checkpoint to time: ``weights``, else the bundled default, else a seeded random
    paper network (timings do not depend on the weights' values)."""
    from core.weights import load_network

    path = weights or default_weights()
    if path is not None:
        return load_network(path), str(path)
    torch.manual_seed(0)
    return MattingNetwork().eval(), "random paper network (seed 0)"


def frames(count: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """Smoothly moving synthetic uint8 frames, so nothing is constant or pure noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.random(3).astype(np.float32) * 6.28
    out = []
    for t in range(count):
        rgb = [
            0.5 + 0.5 * np.sin(xx / (17 + 5 * c) + yy / (23 + 3 * c) + phase[c] + 0.1 * t)
            for c in range(3)
        ]
        out.append((np.stack(rgb, -1) * 255).astype(np.uint8))
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
