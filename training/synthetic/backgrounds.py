"""Backgrounds behind the person, with their own camera motion, and occluders passing in front.

A background is a canvas larger than the frame (a procedural texture or a photograph bundled with
scikit-image) seen through a slowly panning and zooming window. Photographs with people in them
(astronaut, camera) are excluded: they would be unlabelled foreground.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from training.synthetic.raster import Paint
from training.synthetic.textures import random_colour, value_noise

# scikit-image test images that ship inside the wheel (no download) and show no people
PHOTOS = (
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "motorcycle",
    "brick",
    "grass",
    "gravel",
    "moon",
    "coins",
    "page",
    "text",
    "clock",
)
PROCEDURAL = ("gradient", "clouds", "shapes", "room", "stripes")
_MARGIN = 1.35  # canvas size over frame size


@dataclass(frozen=True, eq=False)
class Background:
    """A canvas (h, w, 3) float32 sRGB and its window motion: centre, pan (2, 3) and zoom (3,)
    waves of amplitude (canvas pixels / relative zoom), rate (radians per frame), phase."""

    kind: str
    canvas: np.ndarray
    pan: np.ndarray
    zoom: np.ndarray

    def frame(self, t: float, size: tuple[int, int]) -> np.ndarray:
        """The background (H, W, 3) float32 at frame time `t`."""
        h, w = size
        ch, cw = self.canvas.shape[:2]
        amp, rate, phase = self.zoom
        zoom = 1.0 + amp * (1.0 + np.sin(rate * t + phase))
        offset = self.pan[:, 0] * np.sin(self.pan[:, 1] * t + self.pan[:, 2])
        cx, cy = cw / 2 + offset[0], ch / 2 + offset[1]
        inv = 1.0 / zoom
        m = np.array([[inv, 0, cx - inv * w / 2], [0, inv, cy - inv * h / 2]], np.float32)
        return cv2.warpAffine(
            self.canvas,
            m,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )


def sample_background(
    rng: np.random.Generator, size: tuple[int, int], p_photo: float
) -> Background:
    """Draw a background for frames of `size` (H, W); a photograph with probability `p_photo`."""
    h, w = size
    ch, cw = int(np.ceil(h * _MARGIN)), int(np.ceil(w * _MARGIN))
    if rng.random() < p_photo:
        name = str(rng.choice(PHOTOS))
        canvas = _photo_canvas(rng, name, (ch, cw))
        kind = f"photo:{name}"
    else:
        name = str(rng.choice(PROCEDURAL))
        canvas = _procedural_canvas(rng, name, (ch, cw))
        kind = f"procedural:{name}"
    if rng.random() < 0.4:  # depth of field
        sigma = rng.uniform(0.5, 3.0) * h / 288
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    # pan stays inside the canvas margin at the smallest zoom
    reach = np.array([(cw - w) / 2, (ch - h) / 2]) * 0.9
    pan = np.stack(
        [
            reach * rng.uniform(0.0, 1.0, 2),
            2 * np.pi / rng.uniform(40, 200, 2),
            rng.uniform(0, 2 * np.pi, 2),
        ],
        axis=1,
    )
    zoom = np.array([rng.uniform(0.0, 0.08), 2 * np.pi / rng.uniform(60, 200), rng.uniform(0, 6.3)])
    return Background(kind, np.ascontiguousarray(canvas, np.float32), pan, zoom)


@functools.cache
def _load_photo(name: str) -> np.ndarray:
    """A bundled scikit-image photograph as float32 in [0, 1], (h, w) or (h, w, 3)."""
    import skimage.data

    image = (
        skimage.data.stereo_motorcycle()[0]
        if name == "motorcycle"
        else getattr(skimage.data, name)()
    )
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[..., :3]
    image = image.astype(np.float32) / 255.0
    image.setflags(write=False)
    return image


def _photo_canvas(rng, name: str, size: tuple[int, int]) -> np.ndarray:
    photo = _load_photo(name)
    ch, cw = size
    ph, pw = photo.shape[:2]
    scale = max(cw / pw, ch / ph) * rng.uniform(1.0, 1.6)
    rw, rh = max(cw, int(np.ceil(pw * scale))), max(ch, int(np.ceil(ph * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(photo, (rw, rh), interpolation=interp)
    y0 = int(rng.integers(0, rh - ch + 1))
    x0 = int(rng.integers(0, rw - cw + 1))
    crop = resized[y0 : y0 + ch, x0 : x0 + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if crop.ndim == 2:  # tint greyscale photographs between two colours
        dark = random_colour(rng, value=(0.0, 0.4))
        light = random_colour(rng, saturation=(0.0, 0.5), value=(0.6, 1.0))
        crop = dark + crop[..., None] * (light - dark)
    gain = rng.uniform(0.75, 1.2, 3).astype(np.float32)
    return np.clip(crop * gain + rng.uniform(-0.05, 0.05), 0.0, 1.0).astype(np.float32)


def _procedural_canvas(rng, kind: str, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    a, b = random_colour(rng), random_colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / max(h, w)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    base = a + ramp[..., None] * (b - a)
    noise = value_noise(rng, (h, w), cell=h / rng.uniform(2, 12), octaves=4)
    if kind == "gradient":
        return np.clip(base + 0.12 * (noise[..., None] - 0.5), 0, 1)
    if kind == "clouds":
        c = random_colour(rng)
        t = noise[..., None]
        return np.clip(np.where(t < 0.5, a + 2 * t * (c - a), c + (2 * t - 1) * (b - c)), 0, 1)
    canvas = (np.clip(base + 0.08 * (noise[..., None] - 0.5), 0, 1) * 255).astype(np.uint8)
    if kind == "stripes":
        period = rng.uniform(0.02, 0.15) * h
        direction = rng.uniform(0, np.pi)
        phase = (np.cos(direction) * xx + np.sin(direction) * yy) / period
        mask = ((phase % 1.0) < rng.uniform(0.2, 0.6)).astype(np.float32)
        colour = (random_colour(rng) * 255).astype(np.float32)
        canvas = (canvas + mask[..., None] * (colour - canvas)).astype(np.uint8)
    elif kind == "room":
        horizon = int(h * rng.uniform(0.55, 0.85))
        floor = (random_colour(rng, value=(0.15, 0.6)) * 255).tolist()
        cv2.rectangle(canvas, (0, horizon), (w, h), floor, -1)
        for _ in range(int(rng.integers(2, 7))):
            x0 = int(rng.uniform(0, w))
            y0 = int(rng.uniform(0.05, 0.6) * horizon)
            x1 = x0 + int(rng.uniform(0.05, 0.3) * w)
            y1 = min(horizon, y0 + int(rng.uniform(0.1, 0.8) * horizon))
            colour = (random_colour(rng) * 255).tolist()
            cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, -1, cv2.LINE_AA)
            frame = [c * 0.6 for c in colour]
            cv2.rectangle(canvas, (x0, y0), (x1, y1), frame, max(1, h // 100), cv2.LINE_AA)
    else:  # shapes
        for _ in range(int(rng.integers(8, 40))):
            colour = (random_colour(rng) * 255).tolist()
            cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
            r = int(rng.uniform(0.02, 0.2) * h)
            pick = rng.random()
            if pick < 0.4:
                cv2.circle(canvas, (cx, cy), r, colour, -1, cv2.LINE_AA)
            elif pick < 0.8:
                box = ((cx, cy), (2 * r, int(rng.uniform(0.5, 3) * r)), rng.uniform(0, 180))
                cv2.fillPoly(canvas, [cv2.boxPoints(box).astype(np.int32)], colour, cv2.LINE_AA)
            else:
                end = (cx + int(rng.normal(0, 0.3) * w), cy + int(rng.normal(0, 0.3) * h))
                cv2.line(canvas, (cx, cy), end, colour, max(1, r // 6), cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


@dataclass(frozen=True, eq=False)
class Occluder:
    """An object crossing the frame in front of the person: polygons in frame-height units around
    its centre, a colour, a start centre and a velocity (frame heights per frame), a spin rate."""

    kind: str
    shapes: tuple[np.ndarray, ...]
    colours: tuple[tuple[float, float, float], ...]
    start: np.ndarray
    velocity: np.ndarray
    spin: float

    def paints(self, t: float, frame_height: int) -> list[Paint]:
        """The occluder at frame time `t` in screen pixels."""
        angle = self.spin * t
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        centre = self.start + self.velocity * t
        return [
            Paint([((shape @ rot.T) + centre) * frame_height], colour)
            for shape, colour in zip(self.shapes, self.colours, strict=True)
        ]


def sample_occluder(rng: np.random.Generator, aspect: float) -> Occluder:
    """Draw a pole, ball, leaf or card that enters from one side of a frame `aspect` wide."""
    kind = str(rng.choice(["pole", "ball", "leaf", "card"]))
    colour = random_colour(rng)
    shade = tuple(float(c) for c in np.clip(colour * 0.7, 0, 1))
    light = tuple(float(c) for c in np.clip(colour * 1.3 + 0.1, 0, 1))
    colour = tuple(float(c) for c in colour)
    if kind == "pole":
        half = rng.uniform(0.02, 0.06)
        tilt = rng.uniform(-0.25, 0.25)
        shine = _rotated_rect(half * 0.3, 1.5, tilt, centre=(half * 0.4, 0.0))
        shapes, colours = (_rotated_rect(half, 1.5, tilt), shine), (colour, light)
    elif kind == "ball":
        r = rng.uniform(0.06, 0.16)
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        circle = np.stack([np.cos(t), np.sin(t)], axis=1)
        shapes = (r * circle, 0.3 * r * circle - 0.35 * r)
        colours = (colour, light)
    elif kind == "leaf":
        length = rng.uniform(0.12, 0.3)
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        leaf = np.stack([length * np.cos(t), 0.35 * length * np.sin(t) * np.abs(np.sin(t / 2))], 1)
        stem = _rotated_rect(0.4 * length, 0.004, 0.0, centre=(-1.2 * length, 0.0))
        shapes, colours = (leaf, stem), (colour, shade)
    else:
        shapes = (_rotated_rect(rng.uniform(0.08, 0.18), rng.uniform(0.06, 0.14), 0.0),)
        colours = (colour,)
    side = rng.choice([-1.0, 1.0])
    speed = rng.uniform(0.012, 0.04)
    start_x = aspect / 2 - side * rng.uniform(0.1, 0.45) * aspect
    start = np.array([start_x, rng.uniform(0.2, 0.8)])
    velocity = np.array([side * speed, rng.normal(0, 0.004)])
    return Occluder(
        kind,
        tuple(np.asarray(s, np.float64) for s in shapes),
        colours,
        start,
        velocity,
        0.0 if kind == "pole" else rng.normal(0.0, 0.05),
    )


def _rotated_rect(half_w: float, half_h: float, angle: float, centre=(0.0, 0.0)) -> np.ndarray:
    corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
    c, s = np.cos(angle), np.sin(angle)
    return (corners + np.asarray(centre)) @ np.array([[c, -s], [s, c]]).T
