"""A head-and-shoulders figure: silhouette polygons, painted skin and clothing, an optional arm.

Figure units are frame heights, x to the right, y down, with the origin at the head centre. The
figure is drawn in three coverage layers (body, head, arm); colour inside the body and head comes
from canvases painted once per clip in figure units and warped with the frame's transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic.raster import Paint, transform
from training.synthetic.textures import (
    CLOTH_PATTERNS,
    SKIN_TONES,
    cloth_texture,
    paint,
    random_colour,
    soft_ellipse,
    value_noise,
)

_MAX_SCALE = 1.35  # canvas pixels per figure unit, in frame heights: about the largest figure scale


@dataclass(frozen=True, eq=False)
class Canvas:
    """An sRGB image (h, w, 3) float32 and the 3x3 affine from its pixels to figure units."""

    image: np.ndarray
    to_figure: np.ndarray


@dataclass(frozen=True, eq=False)
class Arm:
    """A raised, waving arm: shoulder joint, segment lengths and radii in figure units, angles in
    radians from straight down, turning outward for positive values."""

    side: int
    shoulder: np.ndarray
    upper: float
    fore: float
    radius: float
    hand: float
    upper_angle: float
    elbow_bend: float
    wave_amplitude: float
    wave_rate: float
    wave_phase: float
    sleeve: tuple[float, float, float]
    skin: tuple[float, float, float]
    short_sleeve: bool

    def paints(self, figure_to_screen: np.ndarray, t: float) -> list[Paint]:
        """The arm at frame time `t` in screen pixels, in drawing order."""
        wave = self.wave_amplitude * np.sin(self.wave_rate * t + self.wave_phase)
        a_up = self.upper_angle + 0.25 * wave
        a_fore = a_up + self.elbow_bend + wave
        elbow = self.shoulder + self.upper * _direction(a_up, self.side)
        wrist = elbow + self.fore * _direction(a_fore, self.side)
        r = self.radius
        upper = _capsule(self.shoulder, elbow, r * 1.15, r)
        fore = _capsule(elbow, wrist, r, r * 0.75)
        axis = _direction(a_fore, self.side)
        palm_centre = wrist + axis * self.hand * 0.9
        palm = _ellipse(palm_centre, self.hand * 0.75, self.hand, np.arctan2(axis[0], -axis[1]))
        side_dir = np.array([-axis[1], axis[0]])
        fingers = []
        for k, spread in enumerate(np.linspace(-0.45, 0.35, 4)):
            base = palm_centre + axis * self.hand * 0.7 + side_dir * self.hand * (0.55 - 0.36 * k)
            tip = base + self.hand * (1.1 - 0.12 * abs(k - 1.5)) * _rotate(axis, spread * 0.5)
            fingers.append(_capsule(base, tip, self.hand * 0.17, self.hand * 0.14))
        thumb_base = palm_centre - side_dir * self.hand * 0.6
        thumb = _capsule(
            thumb_base,
            thumb_base + self.hand * 0.9 * _rotate(axis, -1.0),
            0.2 * self.hand,
            0.16 * self.hand,
        )
        m = figure_to_screen
        skin_shapes = [transform(m, s) for s in [palm, thumb, *fingers]]
        sleeve_shapes = [transform(m, upper)]
        fore_shape = [transform(m, fore)]
        sleeve_dark = tuple(0.85 * c for c in self.sleeve)
        return [
            Paint(sleeve_shapes, sleeve_dark),
            Paint(fore_shape, self.skin if self.short_sleeve else self.sleeve),
            Paint(skin_shapes, self.skin),
        ]


@dataclass(frozen=True, eq=False)
class Figure:
    """Silhouette polygons (figure units), painted canvases and colours of one person."""

    head_rx: float
    head_ry: float
    head: tuple[np.ndarray, ...]
    body: tuple[np.ndarray, ...]
    neck_pivot: np.ndarray
    shoulder_y: float
    shoulder_half_width: float
    head_canvas: Canvas
    body_canvas: Canvas
    skin: np.ndarray
    arm: Arm | None


def sample_figure(
    rng: np.random.Generator,
    rx: float,
    ry: float,
    frame_height: int,
    hair_colour: np.ndarray,
    with_arm: bool,
) -> Figure:
    """Draw proportions, skin, clothing and face of a person whose head has radii `rx`, `ry`,
    painted for frames `frame_height` pixels high."""
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.93, 1.05, 3).astype(np.float32)
    skin = np.clip(skin, 0.0, 1.0)
    head = _head_outline(rx, ry, taper=rng.uniform(0.15, 0.35), power=rng.uniform(2.0, 2.3))
    ear_y = ry * rng.uniform(-0.02, 0.12)
    ears = tuple(
        _ellipse(np.array([s * rx * 0.96, ear_y]), 0.17 * rx, 0.27 * ry, 0.0) for s in (-1, 1)
    )

    neck_w = rx * rng.uniform(0.48, 0.62)
    neck_base = ry + rng.uniform(0.035, 0.075)
    shoulder_w = rng.uniform(0.2, 0.29)
    shoulder_y = neck_base + rng.uniform(0.025, 0.055)
    body = _torso_outline(rng, ry, neck_w, neck_base, shoulder_w, shoulder_y)

    ppu = frame_height * _MAX_SCALE
    garment = random_colour(rng, saturation=(0.0, 0.8), value=(0.12, 0.92))
    body_canvas = _paint_body(rng, ppu, ry, neck_w, neck_base, shoulder_w, skin, garment)
    head_canvas = _paint_head(rng, ppu, rx, ry, skin, hair_colour)
    arm = None
    if with_arm:
        side = int(rng.choice([-1, 1]))
        arm = Arm(
            side=side,
            shoulder=np.array([side * shoulder_w * 0.82, shoulder_y + 0.04]),
            upper=rng.uniform(0.15, 0.2),
            fore=rng.uniform(0.13, 0.17),
            radius=rng.uniform(0.026, 0.036),
            hand=rng.uniform(0.03, 0.038),
            upper_angle=rng.uniform(0.7, 1.5),
            elbow_bend=rng.uniform(0.6, 1.3),
            wave_amplitude=rng.uniform(0.15, 0.45),
            wave_rate=2 * np.pi / rng.uniform(10, 30),
            wave_phase=rng.uniform(0, 2 * np.pi),
            sleeve=tuple(float(c) for c in garment),
            skin=tuple(float(c) for c in skin),
            short_sleeve=bool(rng.random() < 0.5),
        )
    return Figure(
        head_rx=rx,
        head_ry=ry,
        head=(head, *ears),
        body=(body,),
        neck_pivot=np.array([0.0, neck_base], np.float32),
        shoulder_y=shoulder_y,
        shoulder_half_width=shoulder_w,
        head_canvas=head_canvas,
        body_canvas=body_canvas,
        skin=skin,
        arm=arm,
    )


def _head_outline(rx: float, ry: float, taper: float, power: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = rx * np.sign(c) * np.abs(c) ** (2 / power)
    y = ry * np.sign(s) * np.abs(s) ** (2 / power)
    x = x * (1.0 - taper * np.clip(y / ry, 0, 1) ** 2)  # narrower jaw and chin
    return np.stack([x, y], axis=1).astype(np.float32)


def _torso_outline(rng, ry, neck_w, neck_base, shoulder_w, shoulder_y) -> np.ndarray:
    flare = rng.uniform(-0.01, 0.05)
    sides = []
    for side in (1, -1):
        jitter = 1.0 + rng.uniform(-0.04, 0.04)
        w = shoulder_w * jitter
        control = np.array(
            [
                (neck_w * 0.95, 0.25 * ry),
                (neck_w, neck_base - 0.03),
                (neck_w * 1.1 + 0.012, neck_base),
                (w * 0.72, shoulder_y - 0.004),
                (w * 0.96, shoulder_y + 0.018),
                (w * 1.02, shoulder_y + 0.08),
                (w * 1.03 + flare, shoulder_y + 0.3),
                (w * 1.05 + flare, 1.4),
            ]
        )
        control[:, 0] *= side
        sides.append(_chaikin(control, 3))
    right, left = sides
    return np.concatenate([right, left[::-1]]).astype(np.float32)


def _paint_body(rng, ppu, ry, neck_w, neck_base, shoulder_w, skin, garment) -> Canvas:
    x, y, canvas_to_figure = _grid(ppu, (-0.6, 0.6), (0.0, 1.45))
    pixel = 1.0 / ppu
    kind = str(rng.choice(CLOTH_PATTERNS))
    cloth = cloth_texture(rng, x, y, garment, kind)
    skin_tex = _skin_texture(rng, x.shape, skin, ppu)
    under_chin = 1.0 - 0.35 * np.exp(-np.maximum(y - ry * 0.7, 0) / 0.03)
    image = skin_tex * under_chin[..., None].astype(np.float32)
    collar_w = neck_w * rng.uniform(1.25, 2.0)
    depth = rng.uniform(0.01, 0.09)
    shape = rng.uniform(0.8, 2.5)  # below 1: V-neck, above: round
    u = np.clip(1.0 - np.abs(x) / collar_w, 0.0, 1.0)
    collar = neck_base - 0.012 + depth * u ** (1.0 / shape)
    cloth_mask = np.clip((y - collar) / pixel + 0.5, 0.0, 1.0).astype(np.float32)
    paint(image, cloth_mask, cloth)
    band = np.clip(1.0 - np.abs(y - collar - 0.006) / 0.006, 0.0, 1.0) * (u > 0)
    paint(image, 0.5 * band.astype(np.float32), garment * 0.6)
    roundness = 1.0 - 0.3 * np.clip(np.abs(x) / (shoulder_w * 1.05), 0, 1) ** 4
    return Canvas(np.clip(image * roundness[..., None], 0, 1).astype(np.float32), canvas_to_figure)


def _paint_head(rng, ppu, rx, ry, skin, hair_colour) -> Canvas:
    x, y, canvas_to_figure = _grid(ppu, (-1.4 * rx, 1.4 * rx), (-1.35 * ry, 1.35 * ry))
    pixel = 1.0 / ppu
    image = _skin_texture(rng, x.shape, skin, ppu)
    r = np.sqrt((x / rx) ** 2 + (y / ry) ** 2)
    image *= (1.0 - 0.3 * np.clip(r - 0.55, 0, 1) ** 1.5)[..., None]
    blush = np.array([0.85, 0.35, 0.35], np.float32)
    eye_y = ry * rng.uniform(-0.1, 0.05)
    eye_x = rx * rng.uniform(0.34, 0.42)
    iris = random_colour(rng, saturation=(0.3, 0.8), value=(0.15, 0.5))
    brow = np.clip(hair_colour * 0.8, 0, 1)
    for s in (-1, 1):
        cx = s * eye_x
        paint(
            image,
            0.25 * soft_ellipse(x, y, cx * 1.1, eye_y + 0.3 * ry, 0.2 * rx, 0.1 * ry, 4 * pixel),
            blush,
        )
        paint(image, soft_ellipse(x, y, cx, eye_y, 0.17 * rx, 0.075 * ry, pixel), (0.93, 0.9, 0.88))
        paint(image, soft_ellipse(x, y, cx, eye_y, 0.07 * ry, 0.07 * ry, pixel), iris)
        paint(
            image, soft_ellipse(x, y, cx, eye_y, 0.035 * ry, 0.035 * ry, pixel), (0.03, 0.02, 0.02)
        )
        lid = soft_ellipse(x, y, cx, eye_y - 0.03 * ry, 0.19 * rx, 0.07 * ry, pixel)
        lid *= np.clip((eye_y - 0.05 * ry - y) / pixel + 0.5, 0, 1)
        paint(image, 0.7 * lid, skin * 0.55)
        tilt = -s * rng.uniform(0.0, 0.25)
        brow_mask = soft_ellipse(x, y, cx, eye_y - 0.2 * ry, 0.22 * rx, 0.04 * ry, pixel, tilt)
        paint(image, 0.9 * brow_mask, brow)
    nose_y = eye_y + ry * rng.uniform(0.32, 0.42)
    paint(image, 0.5 * soft_ellipse(x, y, 0, nose_y, 0.12 * rx, 0.05 * ry, 3 * pixel), skin * 0.7)
    mouth_y = nose_y + ry * rng.uniform(0.22, 0.3)
    lips = np.clip(skin * 0.55 + np.array([0.3, 0.05, 0.06], np.float32), 0, 1)
    width = rx * rng.uniform(0.26, 0.36)
    paint(image, soft_ellipse(x, y, 0, mouth_y, width, 0.06 * ry, pixel), lips)
    paint(image, 0.8 * soft_ellipse(x, y, 0, mouth_y, width * 0.95, 0.012 * ry, pixel), skin * 0.35)
    return Canvas(np.clip(image, 0, 1).astype(np.float32), canvas_to_figure)


def _skin_texture(rng, shape, skin, ppu) -> np.ndarray:
    blotch = value_noise(rng, shape, cell=0.05 * ppu, octaves=3)
    pores = value_noise(rng, shape, cell=max(1.5, 0.004 * ppu), octaves=1)
    variation = 0.94 + 0.1 * blotch + 0.03 * pores
    return (skin[None, None, :] * variation[..., None]).astype(np.float32)


def _grid(ppu: float, xr: tuple[float, float], yr: tuple[float, float]):
    w = max(2, int(np.ceil((xr[1] - xr[0]) * ppu)))
    h = max(2, int(np.ceil((yr[1] - yr[0]) * ppu)))
    x = (xr[0] + np.arange(w, dtype=np.float32) / ppu)[None, :].repeat(h, axis=0)
    y = (yr[0] + np.arange(h, dtype=np.float32) / ppu)[:, None].repeat(w, axis=1)
    to_figure = np.array([[1 / ppu, 0, xr[0]], [0, 1 / ppu, yr[0]], [0, 0, 1]], np.float64)
    return x, y, to_figure


def _chaikin(points: np.ndarray, iterations: int) -> np.ndarray:
    """Corner-cutting smoothing of an open polyline, keeping its end points."""
    for _ in range(iterations):
        q = 0.75 * points[:-1] + 0.25 * points[1:]
        r = 0.25 * points[:-1] + 0.75 * points[1:]
        mid = np.stack([q, r], axis=1).reshape(-1, 2)
        points = np.concatenate([points[:1], mid, points[-1:]])
    return points


def _direction(angle: float, side: int) -> np.ndarray:
    return np.array([side * np.sin(angle), np.cos(angle)])


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _ellipse(centre: np.ndarray, rx: float, ry: float, angle: float, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (pts @ rot.T + centre).astype(np.float32)


def _capsule(p0: np.ndarray, p1: np.ndarray, r0: float, r1: float, n: int = 12) -> np.ndarray:
    """Polygon of a tapered capsule from p0 (radius r0) to p1 (radius r1)."""
    d = p1 - p0
    base = np.arctan2(d[1], d[0])
    front = base + np.linspace(-np.pi / 2, np.pi / 2, n)
    back = base + np.linspace(np.pi / 2, 3 * np.pi / 2, n)
    a = p1 + r1 * np.stack([np.cos(front), np.sin(front)], axis=1)
    b = p0 + r0 * np.stack([np.cos(back), np.sin(back)], axis=1)
    return np.concatenate([a, b]).astype(np.float32)
