"""The matting network: backbone → ASPP → attention memory → decoder (→ Deep Guided Filter).

The module is stateless: it keeps no frame history. ``forward`` runs a whole clip
time-parallel; the stage methods ``encode``, ``read_memory``, ``decode``, ``aggregate`` and
``refine`` let a streaming caller (``core.session.MattingSession``) reuse the cached keys
and values of the two previous frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.model.aspp import ASPP
from core.model.backbone import ImageNetNormalize, MobileNetV3LargeEncoder
from core.model.config import NetworkConfig
from core.model.decoder import AggregationHead, Decoder
from core.model.guided_filter import DeepGuidedFilter
from core.model.memory import AttentionMemory, memory_indices

STRIDE = 16
"""The network's input must be a multiple of this; other sizes are edge-padded internally."""


@dataclass(frozen=True)
class Encoding:
    """One or more frames encoded at the network's resolution (padded to a multiple of 16).

    features: skips at 1/2, 1/4, 1/8; key (N, Ck, h, w) and value (N, Cv, h, w) at 1/16.
    Only ``key`` and ``value`` are needed when the frame later serves as memory.
    """

    image: Tensor
    features: tuple[Tensor, Tensor, Tensor]
    key: Tensor
    value: Tensor


@dataclass(frozen=True)
class MattingOutput:
    """Network outputs for frames (B, T, 3, H, W).

    foreground (B, T, 3, H, W) and alpha (B, T, 1, H, W): float in [0, 1], sRGB,
    foreground not premultiplied. agg_foreground (B, T, 3, h, w) and agg_alpha
    (B, T, 1, h, w): the temporal-aggregation head at 1/16 of the network's (padded)
    resolution. segmentation (B, T, 1, H', W') person logits at the network's resolution,
    only from a segmentation pass (then foreground and alpha are None).
    """

    foreground: Tensor | None
    alpha: Tensor | None
    agg_foreground: Tensor
    agg_alpha: Tensor
    segmentation: Tensor | None = None


def pad_to_stride(image: Tensor) -> Tensor:
    """Edge-pads (N, C, H, W) on the right and bottom to multiples of ``STRIDE``."""
    h, w = image.shape[-2:]
    pad_h, pad_w = -h % STRIDE, -w % STRIDE
    if pad_h == 0 and pad_w == 0:
        return image
    return F.pad(image, (0, pad_w, 0, pad_h), mode="replicate")


def network_size(height: int, width: int, downsample_ratio: float) -> tuple[int, int]:
    """The (h, w) the network runs at for a frame of (height, width)."""
    if not 0 < downsample_ratio <= 1:
        raise ValueError(f"downsample_ratio must be in (0, 1], got {downsample_ratio}")
    return max(1, round(height * downsample_ratio)), max(1, round(width * downsample_ratio))


