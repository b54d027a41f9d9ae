"""Strand hair: opaque hair masses fringed by thousands of sub-pixel strands and flyaways.

Coordinates are head-local figure units (frame heights, origin at the head centre, y down). Hair is
split into a back layer (drawn behind body and face) and a front layer (cap, fringe and strands
draped over the shoulders, drawn over the face). Each strand is a polyline one supersampled pixel
wide (a quarter of an output pixel at the default 4x), so sparse strands give fractional alpha and
dense ones build up to opaque. A sway field moves the hanging part of long hair over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic.raster import Paint, transform

HAIR_STYLES = ("short", "long", "wavy", "curly")

_HAIR_COLOURS = np.array(
    [
        (0.05, 0.04, 0.04),
        (0.14, 0.09, 0.06),
        (0.3, 0.19, 0.11),
        (0.5, 0.36, 0.22),
        (0.82, 0.68, 0.42),
        (0.88, 0.85, 0.76),
        (0.45, 0.17, 0.07),
        (0.72, 0.34, 0.12),
        (0.55, 0.55, 0.55),
    ],
    np.float32,
)
_SHADES = np.array([0.55, 0.75, 0.9, 1.05, 1.3, 1.6], np.float32)
_SHADE_WEIGHTS = np.array([0.12, 0.22, 0.26, 0.2, 0.13, 0.07])


@dataclass(frozen=True, eq=False)
class Bundle:
    """Strands sharing a point count: points (N, P, 2), in the front layer or not, shade index (N,)
    into the hair's palette (sorted) and sway phase (N,)."""

    points: np.ndarray
    front: bool
    shade: np.ndarray
    phase: np.ndarray


@dataclass(frozen=True, eq=False)
class Hair:
    """One head of hair. `palette` (S, 3) sRGB strand shades; masses are filled polygons."""

    style: str
    palette: np.ndarray
    mass_colour: tuple[float, float, float]
    back_mass: tuple[np.ndarray, ...]
    front_mass: tuple[np.ndarray, ...]
    bundles: tuple[Bundle, ...]
    sway_top: float
    sway_bottom: float
    sway_amplitude: float
    sway_rate: float
    sway_wavenumber: float

    def paints(self, head_to_screen: np.ndarray, t: float, *, front: bool) -> list[Paint]:
        """The back or front layer at frame time `t` in screen pixels, in drawing order."""
        m = head_to_screen
        masses = self.front_mass if front else self.back_mass
        out = []
        if masses:
            out.append(
                Paint([transform(m, self._sway(p, t, 0.0)) for p in masses], self.mass_colour)
            )
        for bundle in self.bundles:
            if bundle.front != front:
                continue
            screen = transform(m, self._sway(bundle.points, t, bundle.phase[:, None]))
            # strands are sorted by shade: one polyline call per run of equal shade
            starts = np.flatnonzero(np.diff(bundle.shade, prepend=-1))
            for start, stop in zip(starts, [*starts[1:], len(bundle.shade)], strict=True):
                colour = tuple(float(c) for c in self.palette[bundle.shade[start]])
                out.append(Paint(screen[start:stop], colour, width=1))
        return out

    def _sway(self, points: np.ndarray, t: float, phase) -> np.ndarray:
        y = points[..., 1]
        weight = np.clip((y - self.sway_top) / (self.sway_bottom - self.sway_top), 0.0, 1.0) ** 1.5
        dx = (
            self.sway_amplitude
            * weight
            * np.sin(self.sway_rate * t + self.sway_wavenumber * y + phase)
        )
        out = points.copy()
        out[..., 0] += dx
        return out


