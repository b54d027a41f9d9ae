"""The matting equation (paper eq. 1): a frame is its foreground over its background."""

from __future__ import annotations

import torch


def composite(fgr: torch.Tensor, pha: torch.Tensor, bgr: torch.Tensor) -> torch.Tensor:
    """``I = pha * fgr + (1 - pha) * bgr``.

    Args:
        fgr: ``(..., 3, H, W)`` float in [0, 1], sRGB, straight (not premultiplied) colour.
        pha: ``(..., 1, H, W)`` float in [0, 1].
        bgr: ``(..., 3, H, W)`` float in [0, 1], sRGB.

    Returns:
        ``(..., 3, H, W)`` composite, same dtype.
    """
    if (
        fgr.shape != bgr.shape
        or fgr.shape[-3] != 3
        or pha.shape != (*fgr.shape[:-3], 1, *fgr.shape[-2:])
    ):
        raise ValueError(
            f"expected fgr and bgr (..., 3, H, W) and pha (..., 1, H, W) of one size; got "
            f"fgr {tuple(fgr.shape)}, pha {tuple(pha.shape)}, bgr {tuple(bgr.shape)}"
        )
    return torch.lerp(bgr, fgr, pha)
