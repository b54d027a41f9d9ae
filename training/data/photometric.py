"""Per-frame photometric operations on clips: colour, greyscale, Gaussian blur, sensor noise.

All functions take and return ``(T, C, H, W)`` float tensors in [0, 1], sRGB, and accept one
value per frame so an effect can drift over a clip. They are pure; the randomness is drawn by
:mod:`training.data.augmentation`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

_LUMA = torch.tensor([0.299, 0.587, 0.114])
# RGB <-> YIQ: a hue shift is a rotation of the (I, Q) chroma plane.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """``(T, 1, H, W)`` Rec.601 luma of ``(T, 3, H, W)``."""
    t, _, h, w = rgb.shape
    return torch.matmul(_LUMA.to(rgb), rgb.reshape(t, 3, h * w)).reshape(t, 1, h, w)


def colour_transform(
    brightness: torch.Tensor,
    contrast: torch.Tensor,
    saturation: torch.Tensor,
    hue: torch.Tensor,
    mean_luma: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame ``(T, 3, 3)`` matrix and ``(T, 3)`` offset equal to torchvision's brightness,
    contrast, saturation and hue steps in that order, without the clamps between them.

    Brightness scales; contrast blends with the frame's mean luma (after brightness); saturation
    blends with each pixel's luma; hue rotates the chroma plane of YIQ. Each step keeps greys
    grey, so the contrast offset passes through the later steps unchanged.
    """
    n = len(brightness)
    eye = torch.eye(3).expand(n, 3, 3)
    per_frame = saturation.reshape(n, 1, 1)
    sat = per_frame * eye + (1 - per_frame) * torch.outer(torch.ones(3), _LUMA)
    angle = hue * (2 * math.pi)
    rot = torch.zeros(n, 3, 3)
    rot[:, 0, 0] = 1.0
    # Signed so that a positive shift turns red towards green, as HSV hue does.
    rot[:, 1, 1], rot[:, 1, 2] = torch.cos(angle), torch.sin(angle)
    rot[:, 2, 1], rot[:, 2, 2] = -torch.sin(angle), torch.cos(angle)
    hue_m = _YIQ_TO_RGB @ rot @ _RGB_TO_YIQ
    matrix = hue_m @ sat * (contrast * brightness).reshape(n, 1, 1)
    offset = ((1 - contrast) * brightness * mean_luma).reshape(n, 1).expand(n, 3)
    return matrix, offset


def adjust_colour(
    rgb: torch.Tensor,
    brightness: torch.Tensor,
    contrast: torch.Tensor,
    saturation: torch.Tensor,
    hue: torch.Tensor,
) -> torch.Tensor:
    """Colour jitter with ``(T,)`` factors: brightness, contrast and saturation are multipliers
    (1 = unchanged), hue a rotation in turns (0 = unchanged, 0.5 = opposite). One 3x3 matrix
    per frame (:func:`colour_transform`), clamped to [0, 1] once at the end."""
    t, _, h, w = rgb.shape
    mean = luma(rgb).mean(dim=(1, 2, 3))
    matrix, offset = colour_transform(
        *(v.float() for v in (brightness, contrast, saturation, hue)), mean.float()
    )
    flat = torch.baddbmm(offset.to(rgb).unsqueeze(-1), matrix.to(rgb), rgb.reshape(t, 3, h * w))
    return flat.clamp_(0, 1).reshape(t, 3, h, w)


def greyscale(rgb: torch.Tensor) -> torch.Tensor:
    """Luma replicated to three channels."""
    return luma(rgb).expand_as(rgb).contiguous()


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of each ``(C, H, W)`` image in ``(N, C, H, W)``, mirrored borders; ``sigma``
    in pixels (kernel radius 3 sigma), values below 0.3 return the input unchanged."""
    if sigma < 0.3:
        return image
    # cv2 is an order of magnitude faster than a separable conv2d on CPU for these sizes.
    out = []
    for img in image.permute(0, 2, 3, 1).numpy():
        blurred = cv2.GaussianBlur(
            img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
        )
        out.append(blurred.reshape(img.shape))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def blur_frames(clips: list[torch.Tensor], sigmas: torch.Tensor) -> list[torch.Tensor]:
    """Blurs frame ``t`` of every clip in ``clips`` with ``sigmas[t]``: the same kernel for a
    foreground and its alpha keeps them aligned."""
    out = [c.clone() for c in clips]
    for t, sigma in enumerate(sigmas.tolist()):
        for o, c in zip(out, clips, strict=True):
            o[t : t + 1] = gaussian_blur(c[t : t + 1], sigma)
    return out


def grain(noise: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Upsamples a low-resolution ``(T, C, h, w)`` noise field to ``size``: coarser grain."""
    if noise.shape[-2:] == size:
        return noise
    return F.interpolate(noise, size=size, mode="bilinear", align_corners=False)
