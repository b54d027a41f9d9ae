"""Training checkpoints: network weights in safetensors plus a plain-tensor training state.

A checkpoint at matting step ``s`` is two files in ``<run>/checkpoints/``:

- ``step_<s>.safetensors``: the network (``core.weights.save_weights``), loadable with
  ``core.weights.load_network``; metadata ``stage``, ``step``, ``epoch``, ``seed``.
- ``step_<s>.pt``: optimizer, LR scheduler and gradient-scaler state, the step counters and the
  resolved config; only tensors, numbers, strings, lists and dicts, read back with
  ``torch.load(weights_only=True)``.

The weights are written first and each file is renamed into place only when complete, so a
``.pt`` file always has its weights beside it, and a kill at any moment leaves the previous
checkpoint usable. Random state needs no saving: every draw is seeded from (seed, epoch, step,
rank).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from core.model import MattingNetwork
from core.weights import save_weights

_NAME = re.compile(r"step_(\d+)\.pt")


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def paths(run_dir: str | Path, step: int) -> tuple[Path, Path]:
    """(weights, state) paths of the checkpoint at ``step``."""
    stem = checkpoint_dir(run_dir) / f"step_{step:08d}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".pt")


def save(
    run_dir: str | Path,
    step: int,
    network: MattingNetwork,
    state: dict[str, Any],
    *,
    stage: str,
    metadata: dict[str, str],
    keep: int,
) -> Path:
    """Writes the checkpoint of ``step`` and deletes all but the newest ``keep``."""
    weights, state_path = paths(run_dir, step)
    weights.parent.mkdir(parents=True, exist_ok=True)
    partial = weights.with_name(weights.name + ".partial")
    save_weights(network, partial, stage=stage, metadata=metadata)
    os.replace(partial, weights)
    partial = state_path.with_name(state_path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, state_path)
    for old in list_steps(run_dir)[:-keep]:
        for path in paths(run_dir, old):
            path.unlink(missing_ok=True)
    return weights


def list_steps(run_dir: str | Path) -> list[int]:
    """Steps with a complete checkpoint, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    steps = []
    for path in folder.iterdir():
        match = _NAME.fullmatch(path.name)
        if match and paths(run_dir, int(match.group(1)))[0].is_file():
            steps.append(int(match.group(1)))
    return sorted(steps)


def load_state(path: str | Path) -> dict[str, Any]:
    """The training state of a ``step_<s>.pt`` file; nothing but plain data is unpickled."""
    return torch.load(str(path), map_location="cpu", weights_only=True)
