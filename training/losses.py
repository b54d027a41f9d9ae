"""Training losses of the paper, §5.2 (equations 4 to 11), plus the segmentation loss.

Every function is pure: tensors in, scalar tensor out, nothing cached. Shape conventions:

- alpha mattes ``pha``: ``(B, T, 1, H, W)`` float in [0, 1];
- foregrounds ``fgr``: ``(B, T, 3, H, W)`` float in [0, 1], the same colour space as the input frames;
- the temporal-aggregation head's low-resolution outputs: ``(B, T, 1, h, w)`` and ``(B, T, 3, h, w)``.

The paper writes ``||·||_1`` for its L1 terms; every one of them is implemented as a *mean* absolute
error over all elements (batch, time, channel and pixels), so the terms do not grow with resolution
or clip length and are comparable between the training stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

# Burt & Adelson's 5-tap binomial filter [1, 4, 6, 4, 1] / 16; the 2-D kernel is its outer product.
_BINOMIAL_5 = (1.0, 4.0, 6.0, 4.0, 1.0)


@dataclass(frozen=True)
class LaplacianPyramid:
    """A Laplacian pyramid of a batch of images.

    Attributes:
        bands: band-pass levels, finest first. ``bands[0]`` has the input's size ``(N, C, H, W)``;
            each next level has ``ceil`` of half the previous height and width.
        residual: the low-pass image left after the last band, ``(N, C, ceil(H / 2**levels), ...)``.
    """

    bands: tuple[torch.Tensor, ...]
    residual: torch.Tensor


@dataclass(frozen=True)
class LossTerms:
    """The named terms of the video loss (equation 11), each a scalar tensor.

    Attributes:
        alpha_l1: equation 4.
        laplacian: equation 5.
        composition: equation 6.
        tem_agg: equation 8, the direct supervision of the temporal-aggregation head.
        tem: equation 9, temporal coherence.
        total: ``alpha_l1 + laplacian + composition + tem_agg + tem`` (equations 7, 10 and 11).
    """

    alpha_l1: torch.Tensor
    laplacian: torch.Tensor
    composition: torch.Tensor
    tem_agg: torch.Tensor
    tem: torch.Tensor
    total: torch.Tensor


def _gaussian_kernel(channels: int, like: torch.Tensor) -> torch.Tensor:
    """The 5x5 binomial kernel, normalised to sum 1, as a depthwise weight ``(channels, 1, 5, 5)``."""
    taps = torch.tensor(_BINOMIAL_5, dtype=like.dtype, device=like.device)
    kernel = torch.outer(taps, taps) / taps.sum() ** 2
    return kernel.expand(channels, 1, 5, 5)


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Gaussian-blur ``x`` ``(N, C, H, W)``; same size out.

    Edges are extended by replication. Reflect padding (Robust Video Matting's choice) needs every
    side to be at least 3 pixels, which the coarse levels of small crops are not.
    """
    padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
    return F.conv2d(padded, _gaussian_kernel(x.shape[1], x), groups=x.shape[1])


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """Blur then keep every second row and column: ``(N, C, H, W)`` -> ``(N, C, ceil(H/2), ceil(W/2))``."""
    return _blur(x)[:, :, ::2, ::2]


def _upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Expand a coarse level ``(N, C, h, w)`` to ``size = (H, W)``, with ``h = ceil(H/2)``.

    Coarse samples go to the even fine positions, zeros in between, and the binomial kernel (times 4,
    since three quarters of the taps land on zeros) interpolates. The *coarse* image is padded by one
    replicated pixel before zeros are inserted, so every fine pixel, the border ones included, sees
    the same pattern of samples and zeros: a constant image stays exactly constant at any size.
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    zeros = x.new_zeros(n, c, 2 * (h + 2), 2 * (w + 2))
    zeros[:, :, ::2, ::2] = padded * 4.0
    out = F.conv2d(zeros, _gaussian_kernel(c, x), groups=c)
    return out[:, :, : size[0], : size[1]]


