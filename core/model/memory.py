"""Attention-based memory (paper §3, Fig. 1c).

Frame t is the query; frames t-1 and t-2 are the memory. Keys and values are encoded from
each frame's own ASPP features, never from earlier outputs, so the readout for frame t is a
pure function of frames t-2, t-1 and t.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

MEMORY_FRAMES = 2
"""How many previous frames frame t attends to."""


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class KeyValueEncoder(nn.Module):
    """(N, C, h, w) → key (N, Ck, h, w) and value (N, Cv, h, w), 3x3 convs as in STM."""

    def __init__(self, cin: int, key_channels: int, value_channels: int) -> None:
        super().__init__()
        self.key = _conv3x3(cin, key_channels)
        self.value = _conv3x3(cin, value_channels)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.key(x), self.value(x)


def memory_readout(query: Tensor, memory_keys: Tensor, memory_values: Tensor) -> Tensor:
    """Scaled dot-product attention of every query position over all memory positions.

    query: (N, Ck, h, w); memory_keys: (N, M, Ck, h, w); memory_values: (N, M, Cv, h, w).
    The affinity is the softmax, over all M·h·w memory positions, of q·k/√Ck.
    Returns the readout (N, Cv, h, w): the affinity-weighted sum of memory values.
    """
    n, ck, h, w = query.shape
    cv = memory_values.shape[2]
    q = query.flatten(2).transpose(1, 2)  # (N, hw, Ck)
    k = memory_keys.transpose(1, 2).flatten(2)  # (N, Ck, M·hw)
    v = memory_values.transpose(1, 2).flatten(2).transpose(1, 2)  # (N, M·hw, Cv)
    affinity = torch.softmax(torch.bmm(q, k) / math.sqrt(ck), dim=-1)  # (N, hw, M·hw)
    return torch.bmm(affinity, v).transpose(1, 2).reshape(n, cv, h, w)


class AttentionMemory(nn.Module):
    """Reads the memory and fuses the readout with frame t's own value.

    The reconstructed feature map is a 1x1 conv + BN + ReLU over [readout, value_t].
    """

    def __init__(self, cin: int, key_channels: int, value_channels: int, out_channels: int):
        super().__init__()
        self.encoder = KeyValueEncoder(cin, key_channels, value_channels)
        self.fuse = nn.Sequential(
            nn.Conv2d(2 * value_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(
        self, key: Tensor, value: Tensor, memory_keys: Tensor, memory_values: Tensor
    ) -> Tensor:
        readout = memory_readout(key, memory_keys, memory_values)
        return self.fuse(torch.cat([readout, value], dim=1))


def memory_window(index: int, first: int = 0) -> tuple[int, ...]:
    """The frames frame ``index`` attends to, newest first: t-1, t-2.

    At the start of a shot (or of a chunk's pre-roll, ``first``) the missing previous frames
    are replaced by the first frame (edge padding in time): frame 0 attends to itself twice,
    frame 1 to frames 0 and 0. Every streaming path (``MattingSession``, ``core.export``'s
    stacked frames) takes its memory from here.
    """
    return tuple(max(index - k, first) for k in range(1, MEMORY_FRAMES + 1))


def memory_indices(length: int, device: torch.device | None = None) -> Tensor:
    """(length, MEMORY_FRAMES) int64 ``memory_window`` of every frame of a clip of ``length``
    frames: the time-parallel forward's gather indices."""
    rows = [memory_window(t) for t in range(length)]
    return torch.tensor(rows, dtype=torch.int64, device=device).reshape(length, MEMORY_FRAMES)
