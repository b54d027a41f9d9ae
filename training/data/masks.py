"""Mask decoding for the segmentation sets: COCO run-length encoding (uncompressed and
compressed), COCO polygons, and Supervisely polygon / bitmap objects.

pycocotools is not a dependency; COCO RLE is short enough to decode here. All functions return
``(H, W)`` bool arrays.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np


def rle_counts_from_string(encoded: str | bytes) -> list[int]:
    """Decodes pycocotools' compressed RLE string into run lengths.

    Each count is a little-endian sequence of 6-bit characters (offset by 48): 5 value bits and a
    continuation bit; the last character's bit 4 is a sign bit. From the third count on, the
    stored value is the difference to the count two places earlier.
    """
    s = encoded.decode("ascii") if isinstance(encoded, bytes) else encoded
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """``{"size": [H, W], "counts": [...] or "<compressed>"}`` -> ``(H, W)`` bool.

    Runs alternate background/foreground starting with background, over pixels in column-major
    (Fortran) order, as COCO and YouTube-VIS store them.
    """
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        counts = rle_counts_from_string(counts)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() != h * w or (counts < 0).any():
        raise ValueError(f"RLE counts sum to {counts.sum()}, expected H*W = {h * w}")
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape(w, h).T


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """COCO polygons ``[[x1, y1, x2, y2, ...], ...]`` (pixel coordinates) -> ``(H, W)`` bool."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for poly in polygons:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(pts) >= 3:
            cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def decode_coco_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """A COCO-style ``segmentation`` field: polygon list, or RLE dict (either kind)."""
    if isinstance(segmentation, dict):
        mask = decode_rle(segmentation)
        if mask.shape != (height, width):
            raise ValueError(f"RLE size {mask.shape} differs from the frame's {(height, width)}")
        return mask
    return polygons_to_mask(segmentation, height, width)


def decode_supervisely_bitmap(data: str) -> np.ndarray:
    """Supervisely ``bitmap.data``: base64 of a zlib-compressed PNG; a 4-channel PNG's mask is its
    alpha, a 3-channel PNG's its first channel. Returns the crop at ``origin``, bool."""
    png = np.frombuffer(zlib.decompress(base64.b64decode(data)), dtype=np.uint8)
    image = cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("Supervisely bitmap is not a PNG")
    if image.ndim == 3:
        image = image[..., 3] if image.shape[2] == 4 else image[..., 0]
    return image > 0


def supervisely_objects_to_mask(
    objects: Sequence[dict[str, Any]],
    height: int,
    width: int,
    class_titles: Sequence[str] | None = None,
) -> np.ndarray:
    """Union of a Supervisely annotation's polygon and bitmap objects (optionally only those whose
    ``classTitle`` is in ``class_titles``) -> ``(H, W)`` bool. Points are ``[x, y]``; polygon
    ``interior`` rings are holes; a bitmap is pasted with its top-left at ``origin = [x, y]``."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for obj in objects:
        if class_titles is not None and obj.get("classTitle") not in class_titles:
            continue
        kind = obj.get("geometryType")
        if kind == "polygon":
            layer = np.zeros_like(mask)
            exterior = np.round(np.asarray(obj["points"]["exterior"], np.float64)).astype(np.int32)
            if len(exterior) >= 3:
                cv2.fillPoly(layer, [exterior], 1)
            for hole in obj["points"].get("interior", []):
                hole = np.round(np.asarray(hole, np.float64)).astype(np.int32)
                if len(hole) >= 3:
                    cv2.fillPoly(layer, [hole], 0)
            mask |= layer
        elif kind == "bitmap":
            crop = decode_supervisely_bitmap(obj["bitmap"]["data"])
            x, y = (int(v) for v in obj["bitmap"]["origin"])
            y0, x0 = max(y, 0), max(x, 0)
            y1, x1 = min(y + crop.shape[0], height), min(x + crop.shape[1], width)
            if y1 > y0 and x1 > x0:
                mask[y0:y1, x0:x1] |= crop[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.uint8)
    return mask.astype(bool)
