"""The eager engine: the network's own modules, frames encoded in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from core.engines.base import Matte, to_matte
from core.model import Encoding, MattingNetwork, downsample, pad_to_stride
from core.runtime import autocast


@dataclass
class EagerState:
    image: torch.Tensor  # (1, 3, H, W) on the device, full resolution
    image_lr: torch.Tensor  # (1, 3, h, w) the network's input before padding
    encoding: Encoding


class EagerEngine:
    """``MattingNetwork.encode`` on ``batch_frames`` frames per backbone call, then
    ``MattingNetwork.matte`` per frame, under the precision's autocast. Batches of one make
    every frame's result independent of where a run starts; larger batches may differ from
    them in the last bits."""

    def __init__(
        self, network: MattingNetwork, device: torch.device, precision: str, batch_frames: int = 1
    ) -> None:
        self.network = network
        self.device = device
        self.precision = precision
        self.batch_frames = batch_frames

    def prepare(self, images: torch.Tensor, size: tuple[int, int]) -> list[EagerState]:
        images_lr = downsample(images, size)
        with autocast(self.precision, self.device):
            enc = self.network.encode(pad_to_stride(images_lr))
        return [
            EagerState(
                images[i : i + 1],
                images_lr[i : i + 1],
                Encoding(
                    enc.image[i : i + 1],
                    tuple(f[i : i + 1] for f in enc.features),
                    enc.key[i : i + 1],
                    enc.value[i : i + 1],
                ),
            )
            for i in range(images.shape[0])
        ]

    def matte(
        self, state: EagerState, memory: Sequence[EagerState], *, output: bool
    ) -> Matte | None:
        if not output:
            return None
        keys = torch.stack([m.encoding.key for m in memory], dim=1)
        values = torch.stack([m.encoding.value for m in memory], dim=1)
        with autocast(self.precision, self.device):
            fgr, pha = self.network.matte(state.encoding, keys, values, state.image, state.image_lr)
        return to_matte(fgr, pha)
