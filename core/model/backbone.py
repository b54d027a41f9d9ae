"""MobileNetV3-Large feature extractor with its last stage dilated (paper §3.1).

Module and parameter names equal torchvision's ``mobilenet_v3_large().features`` so that
an ImageNet state dict loads strictly, but torchvision is never imported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

_BN_EPS = 0.001
_BN_MOMENTUM = 0.01


def make_divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvNormActivation(nn.Sequential):
    """conv → BN → activation, indexed 0/1/2 like torchvision's ``Conv2dNormActivation``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        activation: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels, eps=_BN_EPS, momentum=_BN_MOMENTUM),
        ]
        if activation is not None:
            layers.append(activation(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale


@dataclass(frozen=True)
class BlockSpec:
    in_channels: int
    kernel: int
    expanded: int
    out_channels: int
    use_se: bool
    hardswish: bool
    stride: int
    dilation: int


# (in, kernel, expanded, out, SE, hard-swish, stride, dilation); the last three blocks are
# the dilated stage: stride 1 and dilation 2 keep the deepest map at 1/16.
LARGE_BLOCKS = (
    BlockSpec(16, 3, 16, 16, False, False, 1, 1),
    BlockSpec(16, 3, 64, 24, False, False, 2, 1),
    BlockSpec(24, 3, 72, 24, False, False, 1, 1),
    BlockSpec(24, 5, 72, 40, True, False, 2, 1),
    BlockSpec(40, 5, 120, 40, True, False, 1, 1),
    BlockSpec(40, 5, 120, 40, True, False, 1, 1),
    BlockSpec(40, 3, 240, 80, False, True, 2, 1),
    BlockSpec(80, 3, 200, 80, False, True, 1, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1, 1),
    BlockSpec(80, 3, 480, 112, True, True, 1, 1),
    BlockSpec(112, 3, 672, 112, True, True, 1, 1),
    BlockSpec(112, 5, 672, 160, True, True, 1, 2),
    BlockSpec(160, 5, 960, 160, True, True, 1, 2),
    BlockSpec(160, 5, 960, 160, True, True, 1, 2),
)


class InvertedResidual(nn.Module):
    def __init__(self, cfg: BlockSpec) -> None:
        super().__init__()
        act = nn.Hardswish if cfg.hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if cfg.expanded != cfg.in_channels:
            layers.append(ConvNormActivation(cfg.in_channels, cfg.expanded, 1, activation=act))
        layers.append(
            ConvNormActivation(
                cfg.expanded,
                cfg.expanded,
                cfg.kernel,
                stride=cfg.stride,
                groups=cfg.expanded,
                dilation=cfg.dilation,
                activation=act,
            )
        )
        if cfg.use_se:
            layers.append(SqueezeExcitation(cfg.expanded, make_divisible(cfg.expanded // 4)))
        layers.append(ConvNormActivation(cfg.expanded, cfg.out_channels, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.use_residual = cfg.stride == 1 and cfg.in_channels == cfg.out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetV3LargeEncoder(nn.Module):
    """Features at 1/2 (16 ch), 1/4 (24), 1/8 (40) and 1/16 (960).

    Input: (N, 3, H, W) ImageNet-normalised, H and W multiples of 16.
    """

    channels = (16, 24, 40, 960)

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvNormActivation(3, 16, 3, stride=2, activation=nn.Hardswish)]
        layers += [InvertedResidual(cfg) for cfg in LARGE_BLOCKS]
        layers.append(ConvNormActivation(160, 960, 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        f1 = self.features[0:2](x)
        f2 = self.features[2:4](f1)
        f3 = self.features[4:7](f2)
        f4 = self.features[7:17](f3)
        return f1, f2, f3, f4


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetNormalize(nn.Module):
    """(N, 3, H, W) sRGB in [0, 1] → ImageNet-normalised input, as the backbone was trained."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std
