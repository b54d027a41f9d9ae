"""The engine protocol and the memory window that feeds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

import numpy as np
import torch

from core.model.memory import MEMORY_FRAMES, memory_window

State = TypeVar("State")

Matte = tuple[np.ndarray, np.ndarray]
"""alpha (H, W) float32 in [0, 1] and foreground (H, W, 3) float32 in [0, 1], the input's
colour space, not premultiplied."""


class Engine(Protocol[State]):
    """Runs the network of a session on one shot, one frame after another.

    The session calls ``prepare`` on up to ``batch_frames`` frames at a time, then ``matte``
    on each of them in order, with the states of the frames it attends to (``MemoryWindow``:
    t-1 and t-2, the first frame standing in before the shot or chunk starts, so the first
    frame's memory is its own state). A state holds what later frames read from the frame:
    its key and value.
    """

    batch_frames: int

    def prepare(self, images: torch.Tensor, size: tuple[int, int]) -> list[State]:
        """images: (N, 3, H, W) float32 in [0, 1], channels-last, on the engine's device;
        size: the network's (h, w). One state per frame."""
        ...

    def matte(self, state: State, memory: Sequence[State], *, output: bool) -> Matte | None:
        """Frame ``state``'s matte, attending to ``memory`` (MEMORY_FRAMES states, newest
        first). ``output`` False: a pre-roll frame, only its state is needed afterwards."""
        ...


class MemoryWindow(Generic[State]):
    """The states of the frames the next frames attend to, from frame ``first`` on (the start
    of the shot, or of a chunk's pre-roll). Frames are pushed in order; what no later frame
    reads is dropped, so memory stays flat however long the shot is."""

    def __init__(self, first: int = 0) -> None:
        self.first = first
        self._states: dict[int, State] = {}

    def push(self, index: int, state: State) -> list[State]:
        """Adds frame ``index``'s state; returns the states it attends to, newest first."""
        self._states[index] = state
        memory = [self._states[i] for i in memory_window(index, self.first)]
        self._states.pop(index - MEMORY_FRAMES, None)
        return memory

    def __len__(self) -> int:
        return len(self._states)


def to_matte(fgr: torch.Tensor, pha: torch.Tensor) -> Matte:
    """(1, 3, H, W) foreground and (1, 1, H, W) alpha, any float dtype → ``Matte`` arrays."""
    alpha = pha[0, 0].float().cpu().numpy()
    foreground = fgr[0].float().permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(alpha), np.ascontiguousarray(foreground)