def sample_hair(rng: np.random.Generator, rx: float, ry: float, style: str, density: float) -> Hair:
    """Draw a hair style ("short", "long", "wavy" or "curly") for a head of radii `rx`, `ry`;
    `density` scales the strand counts."""
    if style not in HAIR_STYLES:
        raise ValueError(f"unknown hair style {style!r}; expected one of {HAIR_STYLES}")
    base = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))].copy()
    if rng.random() < 0.08:  # dyed
        base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    base *= rng.uniform(0.9, 1.1, 3).astype(np.float32)
    palette = np.clip(base[None] * _SHADES[:, None] + 0.06 * (_SHADES[:, None] - 1.0), 0.0, 1.0)
    part = rx * (0.0 if rng.random() < 0.4 else rng.choice([-1, 1]) * rng.uniform(0.15, 0.5))
    strands = _Strands(rng, density)
    fringe = style != "curly" and rng.random() < 0.45
    if style == "short":
        vol = rng.uniform(0.008, 0.022)
        temple = rng.uniform(1.15, 1.45)
        cap = _cap(rng, rx, ry, 0.3 * vol, temple, fringe)
        back = _arc_polygon(rx, ry, 0.5 * vol, temple + 0.1, close_y=0.3 * ry)
        ends = (temple - 0.3, temple + 0.05)
        strands.add(_arcs(rng, strands.n(300), rx, ry, part, (-0.3 * vol, vol), ends), True, 1)
        strands.add(_cap_strands(rng, strands.n(300), rx, ry, part, cap), True, 1)
        strands.add(_spikes(rng, strands.n(300), rx, ry, temple, vol), True)
        flyaway_limit = temple
        sway_amplitude, sway_top, sway_bottom = rng.uniform(0.001, 0.003), -ry, 0.0
    elif style in ("long", "wavy"):
        vol = rng.uniform(0.008, 0.03)
        temple = rng.uniform(1.5, 1.7)
        length = ry * rng.uniform(1.1, 3.2)
        lean = rng.uniform(0.0, 0.15)
        wave = (0.0, 1.0)
        if style == "wavy":
            wave = (rng.uniform(0.006, 0.018), rng.uniform(0.04, 0.09))
        cap = _cap(rng, rx, ry, 0.3 * vol, temple, fringe)
        back = _fall_polygon(rx, ry, 0.4 * vol, 0.85 * length, lean)
        ends = (temple - 0.15, temple)
        strands.add(
            _arcs(rng, strands.n(200), rx, ry, part, (-0.3 * vol, 0.8 * vol), ends), True, 1
        )
        strands.add(_cap_strands(rng, strands.n(300), rx, ry, part, cap), True, 1)
        outer = _falls(rng, strands.n(480), rx, ry, part, (-0.2 * vol, vol), length, lean, wave)
        strands.add(outer, False)
        # the hair behind the neck, seen between the neck and the outer strands
        inner = _falls(
            rng, strands.n(120), rx, ry, part, (-0.7 * rx, 0.0), 0.9 * length, lean, wave
        )
        strands.add(inner, False, -1)
        draped = _falls(
            rng, strands.n(110), rx, ry, part, (0.3 * vol, vol), 1.1 * length, lean + 0.3, wave
        )
        strands.add(draped, True)
        flyaway_limit = 1.6
        sway_amplitude, sway_top, sway_bottom = rng.uniform(0.003, 0.012), 0.0, length + ry
    else:  # curly
        vol = rng.uniform(0.025, 0.06)
        temple = rng.uniform(1.35, 1.55)
        bottom = ry * rng.uniform(0.3, 1.5)
        cap = _cap(rng, rx, ry, 0.2 * vol, temple, False)
        back = _blob(rx + 0.7 * vol, -(ry + 0.7 * vol), bottom)
        strands.add(_coils(rng, strands.n(700), back, vol, (0.8, 1.08)), False)
        strands.add(_cap_coils(rng, strands.n(400), rx, ry, temple, vol), True, 1)
        flyaway_limit = 1.6
        sway_amplitude, sway_top, sway_bottom = rng.uniform(0.001, 0.004), -ry, bottom
    if fringe:
        strands.add(_fringe(rng, strands.n(220), rx, ry, part, _fringe_edge(cap)), True, 1)
    strands.add(_flyaways(rng, int(rng.integers(3, 20)), rx, ry, vol, flyaway_limit), False, 2)
    return Hair(
        style=style,
        palette=palette,
        mass_colour=tuple(float(c) for c in np.clip(base * 0.8, 0, 1)),
        back_mass=(back,),
        front_mass=(cap,),
        bundles=tuple(strands.bundles),
        sway_top=sway_top,
        sway_bottom=max(sway_bottom, sway_top + 0.05),
        sway_amplitude=sway_amplitude,
        sway_rate=2 * np.pi / rng.uniform(25, 60),
        sway_wavenumber=rng.uniform(5, 15),
    )