def laplacian_pyramid(x: torch.Tensor, levels: int = 5) -> LaplacianPyramid:
    """Laplacian pyramid of ``x`` with ``levels`` band-pass levels.

    Level ``s`` (1-based, ``bands[s - 1]``) is ``g_s - up(down(g_s))``, where ``g_1 = x`` and
    ``g_{s+1} = down(g_s)``; ``down`` blurs with the 5x5 binomial Gaussian and drops every second row
    and column, ``up`` inserts zeros and blurs (see ``_upsample``). Edges are handled by replicate
    padding. Odd sizes are kept (the coarse level has ``ceil`` of half the size), nothing is cropped,
    so ``reconstruct(laplacian_pyramid(x))`` returns ``x`` up to float rounding.

    Args:
        x: ``(N, C, H, W)`` float images, any range.
        levels: number of band-pass levels, at least 1.

    Returns:
        The pyramid: ``levels`` bands, finest first, and the low-pass residual.
    """
    if levels < 1:
        raise ValueError(f"levels must be at least 1, got {levels}")
    bands = []
    current = x
    for _ in range(levels):
        down = _downsample(current)
        bands.append(current - _upsample(down, (current.shape[-2], current.shape[-1])))
        current = down
    return LaplacianPyramid(bands=tuple(bands), residual=current)


def reconstruct(pyramid: LaplacianPyramid) -> torch.Tensor:
    """Invert ``laplacian_pyramid``: ``(N, C, H, W)``, the size of ``pyramid.bands[0]``."""
    image = pyramid.residual
    for band in reversed(pyramid.bands):
        image = band + _upsample(image, (band.shape[-2], band.shape[-1]))
    return image


def alpha_l1(pred_pha: torch.Tensor, true_pha: torch.Tensor) -> torch.Tensor:
    """Equation 4: mean absolute alpha error.

    Args:
        pred_pha: ``(B, T, 1, H, W)`` predicted alpha in [0, 1].
        true_pha: ``(B, T, 1, H, W)`` ground-truth alpha in [0, 1].

    Returns:
        Scalar tensor, ``mean(|pred - true|)``.
    """
    return F.l1_loss(pred_pha, true_pha)


