"""The figure's shape as metaball ellipsoids, and the metaball field itself in numpy.

A head or body is a smooth union of ellipsoids. Blender's metaball field of an element is
stiffness * (1 - r^2)^3 for r < 1, where r is the distance from the element's centre in its scaled
frame (radius * size per axis); the surface is where the summed field equals the threshold. An
`Element` is given by the semi-axes of its surface when alone, so the numbers below read as sizes.
Evaluating the same field here lets the hair and face features find the skin without Blender.

Head coordinates: origin at the cranium centre, face towards -y, z up. Body coordinates: origin at
the base of the neck. The head's rotation pivot (top of the neck) is `HEAD_PIVOT` in head
coordinates and sits at (0, 0.01, neck_length) in body coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic.rendered_spec import BodySpec, HeadSpec

THRESHOLD = 0.6
HEAD_PIVOT = np.array([0.0, 0.012, -0.075])


@dataclass(frozen=True)
class Element:
    """An ellipsoid: centre, surface semi-axes when alone, stiffness, sign, rotation about x then
    y (radians, applied to the ellipsoid's axes)."""

    centre: tuple[float, float, float]
    semi: tuple[float, float, float]
    stiffness: float = 2.0
    negative: bool = False
    tilt: tuple[float, float] = (0.0, 0.0)

    @property
    def reach(self) -> float:
        """The field radius over the surface radius: sqrt(1 - (threshold / stiffness) ** (1/3))
        inverted."""
        return 1.0 / np.sqrt(1.0 - (THRESHOLD / self.stiffness) ** (1.0 / 3.0))

    def rotation(self) -> np.ndarray:
        """(3, 3) matrix from the ellipsoid's axes to the model's."""
        ax, ay = self.tilt
        rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
        ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
        return ry @ rx


def _el(centre, semi, stiffness=2.0, negative=False, tilt=(0.0, 0.0)) -> Element:
    return Element(
        tuple(float(v) for v in centre),
        tuple(float(v) for v in semi),
        float(stiffness),
        negative,
        (float(tilt[0]), float(tilt[1])),
    )


def head_elements(h: HeadSpec) -> list[Element]:
    """Cranium, face, jaw, chin, cheekbones, brow, nose, mouth, ears and eye sockets."""
    w, d, hh = h.width, h.depth, h.height
    fy = 0.008 - d  # the forehead's front: features are placed relative to it
    nose_top = -0.012
    tip_z = nose_top - h.nose_length
    mouth_z = mouth_height(h)
    elements = [
        _el((0, 0.008, 0.01), (w, d, hh)),
        _el((0, fy + 0.055, -0.035), (w * 0.82, 0.052, 0.06), 3.0),
        _el((0, fy + 0.05, -h.jaw_drop + 0.035), (h.jaw_width, 0.045, 0.035), 3.0),
        _el((0, fy + 0.014, -h.jaw_drop - 0.004), (h.chin * 1.1, h.chin * 0.8, h.chin), 3.0),
        _el((0, fy + 0.012, 0.02), (0.05, 0.009 + 0.004 * h.brow, 0.011), 3.0),
        _el(
            (0, fy + 0.006 - 0.4 * h.nose_projection, nose_top - 0.5 * h.nose_length),
            (h.nose_width * 0.38, 0.01, h.nose_length * 0.5),
            3.0,
            tilt=(-0.3, 0.0),
        ),
        _el(
            (0, fy + 0.008 - h.nose_projection, tip_z + 0.007),
            (h.nose_width * 0.45, 0.01, 0.009),
            3.0,
        ),
        _el((0, fy + 0.028, mouth_z), (h.lip_width * 1.3, 0.014, 0.022), 3.0),
    ]
    for side in (-1.0, 1.0):
        elements += [
            _el(
                (side * h.jaw_width * 0.95, fy + 0.085, -h.jaw_drop + 0.045),
                (0.016, 0.028, 0.025),
                3.0,
            ),
            _el((side * 0.042, fy + 0.024, -0.024), (0.02 * h.cheek**0.5, 0.016, 0.016), 3.0),
            _el(
                (side * h.nose_width * 0.55, fy + 0.01 - 0.45 * h.nose_projection, tip_z + 0.008),
                (0.007, 0.008, 0.006),
                3.0,
            ),
            _el(
                (side * (w * 0.97), 0.012, -0.022),
                (0.009, h.ear_size * 0.5, h.ear_size),
                3.0,
                tilt=(0.2, side * 0.35),
            ),
            _el((side * h.eye_spacing, fy + 0.006, 0.0), (0.015, 0.009, 0.0085), 2.0, True),
        ]
    return elements


def mouth_height(h: HeadSpec) -> float:
    """z of the line between the lips, in head coordinates."""
    return -0.012 - h.nose_length - 0.022


def body_elements(b: BodySpec) -> list[Element]:
    """Neck, trapezius, shoulders, chest, torso, upper arms and bust."""
    sw, cd, ar = b.shoulder_width, b.chest_depth, b.arm_radius
    elements = [
        _el(
            (0, 0.01, b.neck_length * 0.5 + 0.01),
            (b.neck_radius, b.neck_radius * 0.95, b.neck_length * 0.5 + 0.05),
        ),
        _el((0, 0.005, -0.17), (sw * 0.74, cd, 0.17), 3.0),
        _el((0, 0.01, -0.4), (sw * 0.7, cd * 0.98, 0.2), 3.0),
        _el((0, 0.015, -0.62), (sw * 0.64, cd * 0.92, 0.16), 3.0),  # waist
        _el((0, 0.01, -0.84), (sw * 0.74, cd * 1.0, 0.16), 3.0),  # hips
    ]
    for side in (-1.0, 1.0):
        elements += [
            _el(
                (side * sw * 0.45, 0.025, -b.shoulder_slope * 0.45),
                (sw * 0.48, 0.045, 0.032),
                2.2,
                tilt=(0.0, side * 0.22),
            ),
            _el((side * sw * 0.95, 0.005, -b.shoulder_slope - 0.025), (0.05, 0.048, 0.05), 3.0),
            _el(
                (side * (sw + 0.015), 0.01, -0.27),
                (ar, ar * 1.05, 0.2),
                4.0,
                tilt=(0.0, side * 0.06),
            ),
            _el(  # forearm, hanging to the hip
                (side * (sw + 0.01), -0.005, -0.62),
                (ar * 0.85, ar * 0.9, 0.17),
                4.0,
                tilt=(0.0, -side * 0.05),
            ),
        ]
        if b.bust > 0.05:
            r = 0.035 + 0.015 * b.bust
            elements.append(_el((side * 0.075, -cd * 0.7, -0.2), (r, r * 0.8, r), 3.0))
    return elements


def field(points: np.ndarray, elements: list[Element]) -> np.ndarray:
    """Metaball field (...,) at points (..., 3), as Blender sums it."""
    p = np.asarray(points, np.float64)
    total = np.zeros(p.shape[:-1])
    for e in elements:
        local = (p - np.array(e.centre)) @ e.rotation()  # into the ellipsoid's axes
        r2 = np.sum((local / (np.array(e.semi) * e.reach)) ** 2, axis=-1)
        f = e.stiffness * np.clip(1.0 - r2, 0.0, None) ** 3
        total += -f if e.negative else f
    return total


def surface_along(
    origins: np.ndarray, direction: np.ndarray, elements: list[Element], far: float = 0.3
) -> np.ndarray:
    """First surface point (N, 3) on rays origins + s * direction, s in [0, far], found by
    marching then bisection; rays that miss keep their far point."""
    origins = np.asarray(origins, np.float64)
    direction = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    steps = np.linspace(0.0, far, 301)
    samples = field(origins[:, None, :] + steps[None, :, None] * direction, elements)
    inside = samples >= THRESHOLD
    hit = inside.any(axis=1)
    first = np.where(hit, inside.argmax(axis=1), len(steps) - 1)
    lo = steps[np.maximum(first - 1, 0)]
    hi = steps[first]
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        f = field(origins + mid[:, None] * direction, elements)
        lo, hi = np.where(f >= THRESHOLD, lo, mid), np.where(f >= THRESHOLD, mid, hi)
    return origins + hi[:, None] * direction


def body_to_head(b: BodySpec) -> np.ndarray:
    """Translation from body to head coordinates at rest (head = body + this)."""
    return HEAD_PIVOT - np.array([0.0, 0.01, b.neck_length])
