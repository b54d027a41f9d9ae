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


def bilinear_taps(size_out: int, size_in: int, device: torch.device) -> tuple[Tensor, ...]:
    """The two source indices and the weight of the second, per output sample, of bilinear
    resampling with ``align_corners=False`` (``F.interpolate``'s convention, clamped at the
    edges): output ``o`` = lerp(input[i0[o]], input[i1[o]], weight[o])."""
    scale = size_in / size_out
    index = torch.arange(size_out, device=device, dtype=torch.float32)
    source = ((index + 0.5) * scale - 0.5).clamp(min=0.0)
    i0 = source.floor().long().clamp(max=size_in - 1)
    i1 = (i0 + 1).clamp(max=size_in - 1)
    return i0, i1, source - i0


def frame_taps(
    size: tuple[int, int], size_lr: tuple[int, int], device: torch.device
) -> tuple[Tensor, ...]:
    """``bilinear_taps`` of the width, then of the height, for ``DeepGuidedFilter.apply_frame``."""
    (height, width), (h, w) = size, size_lr
    return bilinear_taps(width, w, device) + bilinear_taps(height, h, device)


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
    """Guide: frame RGB plus its grey level (4 ch); target: the foreground's residual over
    the frame (RGB) + alpha (4 ch).

    The filter is fitted to the residual, a signal near zero inside the person, so the
    full-resolution foreground keeps the full-resolution frame's own detail: foreground =
    frame + A·guide + b, which is the linear model (A + 1)·guide + b on the colour channels.
    ``coefficients`` returns it in that folded form, so ``apply`` is one multiply-add per
    channel for foreground and alpha alike.
    """

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
        self, image_lr: Tensor, residual_lr: Tensor, pha_lr: Tensor, hidden_lr: Tensor
    ) -> Tensor:
        """The local linear model fitted at the network's resolution: (N, 8, h, w), A for
        the four guide channels, then b, mapping the guide to the foreground itself and
        alpha."""
        guide_lr = torch.cat([image_lr, image_lr.mean(1, keepdim=True)], dim=1)
        target_lr = torch.cat([residual_lr, pha_lr], dim=1)
        a, b = guided_filter_coefficients(guide_lr, target_lr, hidden_lr, self.mix)
        # Adds the frame back: 1 on the three colour channels' A, 0 on alpha's.
        return torch.cat([a[:, :3] + 1.0, a[:, 3:], b], dim=1)

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

    @staticmethod
    def apply_frame(
        image: Tensor, coefficients: Tensor, taps: tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, Tensor]:
        """``apply`` for one frame, written for ``torch.compile`` and for the session's result
        layouts: image (1, 3, H, W), channels-last, and coefficients (1, 8, h, w) → alpha
        (H, W) and foreground (H, W, 3), the same values to float rounding.

        The bilinear up-sampling is two gathers of fixed taps: along the width at the
        network's rows (cheap), then along the height, where each output row mixes two of
        those rows with one weight, so the kernel that writes the foreground runs along the
        contiguous (x, channel) memory of the frame and of the result. Inductor vectorises
        that loop; it vectorised ``F.interpolate`` of channels-last coefficients across the
        3-4 channels instead, and the pass took about three times as long
        (docs/performance.md). ``taps`` (``frame_taps``) should be computed outside the
        compiled graph and passed in: computed inside it, inductor folds the index arithmetic
        into every pixel's load, which was slower still.
        """
        if taps is None:
            taps = frame_taps(image.shape[-2:], coefficients.shape[-2:], image.device)
        x0, x1, wx, y0, y1, wy = taps
        # (h, w, 8): a view of channels-last coefficients, a small copy of NCHW ones.
        c = coefficients[0].permute(1, 2, 0).contiguous()

        def up(channels: slice) -> Tensor:
            # Along the width at the network's rows, then along the height: output row y
            # mixes rows y0[y] and y1[y] of (h, W, C) with one weight, so the loop over
            # (x, c) of the frame's H×W×3 layout stays contiguous.
            rows = torch.lerp(c[:, x0, channels], c[:, x1, channels], wx[:, None])
            return torch.lerp(rows[y0], rows[y1], wy[:, None, None])

        frame = image[0].permute(1, 2, 0)  # (H, W, 3): the channels-last frame's own memory
        alpha = (up(slice(3, 4))[..., 0] * frame.mean(2) + up(slice(7, 8))[..., 0]).clamp(0.0, 1.0)
        foreground = (up(slice(0, 3)) * frame + up(slice(4, 7))).clamp(0.0, 1.0)
        return alpha, foreground

    def forward(
        self,
        image: Tensor,
        image_lr: Tensor,
        residual_lr: Tensor,
        pha_lr: Tensor,
        hidden_lr: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """image: (N,3,H,W) full resolution; the ``_lr`` tensors at the network's resolution,
        ``residual_lr`` the decoder's foreground residual (``OutputBlock``).

        Returns fgr (N,3,H,W) and pha (N,1,H,W), clamped to [0, 1].
        """
        return self.apply(image, self.coefficients(image_lr, residual_lr, pha_lr, hidden_lr))
