"""Deep Guided Filter refinement (Wu et al., "Fast End-to-End Trainable Guided Filter").

The network runs on a down-sampled frame; a learned guided filter, fitted at low
resolution and applied at full resolution, restores full-resolution alpha and foreground.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def box_filter(x: Tensor, radius: int) -> Tensor:
    """Mean over a (2r+1)² window with edge replication: (N, C, H, W) → (N, C, H, W)."""
    size = 2 * radius + 1
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.avg_pool2d(padded, size, stride=1)


def guided_filter_coefficients(
    guide: Tensor, target: Tensor, hidden: Tensor, mix: nn.Module, radius: int = 1
) -> tuple[Tensor, Tensor]:
    """Fits the local linear model target ≈ A·guide + b at low resolution.

    guide: (N, Cg, h, w); target: (N, Cg, h, w); hidden: (N, Ch, h, w). ``mix`` maps
    [cov(guide, target), var(guide), hidden] to A, replacing the classic A = cov/(var+ε).
    Returns A and b, each (N, Cg, h, w).
    """
    mean_g = box_filter(guide, radius)
    mean_t = box_filter(target, radius)
    cov = box_filter(guide * target, radius) - mean_g * mean_t
    var = box_filter(guide * guide, radius) - mean_g * mean_g
    a = mix(torch.cat([cov, var, hidden], dim=1))
    b = mean_t - a * mean_g
    return a, b


class DeepGuidedFilter(nn.Module):
    """Guide: frame RGB plus its grey level (4 ch); target: fgr RGB + alpha (4 ch)."""

    def __init__(self, hidden_channels: int, width: int) -> None:
        super().__init__()
        self.mix = nn.Sequential(
            nn.Conv2d(4 * 2 + hidden_channels, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 4, 1, bias=True),
        )

    def coefficients(
        self, image_lr: Tensor, fgr_lr: Tensor, pha_lr: Tensor, hidden_lr: Tensor
    ) -> Tensor:
        """The local linear model fitted at the network's resolution: (N, 8, h, w), A for
        the four guide channels, then b."""
        guide_lr = torch.cat([image_lr, image_lr.mean(1, keepdim=True)], dim=1)
        target_lr = torch.cat([fgr_lr, pha_lr], dim=1)
        a, b = guided_filter_coefficients(guide_lr, target_lr, hidden_lr, self.mix)
        return torch.cat([a, b], dim=1)

    @staticmethod
    def apply(image: Tensor, coefficients: Tensor) -> tuple[Tensor, Tensor]:
        """Applies ``coefficients`` (N, 8, h, w) at the resolution of ``image`` (N, 3, H, W).

        Returns fgr (N,3,H,W) and pha (N,1,H,W), clamped to [0, 1]. A and b are up-sampled
        in one call: at full resolution this is the memory-bound part of the filter.
        """
        up = F.interpolate(
            coefficients, size=image.shape[-2:], mode="bilinear", align_corners=False
        )
        guide = torch.cat([image, image.mean(1, keepdim=True)], dim=1)
        out = (up[:, :4] * guide + up[:, 4:]).clamp(0.0, 1.0)
        return out[:, :3], out[:, 3:]

    def forward(
        self,
        image: Tensor,
        image_lr: Tensor,
        fgr_lr: Tensor,
        pha_lr: Tensor,
        hidden_lr: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """image: (N,3,H,W) full resolution; the ``_lr`` tensors at the network's resolution.

        Returns fgr (N,3,H,W) and pha (N,1,H,W), clamped to [0, 1].
        """
        return self.apply(image, self.coefficients(image_lr, fgr_lr, pha_lr, hidden_lr))
