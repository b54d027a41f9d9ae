"""Atrous Spatial Pyramid Pooling on the 1/16 features (DeepLabV3; paper §2.1, §3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _conv_bn_relu(cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> nn.Sequential:
    padding = (kernel - 1) // 2 * dilation
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ImagePooling(nn.Module):
    """Global context branch: average over the whole map, project, broadcast back."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.project = _conv_bn_relu(cin, cout)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.project(x.mean(dim=(2, 3), keepdim=True))
        return pooled.expand(-1, -1, x.shape[2], x.shape[3])


class ASPP(nn.Module):
    """(N, cin, h, w) → (N, cout, h, w): a 1x1 branch, three dilated 3x3 branches and image
    pooling, concatenated and projected by a 1x1 conv. Dropout is left out (see docs/model.md)."""

    def __init__(self, cin: int, cout: int, rates: tuple[int, ...]) -> None:
        super().__init__()
        branches = [_conv_bn_relu(cin, cout)]
        branches += [_conv_bn_relu(cin, cout, 3, rate) for rate in rates]
        branches.append(ImagePooling(cin, cout))
        self.branches = nn.ModuleList(branches)
        self.project = _conv_bn_relu(cout * len(branches), cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))


def upsample_like(x: Tensor, like: Tensor) -> Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``like``."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
