"""Up-sampling decoder and output block (paper §3.2-3.3), plus the temporal-aggregation head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.model.aspp import upsample_like


class ResidualBlock(nn.Module):
    """Two 3x3 conv + BN stages with a 1x1 projection shortcut; reduces cin → cout."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class UpsamplingBlock(nn.Module):
    """Up-sampling block 1 (Fig. 2b): [up(x), skip feature, pooled image] → residual block."""

    def __init__(self, cin: int, skip_channels: int, cout: int) -> None:
        super().__init__()
        self.merge = ResidualBlock(cin + skip_channels + 3, cout)

    def forward(self, x: Tensor, skip: Tensor, image: Tensor) -> Tensor:
        return self.merge(torch.cat([upsample_like(x, skip), skip, image], dim=1))


class FullResolutionBlock(nn.Module):
    """Up-sampling block 2 (Fig. 2c): [up(x), image] → residual block, at full resolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.merge = ResidualBlock(cin + 3, cout)

    def forward(self, x: Tensor, image: Tensor) -> Tensor:
        return self.merge(torch.cat([upsample_like(x, image), image], dim=1))


class OutputBlock(nn.Module):
    """Output block (Fig. 2d): two 3x3 conv + BN stages → 3 foreground + 1 alpha channels.

    ``forward`` returns (residual (N,3,H,W), pha (N,1,H,W) in [0, 1], hidden (N,C,H,W)).
    The foreground is predicted as a correction to the input frame, unbounded and with no
    ReLU (as Robust Video Matting does): inside the person the right answer is the frame
    itself, a residual of zero, which a ReLU-clamped direct prediction had to re-synthesise
    and could lose to a dead channel. ``hidden`` is the first stage's output, which the Deep
    Guided Filter uses as guidance features.
    """

    def __init__(self, cin: int, hidden: int) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            nn.Conv2d(cin, hidden, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
        )
        self.stage2 = nn.Sequential(
            nn.Conv2d(hidden, 4, 3, padding=1, bias=False),
            nn.BatchNorm2d(4),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        hidden = self.stage1(x)
        out = self.stage2(hidden)
        return out[:, :3], out[:, 3:].clamp(0.0, 1.0), hidden


class Decoder(nn.Module):
    """Reconstructed 1/16 map + backbone skips + image pyramid → foreground residual, pha,
    hidden at full size (``OutputBlock``).

    image: (N, 3, H, W) sRGB in [0, 1], H and W multiples of 16; skips f1, f2, f3 at
    1/2, 1/4, 1/8.
    """

    def __init__(
        self,
        memory_channels: int,
        skip_channels: tuple[int, int, int],
        channels: tuple[int, int, int, int],
        output_hidden: int,
    ) -> None:
        super().__init__()
        c8, c4, c2, c1 = channels
        s2, s4, s8 = skip_channels
        self.pool = nn.AvgPool2d(2, 2, count_include_pad=False)
        self.up8 = UpsamplingBlock(memory_channels, s8, c8)
        self.up4 = UpsamplingBlock(c8, s4, c4)
        self.up2 = UpsamplingBlock(c4, s2, c2)
        self.up1 = FullResolutionBlock(c2, c1)
        self.output = OutputBlock(c1, output_hidden)

    def forward(
        self, image: Tensor, f1: Tensor, f2: Tensor, f3: Tensor, reconstructed: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        image2 = self.pool(image)
        image4 = self.pool(image2)
        image8 = self.pool(image4)
        x = self.up8(reconstructed, f3, image8)
        x = self.up4(x, f2, image4)
        x = self.up2(x, f1, image2)
        x = self.up1(x, image)
        return self.output(x)


class AggregationHead(nn.Module):
    """Temporal-aggregation head (paper eq. 8): reconstructed 1/16 map → low-res fgr and pha.

    Returns (fgr (N,3,h,w), pha (N,1,h,w)) in [0, 1]; used only for direct supervision of the
    memory during training.
    """

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(cin, 4, 1)

    def forward(self, reconstructed: Tensor) -> tuple[Tensor, Tensor]:
        out = torch.sigmoid(self.project(reconstructed))
        return out[:, :3], out[:, 3:]
