"""Anti-aliased rasterisation on a supersampled grid, and premultiplied "over" compositing.

Screen coordinates are output pixels in OpenCV's convention: (0, 0) is the centre of the top-left
pixel, x to the right, y down. Shapes are drawn with OpenCV (anti-aliased polygons, 8-connected
one-pixel lines) on a grid `supersample` times finer than the output and box-averaged down in
float, so coverage is fractional along every edge and a strand narrower than a pixel leaves partial
alpha. Only the bounding box of a layer is rasterised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # fractional bits of the fixed-point coordinates handed to cv2
_MIN_COLOUR_ALPHA = 1.0 / 255.0


@dataclass(frozen=True)
class Box:
    """Pixel window rows [y0, y1), columns [x0, x1) of an output frame."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


@dataclass(frozen=True)
class Paint:
    """Shapes drawn in one colour.

    `shapes`: a sequence of (P, 2) screen-pixel point arrays, or one (N, P, 2) array. `width` 0 fills
    each shape as a polygon (their union); otherwise the shapes are open polylines `width`
    supersampled pixels wide. `colour`: sRGB in [0, 1].
    """

    shapes: Sequence[np.ndarray] | np.ndarray
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    width: int = 0


def transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3x3 affine `matrix` to points (..., 2); returns float32 (..., 2)."""
    return (points @ matrix[:2, :2].T + matrix[:2, 2]).astype(np.float32)


def bounding_box(paints: Sequence[Paint], size: tuple[int, int], pad: float = 2.0) -> Box | None:
    """Smallest pixel window of a frame `size` (H, W) holding every shape, or None if off-frame."""
    chunks = [np.asarray(s, np.float32).reshape(-1, 2) for p in paints for s in _point_arrays(p)]
    if not chunks:
        return None
    pts = np.concatenate(chunks)
    lo = np.floor(pts.min(axis=0) - pad).astype(int)
    hi = np.ceil(pts.max(axis=0) + pad).astype(int) + 1
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], size[1]), min(hi[1], size[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return Box(int(y0), int(y1), int(x0), int(x1))


def rasterize(
    paints: Sequence[Paint], box: Box, supersample: int, *, colour: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Draw `paints` in order, each over the previous ones, inside `box`.

    Returns coverage (h, w) float32 in [0, 1] and, when `colour`, premultiplied sRGB (h, w, 3)
    float32 (the colour of each paint weighted by its visible coverage).
    """
    h, w = box.shape
    s = supersample
    channels = 4 if colour else 1
    buf = np.zeros((h * s, w * s, channels), np.uint8)
    offset = np.array([box.x0, box.y0], np.float32)
    for paint in paints:
        value = (*(round(255 * c) for c in paint.colour), 255) if colour else (255,)
        fixed = [_fixed_point(p, offset, s) for p in _point_arrays(paint)]
        if paint.width == 0:
            # one call per polygon: cv2.fillPoly fills overlaps of a polygon list even-odd
            for polys in fixed:
                for poly in polys:
                    cv2.fillPoly(buf, [poly], value, cv2.LINE_AA, _SHIFT)
        else:
            # one-pixel lines are cheaper 8-connected and box-filter to the same coverage
            kind = cv2.LINE_8 if paint.width == 1 else cv2.LINE_AA
            for lines in fixed:
                cv2.polylines(buf, lines, False, value, paint.width, kind, _SHIFT)
    planes = [
        cv2.resize(plane.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        for plane in cv2.split(buf)
    ]
    coverage = planes[-1] * np.float32(1 / 255)
    if not colour:
        return coverage, None
    premult = np.stack(planes[:3], axis=-1) * np.float32(1 / 255)
    return coverage, premult


def warp_canvas(canvas: np.ndarray, canvas_to_screen: np.ndarray, box: Box) -> np.ndarray:
    """Resample `canvas` (h, w, C) float32 through a 3x3 canvas-pixel -> screen affine into `box`."""
    shift = np.array([[1, 0, -box.x0], [0, 1, -box.y0], [0, 0, 1]], np.float64)
    m = (shift @ canvas_to_screen)[:2].astype(np.float32)
    h, w = box.shape
    return cv2.warpAffine(
        canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def over(
    alpha: np.ndarray, premult: np.ndarray, box: Box, layer_alpha: np.ndarray, layer_premult
) -> None:
    """Put a layer in front of the accumulated (alpha (H, W), premult (H, W, 3)), in place."""
    a = alpha[box.slices]
    p = premult[box.slices]
    keep = 1.0 - layer_alpha
    a *= keep
    a += layer_alpha
    p *= keep[..., None]
    p += layer_premult


def unpremultiply(premult: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colour (H, W, 3) in [0, 1] from premultiplied colour and alpha.

    Where alpha >= 1/255 this is premult / alpha. Elsewhere the matte's colour is diffused outward
    by a push-pull pyramid and blended in, so the colour is smooth and plausible everywhere (it never
    reaches the composite where alpha is 0).
    """
    h, w = alpha.shape
    fill = cv2.resize(_push_pull(premult, alpha), (w, h), interpolation=cv2.INTER_LINEAR)
    a = alpha[..., None]
    tau = np.float32(_MIN_COLOUR_ALPHA)
    fg = (premult + np.maximum(tau - a, 0.0) * fill) / np.maximum(a, tau)
    return np.clip(fg, 0.0, 1.0, out=fg)


def _push_pull(premult: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Colour everywhere at a quarter of the resolution: the matte's own colour where it is opaque,
    spreading outward into the transparent area from coarser levels."""
    p, a = premult, alpha
    levels = []
    while min(a.shape) > 4:
        p, a = cv2.pyrDown(p), cv2.pyrDown(a)
        levels.append((p, a))
    total = float(a.sum())
    mean = p.reshape(-1, 3).sum(axis=0) / total if total > 1e-6 else np.full(3, 0.5)
    colour = p + (1.0 - np.minimum(a, 1.0))[..., None] * mean.astype(np.float32)
    for p, a in reversed(levels[1:-1]):
        up = cv2.resize(colour, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
        colour = p + (1.0 - np.minimum(a, 1.0))[..., None] * up
    return colour


def _point_arrays(paint: Paint) -> list[np.ndarray]:
    """The shapes of a paint as (N, P, 2) float32 arrays (one per distinct point count)."""
    if isinstance(paint.shapes, np.ndarray):
        return [paint.shapes.reshape(-1, paint.shapes.shape[-2], 2).astype(np.float32)]
    return [np.asarray(s, np.float32)[None] for s in paint.shapes]


def _fixed_point(points: np.ndarray, offset: np.ndarray, supersample: int) -> np.ndarray:
    # output pixel centre x maps to supersampled coordinate (x + 0.5) * s - 0.5
    sub = ((points - offset) + 0.5) * supersample - 0.5
    return np.rint(sub * (1 << _SHIFT)).astype(np.int32)