def touched_l1(pred: torch.Tensor, target: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """L1 of the foreground over every pixel the person touches (alpha > 0), each pixel
    counted alike: the report's foreground MSE selects the same pixels, and Robust Video
    Matting trains its foreground so. (An alpha-weighted L1, the paper's equation 6, all but
    ignores the faint edge pixels, where a correction to the frame matters most.)"""
    mask = (alpha > 0).to(pred.dtype)
    return (mask * (pred - target).abs()).sum() / (3 * mask.sum()).clamp(min=1.0)


def laplacian_loss(pred_pha: torch.Tensor, true_pha: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """Equation 5: ``sum_{s=1..levels} 2**(s-1) * mean(|Lpyr_s(pred) - Lpyr_s(true)|)``.

    ``s = 1`` is the finest (full-resolution) band-pass level, so coarser levels weigh more, as in
    the paper. Only the band-pass levels enter the sum, not the low-pass residual (the alpha L1 term
    already covers the low frequencies); this matches Robust Video Matting's Laplacian loss, except
    that RVM also divides the sum by ``levels`` and the paper's equation does not, so neither do we.
    Each level's L1 is a mean over that level's elements.

    Args:
        pred_pha: ``(B, T, 1, H, W)`` predicted alpha in [0, 1].
        true_pha: ``(B, T, 1, H, W)`` ground-truth alpha in [0, 1].
        levels: number of band-pass levels.

    Returns:
        Scalar tensor.
    """
    pred_bands = laplacian_pyramid(pred_pha.flatten(0, 1), levels).bands
    true_bands = laplacian_pyramid(true_pha.flatten(0, 1), levels).bands
    loss = pred_pha.new_zeros(())
    for s, (pred_band, true_band) in enumerate(zip(pred_bands, true_bands, strict=True), start=1):
        loss = loss + 2 ** (s - 1) * F.l1_loss(pred_band, true_band)
    return loss


def composition_loss(
    pred_fgr: torch.Tensor, true_fgr: torch.Tensor, true_pha: torch.Tensor
) -> torch.Tensor:
    """Equation 6: ``mean(|true_pha * true_fgr - true_pha * pred_fgr|)``.

    The foreground is weighted by the *ground-truth* alpha, so colours where the subject is absent
    cost nothing.

    Args:
        pred_fgr: ``(B, T, 3, H, W)`` predicted foreground in [0, 1].
        true_fgr: ``(B, T, 3, H, W)`` ground-truth foreground in [0, 1].
        true_pha: ``(B, T, 1, H, W)`` ground-truth alpha in [0, 1], broadcast over the channels.

    Returns:
        Scalar tensor, the mean over all ``B * T * 3 * H * W`` elements.
    """
    return F.l1_loss(true_pha * pred_fgr, true_pha * true_fgr)


def image_loss(
    pred_pha: torch.Tensor,
    pred_fgr: torch.Tensor,
    true_pha: torch.Tensor,
    true_fgr: torch.Tensor,
    levels: int = 5,
) -> torch.Tensor:
    """Equation 7: ``alpha_l1 + laplacian_loss + composition_loss``.

    Args:
        pred_pha: ``(B, T, 1, H, W)`` predicted alpha in [0, 1].
        pred_fgr: ``(B, T, 3, H, W)`` predicted foreground in [0, 1].
        true_pha: ``(B, T, 1, H, W)`` ground-truth alpha in [0, 1].
        true_fgr: ``(B, T, 3, H, W)`` ground-truth foreground in [0, 1].
        levels: band-pass levels of the Laplacian term.

    Returns:
        Scalar tensor.
    """
    return (
        alpha_l1(pred_pha, true_pha)
        + laplacian_loss(pred_pha, true_pha, levels)
        + composition_loss(pred_fgr, true_fgr, true_pha)
    )


def _area_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Average-pool ``x`` ``(B, T, C, H, W)`` to ``(B, T, C, *size)`` (``F.interpolate`` mode "area")."""
    frames = F.interpolate(x.flatten(0, 1), size=size, mode="area")
    return frames.unflatten(0, x.shape[:2])


def temporal_aggregation_loss(
    agg_pha: torch.Tensor,
    agg_fgr: torch.Tensor,
    true_pha: torch.Tensor,
    true_fgr: torch.Tensor,
) -> torch.Tensor:
    """Equation 8: L1 of the temporal-aggregation head's low-resolution alpha and foreground.

    The ground truth is down-sampled to the head's size ``(h, w)`` by area averaging
    (``F.interpolate(mode="area")``, i.e. adaptive average pooling): each low-resolution pixel is
    the mean of the full-resolution pixels it covers, with no aliasing from thin hair. Both L1 terms
    are means and the foreground term is not alpha-weighted, as written in the paper.

    Args:
        agg_pha: ``(B, T, 1, h, w)`` head alpha in [0, 1].
        agg_fgr: ``(B, T, 3, h, w)`` head foreground in [0, 1].
        true_pha: ``(B, T, 1, H, W)`` ground-truth alpha in [0, 1].
        true_fgr: ``(B, T, 3, H, W)`` ground-truth foreground in [0, 1].

    Returns:
        Scalar tensor, ``mean(|agg_pha - true_pha_lr|) + mean(|agg_fgr - true_fgr_lr|)``.
    """
    size = (agg_pha.shape[-2], agg_pha.shape[-1])
    return F.l1_loss(agg_pha, _area_resize(true_pha, size)) + F.l1_loss(
        agg_fgr, _area_resize(true_fgr, size)
    )


def temporal_coherence_loss(
    pred_pha: torch.Tensor,
    true_pha: torch.Tensor,
    pred_fgr: torch.Tensor,
    true_fgr: torch.Tensor,
) -> torch.Tensor:
    """Equation 9: squared error of the temporal derivatives of alpha and foreground.

    ``d/dt x = x[:, 1:] - x[:, :-1]`` (frame differences). The paper's ``||·||_2`` is implemented
    as a mean squared error, as in Robust Video Matting's coherence loss (which the paper cites
    as [29]); unlike RVM there is no extra weight of 5 and the foreground is not masked, because
    equation 9 has neither.

    Args:
        pred_pha: ``(B, T, 1, H, W)`` predicted alpha in [0, 1].
        true_pha: ``(B, T, 1, H, W)`` ground-truth alpha in [0, 1].
        pred_fgr: ``(B, T, 3, H, W)`` predicted foreground in [0, 1].
        true_fgr: ``(B, T, 3, H, W)`` ground-truth foreground in [0, 1].

    Returns:
        Scalar tensor. With ``T == 1`` there is no derivative and the loss is a zero that is still
        attached to the predictions' graph, so ``backward()`` works (and gives zero gradients).
    """
    if pred_pha.shape[1] < 2:
        return (pred_pha.sum() + pred_fgr.sum()) * 0.0

    def ddt(x: torch.Tensor) -> torch.Tensor:
        return x[:, 1:] - x[:, :-1]

    return F.mse_loss(ddt(pred_pha), ddt(true_pha)) + F.mse_loss(ddt(pred_fgr), ddt(true_fgr))


def total_loss(
    pred_pha: torch.Tensor,
    pred_fgr: torch.Tensor,
    agg_pha: torch.Tensor,
    agg_fgr: torch.Tensor,
    true_pha: torch.Tensor,
    true_fgr: torch.Tensor,
    levels: int = 5,
) -> LossTerms:
    """Equation 11: ``L_vid = L_im + L_tem-agg + L_tem``, with every term named.

    Args:
        pred_pha: ``(B, T, 1, H, W)`` predicted alpha in [0, 1].
        pred_fgr: ``(B, T, 3, H, W)`` predicted foreground in [0, 1].
        agg_pha: ``(B, T, 1, h, w)`` temporal-aggregation head alpha in [0, 1].
        agg_fgr: ``(B, T, 3, h, w)`` temporal-aggregation head foreground in [0, 1].
        true_pha: ``(B, T, 1, H, W)`` ground-truth alpha in [0, 1].
        true_fgr: ``(B, T, 3, H, W)`` ground-truth foreground in [0, 1].
        levels: band-pass levels of the Laplacian term.

    Returns:
        The terms and their sum, each a scalar tensor; call ``backward()`` on ``total``.
    """
    terms = {
        "alpha_l1": alpha_l1(pred_pha, true_pha),
        "laplacian": laplacian_loss(pred_pha, true_pha, levels),
        "composition": composition_loss(pred_fgr, true_fgr, true_pha),
        "tem_agg": temporal_aggregation_loss(agg_pha, agg_fgr, true_pha, true_fgr),
        "tem": temporal_coherence_loss(pred_pha, true_pha, pred_fgr, true_fgr),
    }
    return LossTerms(**terms, total=sum(terms.values(), pred_pha.new_zeros(())))


def segmentation_loss(logits: torch.Tensor, true_mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy for the interleaved segmentation steps (§5, after RVM).

    Args:
        logits: ``(B, T, 1, H, W)`` raw segmentation scores, any real value (before the sigmoid).
        true_mask: ``(B, T, 1, H, W)`` ground-truth person mask in [0, 1] (usually 0 or 1).

    Returns:
        Scalar tensor, the mean BCE over all elements.
    """
    return F.binary_cross_entropy_with_logits(logits, true_mask)