def downsample(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resizes (N, 3, H, W) down to ``size``: a k×k box average (k = the whole part of the
    scale) followed by a bilinear resize for the remainder.

    Close to an area resize without its aliasing, and built only from ops that export to
    ONNX and TorchScript with fixed shapes. Identity when the size already matches.
    """
    height, width = image.shape[-2:]
    if (height, width) == tuple(size):
        return image
    k = int(min(height / size[0], width / size[1]))
    if k >= 2:
        image = F.avg_pool2d(image, k, ceil_mode=True, count_include_pad=False)
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


class MattingNetwork(nn.Module):
    """The paper's network. ``config=None`` builds the paper configuration."""

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or NetworkConfig.paper()
        self.auto_long_side = 512
        """The network-resolution long side its weights were trained for, in pixels;
        ``downsample_ratio="auto"`` aims at it. Saved in, and restored from, checkpoints."""
        self.normalize = ImageNetNormalize()
        self.backbone = MobileNetV3LargeEncoder()
        c1, c2, c3, c4 = MobileNetV3LargeEncoder.channels
        self.aspp = ASPP(c4, config.aspp_channels, config.aspp_rates)
        self.memory = AttentionMemory(
            config.aspp_channels, config.key_channels, config.value_channels, config.memory_channels
        )
        self.aggregation = AggregationHead(config.memory_channels)
        self.decoder = Decoder(
            config.memory_channels, (c1, c2, c3), config.decoder_channels, config.output_hidden
        )
        self.segmentation = nn.Conv2d(config.output_hidden, 1, 1)
        self.refiner = DeepGuidedFilter(config.output_hidden, config.guided_filter_hidden)

    # -- stage methods -------------------------------------------------------------------

    def encode(self, image: Tensor) -> Encoding:
        """image: (N, 3, H, W) sRGB in [0, 1], H and W multiples of 16 (see ``pad_to_stride``)."""
        f1, f2, f3, f4 = self.backbone(self.normalize(image))
        key, value = self.memory.encoder(self.aspp(f4))
        return Encoding(image, (f1, f2, f3), key, value)

    def read_memory(
        self, key: Tensor, value: Tensor, memory_keys: Tensor, memory_values: Tensor
    ) -> Tensor:
        """Frame t's key/value (N, C, h, w) against memory (N, 2, C, h, w) → reconstructed map."""
        return self.memory(key, value, memory_keys, memory_values)

    def decode(self, encoding: Encoding, reconstructed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """→ the foreground's residual over the frame (N,3,H,W), unbounded, pha (N,1,H,W) in
        [0, 1] and hidden (N,C,H,W), at the padded size (``foreground`` makes the residual a
        foreground)."""
        return self.decoder(encoding.image, *encoding.features, reconstructed)

    def aggregate(self, reconstructed: Tensor) -> tuple[Tensor, Tensor]:
        """Temporal-aggregation head: → fgr (N,3,h,w), pha (N,1,h,w) at 1/16."""
        return self.aggregation(reconstructed)

    @staticmethod
    def foreground(image: Tensor, residual: Tensor) -> Tensor:
        """The decoder's residual added to the frame it was decoded from, clamped to [0, 1]."""
        return (image + residual).clamp(0.0, 1.0)

    def refine(
        self,
        image: Tensor,
        image_lr: Tensor,
        residual_lr: Tensor,
        pha_lr: Tensor,
        hidden_lr: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Deep Guided Filter: the decoder's low-resolution residual and alpha → foreground
        and alpha at the full resolution of ``image``."""
        return self.refiner(image, image_lr, residual_lr, pha_lr, hidden_lr)

    def matte(
        self,
        encoding: Encoding,
        memory_keys: Tensor,
        memory_values: Tensor,
        image: Tensor,
        image_lr: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """One encoded frame against its memory → fgr (N,3,H,W), pha (N,1,H,W) at the size of
        ``image`` (full resolution): read memory, decode, crop the padding, and refine with the
        Deep Guided Filter when ``image_lr`` (the unpadded network input) is smaller."""
        refine = tuple(image_lr.shape[-2:]) != tuple(image.shape[-2:])
        out = self.matte_low(encoding, memory_keys, memory_values, image_lr, refine)
        if refine:
            return self.refiner.apply(image, out)
        return out[:, :3], out[:, 3:]

    def matte_low(
        self,
        encoding: Encoding,
        memory_keys: Tensor,
        memory_values: Tensor,
        image_lr: Tensor,
        refine: bool,
    ) -> Tensor:
        """``matte`` up to the full-resolution work: fgr and alpha (N, 4, h, w) at the
        network's resolution, or with ``refine`` the Deep Guided Filter's coefficients
        (N, 8, h, w) for ``self.refiner.apply``."""
        h, w = image_lr.shape[-2:]
        reconstructed = self.read_memory(encoding.key, encoding.value, memory_keys, memory_values)
        residual, pha, hidden = self.decode(encoding, reconstructed)
        residual, pha, hidden = residual[..., :h, :w], pha[..., :h, :w], hidden[..., :h, :w]
        if refine:
            return self.refiner.coefficients(image_lr, residual, pha, hidden)
        return torch.cat([self.foreground(image_lr, residual), pha], dim=1)

    def step(
        self,
        image: Tensor,
        memory_keys: Tensor,
        memory_values: Tensor,
        size: tuple[int, int],
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One streaming step: full-resolution frames (N, 3, H, W) against the cached keys and
        values of their two previous frames (N, 2, C, h, w), the network running at ``size``.

        → fgr (N,3,H,W), pha (N,1,H,W), and the frames' own key and value for later frames'
        memory. The key and value depend on the frames only, never on the memory passed in.
        """
        image_lr = downsample(image, size)
        encoding = self.encode(pad_to_stride(image_lr))
        fgr, pha = self.matte(encoding, memory_keys, memory_values, image, image_lr)
        return fgr, pha, encoding.key, encoding.value

    # -- whole clips ---------------------------------------------------------------------

    def forward(
        self, frames: Tensor, downsample_ratio: float = 1.0, segmentation_pass: bool = False
    ) -> MattingOutput:
        """frames: (B, T, 3, H, W) float in [0, 1], sRGB, any H and W.

        All B·T frames go through the backbone as one batch. Frame t attends to frames
        t-1 and t-2 of the same clip; the clip's first frame stands in for frames before it.
        With ``downsample_ratio < 1`` the network runs on a resized frame and the Deep
        Guided Filter restores the full resolution.
        """
        b, t, _, height, width = frames.shape
        flat = frames.flatten(0, 1)
        size = network_size(height, width, downsample_ratio)
        image_lr = downsample(flat, size)
        encoding = self.encode(pad_to_stride(image_lr))

        index = memory_indices(t, device=frames.device)
        keys = encoding.key.unflatten(0, (b, t))[:, index].flatten(0, 1)
        values = encoding.value.unflatten(0, (b, t))[:, index].flatten(0, 1)
        reconstructed = self.read_memory(encoding.key, encoding.value, keys, values)
        agg_fgr, agg_pha = self.aggregate(reconstructed)

        residual, pha, hidden = self.decode(encoding, reconstructed)
        residual, pha, hidden = (x[..., : size[0], : size[1]] for x in (residual, pha, hidden))

        def clip(x: Tensor) -> Tensor:
            return x.unflatten(0, (b, t))

        if segmentation_pass:
            seg = self.segmentation(hidden)
            return MattingOutput(None, None, clip(agg_fgr), clip(agg_pha), clip(seg))
        if size != (height, width):
            fgr, pha = self.refine(flat, image_lr, residual, pha, hidden)
        else:
            fgr = self.foreground(image_lr, residual)
        return MattingOutput(clip(fgr), clip(pha), clip(agg_fgr), clip(agg_pha))
