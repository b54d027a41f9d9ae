"""The fused per-frame graphs shared by the compiled engines, and their streaming loop.

Two graphs per frame, no breaks: everything at the network's resolution (``step``), then the
Deep Guided Filter's full-resolution pass (``apply``; one graph with both runs the
full-resolution part several times slower on the CPU). Frames go one per call.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from core.engines.base import Matte, to_matte
from core.model import (
    MEMORY_FRAMES,
    STRIDE,
    MattingNetwork,
    NetworkConfig,
    downsample,
    pad_to_stride,
)
from core.model.guided_filter import frame_taps
from core.runtime import autocast


class FusedGraphs:
    """The two functions the compiled engines compile: ``step`` and ``apply``. A plain
    object, so each engine compiles bound methods of its own instance."""

    def __init__(self, network: MattingNetwork, device: torch.device, precision: str) -> None:
        self.network = network
        self.device = device
        self.precision = precision

    def step(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
    ) -> tuple[torch.Tensor, ...]:
        """image (1, 3, H, W) float32 in [0, 1]; keys, values (1, MEMORY_FRAMES, C, h', w')
        of frames t-1, t-2 → (fgr and alpha (1, 4, h, w), or the guided filter's
        coefficients (1, 8, h, w) when the frame is larger than ``size``; key; value).
        Everything leaves in float32, so every call sees the same input types (no
        recompiles) and the full-resolution pass runs in float32."""
        refine = tuple(size) != tuple(image.shape[-2:])
        with autocast(self.precision, self.device):
            image_lr = downsample(image, size)
            encoding = self.network.encode(pad_to_stride(image_lr))
            out = self.network.matte_low(encoding, keys, values, image_lr, refine)
        return out.float(), encoding.key.float(), encoding.value.float()

    def apply(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The full-resolution graph: the guided filter, written straight into the result's
        layouts, alpha (H, W) and foreground (H, W, 3)."""
        return self.network.refiner.apply_frame(image, coefficients, taps)


@dataclass
class FusedState:
    image: torch.Tensor  # (1, 3, H, W) on the device, channels-last
    size: tuple[int, int]  # the network's (h, w)
    key: torch.Tensor | None = None  # float32, set once the frame has been stepped
    value: torch.Tensor | None = None


class FusedEngine(abc.ABC):
    """Streams frames through a ``step`` and an ``apply`` callable of ``FusedGraphs``' form;
    subclasses say how they are called. A frame's key and value come from the same graph
    wherever a run starts, so random access still equals iteration."""

    batch_frames = 1

    def __init__(self, network: MattingNetwork, device: torch.device, precision: str) -> None:
        self.graphs = FusedGraphs(network, device, precision)
        self.device = device
        self._taps: tuple[torch.Tensor, ...] | None = None  # bilinear taps, one set per shot

    @abc.abstractmethod
    def _call_step(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
    ) -> tuple[torch.Tensor, ...]:
        """``FusedGraphs.step`` as this engine runs it (compiled in process, or a package)."""

    @abc.abstractmethod
    def _call_apply(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``FusedGraphs.apply`` as this engine runs it."""

    def prepare(self, images: torch.Tensor, size: tuple[int, int]) -> list[FusedState]:
        return [FusedState(images[i : i + 1], size) for i in range(images.shape[0])]

    def matte(
        self, state: FusedState, memory: Sequence[FusedState], *, output: bool
    ) -> Matte | None:
        if any(m.key is None for m in memory):
            # The first frame is its own memory: one step for its key and value (they do
            # not depend on the memory passed in), then the real one.
            empty = empty_memory(self.graphs.network.config, state.size, self.device)
            state.key, state.value = self._call_step(state.image, *empty, state.size)[1:]
        keys = torch.stack([m.key for m in memory], dim=1)
        values = torch.stack([m.value for m in memory], dim=1)
        out, state.key, state.value = self._call_step(state.image, keys, values, state.size)
        if not output:
            return None
        if out.shape[1] == 8:
            if self._taps is None:
                self._taps = frame_taps(tuple(state.image.shape[-2:]), state.size, self.device)
            alpha, foreground = self._call_apply(state.image, out, self._taps)
            return alpha.cpu().numpy(), foreground.cpu().numpy()
        return to_matte(out[:, :3], out[:, 3:])


def empty_memory(
    config: NetworkConfig, size: tuple[int, int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero keys (1, MEMORY_FRAMES, key_channels, h/16, w/16) and values (... value_channels
    ...) for a network input of ``size``: the memory a step is traced with, and the one a
    first frame's own key and value are computed with (they do not depend on it)."""
    grid = (-(-size[0] // STRIDE), -(-size[1] // STRIDE))
    keys, values = (
        torch.zeros(1, MEMORY_FRAMES, channels, *grid, device=device)
        for channels in (config.key_channels, config.value_channels)
    )
    return keys, values