class _Strands:
    """Collects bundles of strands with random shades (sorted) and sway phases."""

    def __init__(self, rng: np.random.Generator, density: float) -> None:
        self.rng = rng
        self.density = density
        self.bundles: list[Bundle] = []

    def n(self, count: int) -> int:
        """`count` strands at the 288-row reference, scaled by the density."""
        return max(4, int(count * self.density))

    def add(self, points: np.ndarray, front: bool, lift: int = 0) -> None:
        """Add strands (N, P, 2); `lift` shifts their shades lighter (+) or darker (-)."""
        count = len(points)
        shades = self.rng.choice(len(_SHADES), count, p=_SHADE_WEIGHTS) + lift
        shades = np.clip(shades, 0, len(_SHADES) - 1)
        order = np.argsort(shades, kind="stable")
        phase = self.rng.normal(0.0, 0.35, count).astype(np.float32)
        self.bundles.append(Bundle(points[order].astype(np.float32), front, shades[order], phase))


def _ellipse_point(rx, ry, d, beta):
    """Point at angle `beta` from the top (positive to the right) on the head outline grown by d."""
    return np.stack([(rx + d) * np.sin(beta), -(ry + d) * np.cos(beta)], axis=-1)


def _arcs(rng, count, rx, ry, part, d_range, end_range, points=16):
    """Strands combed from the parting over the scalp to the temples."""
    side = rng.choice([-1.0, 1.0], count)
    beta_part = np.arcsin(np.clip(part / rx, -0.9, 0.9))
    b0 = beta_part + side * rng.uniform(0.0, 0.3, count)
    b1 = side * rng.uniform(*end_range, count)
    d = rng.uniform(*d_range, count)
    u = np.linspace(0.0, 1.0, points)[None]
    beta = b0[:, None] + (b1 - b0)[:, None] * u
    dd = d[:, None] * np.minimum(1.0, 4.0 * u)
    return _ellipse_point(rx, ry, dd, beta)


def _falls(rng, count, rx, ry, part, d_range, length, lean, wave, points=36):
    """Long strands: an arc over the scalp to ear level, then hanging down `length` below it."""
    arc_points = 8
    arc = _arcs(rng, count, rx, ry, part, d_range, (1.45, 1.75), arc_points)
    start = arc[:, -1]
    side = np.sign(start[:, 0])
    v = np.linspace(0.0, 1.0, points - arc_points + 1)[None, 1:]
    drop = (length * rng.uniform(0.7, 1.1, count))[:, None]
    spread = (lean + rng.normal(0.0, 0.06, count))[:, None]
    y = start[:, 1:2] + drop * v
    x = start[:, 0:1] + side[:, None] * (spread * drop * v + 0.01 * np.sin(np.pi * v))
    x -= side[:, None] * rng.uniform(0.0, 0.02, count)[:, None] * v**4  # tips curl inward
    amplitude, wavelength = wave
    if amplitude > 0:
        locks = rng.uniform(0, 2 * np.pi, 24)[rng.integers(0, 24, count)]
        jitter = rng.normal(0.0, 0.25, count)
        x += (
            amplitude
            * v**0.8
            * np.sin(2 * np.pi * drop * v / wavelength + (locks + jitter)[:, None])
        )
    fall = np.stack([x, y], axis=-1)
    return np.concatenate([arc, fall], axis=1)


def _cap_strands(rng, count, rx, ry, part, cap, points=14):
    """Strands from the parting over the dome of the scalp to the hairline of `cap`, ending a little
    past it so the hairline is ragged."""
    hairline = _fringe_edge(cap)
    x_t = float(np.abs(cap[:48, 0]).max())
    xe = rng.uniform(-0.98, 0.98, count) * x_t
    ye = hairline(xe) + rng.uniform(-0.01, 0.06, count) * ry
    xr = part + rng.normal(0.0, 0.08, count) * rx
    yr = -ry * np.sqrt(np.clip(1.0 - (xr / rx) ** 2, 0.0, 1.0))
    beta = np.arcsin(np.clip(xe / (rx * 1.02), -1.0, 1.0))
    control = _ellipse_point(rx, ry, 0.0, beta)
    u = np.linspace(0.0, 1.0, points)[None]
    x = (1 - u) ** 2 * xr[:, None] + 2 * u * (1 - u) * control[:, None, 0] + u**2 * xe[:, None]
    y = (1 - u) ** 2 * yr[:, None] + 2 * u * (1 - u) * control[:, None, 1] + u**2 * ye[:, None]
    return np.stack([x, y], axis=-1)


def _spikes(rng, count, rx, ry, temple, vol, points=6):
    """Short strands standing off the scalp, combed slightly downward."""
    beta = rng.uniform(-temple, temple, count)
    root = _ellipse_point(rx, ry, rng.uniform(-0.2 * vol, 0.6 * vol, count), beta)
    normal = np.stack([np.sin(beta) / rx, -np.cos(beta) / ry], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    angle = rng.uniform(-0.8, 0.8, count) + 0.5 * np.sign(beta)
    direction = _rotate_vectors(normal, angle)
    length = (rng.uniform(0.4, 1.0, count) * vol + 0.002)[:, None, None]
    u = np.linspace(0.0, 1.0, points)[None, :, None]
    bend = (
        _rotate_vectors(direction, np.full(count, np.pi / 2))[:, None]
        * rng.uniform(-0.3, 0.3, count)[:, None, None]
    )
    return root[:, None] + length * (u * direction[:, None] + u**2 * bend)


def _coils(rng, count, blob, vol, radial, points=20):
    """Corkscrew curls rooted near the outline of the `blob` polygon (its centre is the mean)."""
    centre = blob.mean(axis=0)
    half = (blob.max(axis=0) - blob.min(axis=0)) / 2
    theta = rng.uniform(0, 2 * np.pi, count)
    rho = rng.uniform(*radial, count)[:, None]
    outward = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    root = centre + rho * half * outward
    direction = _rotate_vectors(outward, rng.uniform(-1.0, 1.0, count))
    return _coil_points(rng, count, root, direction, vol, points)


def _cap_coils(rng, count, rx, ry, temple, vol, points=20):
    beta = rng.uniform(-temple * 0.95, temple * 0.95, count)
    root = _ellipse_point(rx, ry, rng.uniform(-0.25 * ry, 0.2 * vol, count), beta)
    direction = _rotate_vectors(
        np.tile([[0.0, -1.0]], (count, 1)), beta + rng.normal(0, 0.5, count)
    )
    return _coil_points(rng, count, root, direction, vol * 0.7, points)


def _coil_points(rng, count, root, direction, vol, points):
    u = np.linspace(0.0, 1.0, points)[None, :, None]
    length = rng.uniform(0.3, 0.8, count)[:, None, None] * vol
    radius = rng.uniform(0.12, 0.3, count)[:, None] * vol
    turns = rng.uniform(1.2, 2.5, count)[:, None]
    psi = rng.uniform(0, 2 * np.pi, count)[:, None]
    angle = 2 * np.pi * turns * u[..., 0] + psi
    loop = radius[..., None] * np.stack(
        [np.cos(angle) - np.cos(psi), np.sin(angle) - np.sin(psi)], axis=-1
    )
    return root[:, None] + length * u * direction[:, None] + loop


def _fringe(rng, count, rx, ry, part, cap_bottom, points=14):
    """Bangs: strands from the crown falling forward over the forehead to `cap_bottom`(x)."""
    xr = rng.uniform(-0.9, 0.9, count) * rx
    yr = -ry * np.sqrt(np.clip(1.0 - (xr / rx) ** 2, 0.0, 1.0)) * rng.uniform(0.85, 1.0, count)
    sweep = np.where(xr >= part, 1.0, -1.0) * rx * rng.uniform(0.05, 0.35, count)
    xe = np.clip(xr + sweep, -0.95 * rx, 0.95 * rx)
    ye = cap_bottom(xe) + rng.uniform(-0.08, 0.1, count) * ry
    u = np.linspace(0.0, 1.0, points)[None]
    cx, cy = 0.3 * xr + 0.7 * xe, yr + 0.15 * (ye - yr)
    x = (1 - u) ** 2 * xr[:, None] + 2 * u * (1 - u) * cx[:, None] + u**2 * xe[:, None]
    y = (1 - u) ** 2 * yr[:, None] + 2 * u * (1 - u) * cy[:, None] + u**2 * ye[:, None]
    return np.stack([x, y], axis=-1)


def _flyaways(rng, count, rx, ry, vol, limit, points=12):
    """A few long stray strands leaving the outline at random angles."""
    beta = rng.uniform(-limit, limit, count)
    root = _ellipse_point(rx, ry, 0.7 * vol, beta)
    normal = np.stack([np.sin(beta) / rx, -np.cos(beta) / ry], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    combed = np.sign(beta) * rng.uniform(0.3, 1.2, count) + rng.normal(0.0, 0.3, count)
    direction = _rotate_vectors(normal, combed)
    perpendicular = _rotate_vectors(direction, np.full(count, np.pi / 2))
    length = rng.uniform(0.015, 0.06, count)[:, None, None]
    curve = rng.uniform(-1.2, 1.2, count)[:, None, None]
    u = np.linspace(0.0, 1.0, points)[None, :, None]
    return root[:, None] + length * (u * direction[:, None] + curve * u**2 * perpendicular[:, None])


def _cap(rng, rx, ry, d, temple, fringe):
    """Opaque hair over the top of the head: an arc to both temples closed by the hairline.

    The hairline sits near the brows when there is a fringe (the fringe strands cover it)."""
    beta = np.linspace(-temple, temple, 48)
    arc = _ellipse_point(rx, ry, d, beta)
    x_t, y_t = arc[-1]
    centre_y = -ry * (rng.uniform(0.3, 0.42) if fringe else rng.uniform(0.45, 0.62))
    sharpness = rng.uniform(2.5, 5.0)
    x = np.linspace(x_t, -x_t, 32)
    y = centre_y + (y_t - centre_y) * np.abs(x / x_t) ** sharpness
    return np.concatenate([arc, np.stack([x, y], axis=-1)]).astype(np.float32)


def _fringe_edge(cap: np.ndarray):
    """The hairline of a cap as a function of x."""
    line = cap[48:]
    order = np.argsort(line[:, 0])
    xs, ys = line[order, 0], line[order, 1]
    return lambda x: np.interp(x, xs, ys)


def _arc_polygon(rx, ry, d, limit, close_y):
    beta = np.linspace(-limit, limit, 48)
    arc = _ellipse_point(rx, ry, d, beta)
    return np.concatenate([arc, [[0.0, close_y]]]).astype(np.float32)


def _fall_polygon(rx, ry, d, length, lean):
    """Hair hanging behind the head and neck down to `length` below ear level."""
    beta = np.linspace(-np.pi / 2, np.pi / 2, 40)
    arc = _ellipse_point(rx, ry, d, beta)
    x_side = rx + d
    v = np.linspace(0.0, 1.0, 12)
    right = np.stack([x_side + lean * length * v, length * v], axis=-1)
    left = right[::-1] * [-1.0, 1.0]
    return np.concatenate([arc, right, left]).astype(np.float32)


def _blob(half_width, top, bottom):
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    centre_y = (top + bottom) / 2
    half_height = (bottom - top) / 2
    return np.stack([half_width * np.cos(t), centre_y + half_height * np.sin(t)], axis=-1).astype(
        np.float32
    )


def _rotate_vectors(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], axis=-1)
