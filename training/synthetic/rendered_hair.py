"""Strand hair for the rendered generator, grown in numpy from a `HairSpec`.

Strands root on the scalp part of the cranium ellipsoid and grow as chains: each segment bends
from the previous one towards gravity, is pushed out of the head and shoulders (ellipsoids grown by
a per-strand layer depth, so the hair has volume) and off the face. Strands then gather into
clumps towards their tips, and styles add waves (a sine across the strand) or curls (a helix around
it). Flyaways are a few long, thin, stiff strands that stray off the silhouette; eyebrows are short
strands on the brow. Positions are head coordinates (see `rendered_body`), metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic.rendered_body import (
    Element,
    body_elements,
    body_to_head,
    head_elements,
    surface_along,
)
from training.synthetic.rendered_spec import FigureSpec, HairSpec

POINTS = 16  # points per strand


@dataclass(frozen=True, eq=False)
class Strands:
    """points (N, POINTS, 3) float32 in head coordinates; radius (N, POINTS) float32 metres;
    kind (N,) int8: 0 scalp hair, 1 flyaway, 2 eyebrow."""

    points: np.ndarray
    radius: np.ndarray
    kind: np.ndarray


def grow_hair(figure: FigureSpec, strand_scale: float = 1.0) -> Strands:
    """All strands of a figure; `strand_scale` scales the scalp strand count (and thickens each
    strand by 1 / sqrt(scale) so the coverage stays about the same)."""
    hair, head = figure.hair, figure.head
    rng = np.random.default_rng(hair.seed)
    n = max(16, round(hair.strands * strand_scale))
    radius = hair.radius / np.sqrt(max(strand_scale, 1e-3))
    colliders = _colliders(figure)
    roots, normals = _scalp_roots(rng, head, hair, n)
    scalp = _grow(rng, hair, head, roots, normals, colliders, flyaway=False)
    n_fly = max(1, round(hair.flyaways * min(1.0, strand_scale**0.5)))
    fly_roots, fly_normals = _scalp_roots(rng, head, hair, n_fly)
    fly = _grow(rng, hair, head, fly_roots, fly_normals, colliders, flyaway=True)
    brows = _eyebrows(rng, figure)
    taper = np.linspace(1.0, 0.25, POINTS)[None, :]
    points = np.concatenate([scalp, fly, brows]).astype(np.float32)
    radii = np.concatenate(
        [
            np.broadcast_to(radius * taper, (len(scalp), POINTS)),
            np.broadcast_to(0.6 * radius * taper, (len(fly), POINTS)),
            np.broadcast_to(0.8 * hair.radius * taper, (len(brows), POINTS)),
        ]
    ).astype(np.float32)
    kind = np.repeat(np.array([0, 1, 2], np.int8), [len(scalp), len(fly), len(brows)])
    return Strands(points, radii, kind)


def _colliders(figure: FigureSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, semi-axes) of the cranium and the shoulders in head coordinates."""
    head = head_elements(figure.head)
    offset = body_to_head(figure.body)
    out = [(np.array(head[0].centre), np.array(head[0].semi) * 1.02)]
    for e in body_elements(figure.body):
        if not e.negative:
            out.append((np.array(e.centre) + offset, np.array(e.semi) * 1.05))
    return out


def _scalp_roots(
    rng: np.random.Generator, head, hair: HairSpec, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """n root points on the scalp and their outward normals."""
    semi = np.array([head.width, head.depth, head.height]) * 1.01
    centre = np.array([0.0, 0.008, 0.01])
    found = []
    while sum(len(f) for f in found) < n:
        u = rng.normal(size=(4 * n + 64, 3))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        found.append(u[scalp_mask(u, hair) > 0.5])
    u = np.concatenate(found)[:n]
    points = centre + u * semi
    normals = u / semi
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return points, normals


def scalp_mask(u: np.ndarray, hair: HairSpec, soft: float = 0.0) -> np.ndarray:
    """Where hair grows, (N,) in [0, 1], for directions u (N, 3) from the cranium centre in its
    unit-sphere frame (u = (p - centre) / semi-axes, normalised). The hairline sits at height
    `hair.hairline` at the front, lower at the sides and at the nape, and clears the ears; `soft`
    widens the edge (0: a hard 0/1 mask)."""
    front = np.clip(-u[:, 1], 0.0, 1.0)
    back = np.clip(u[:, 1], 0.0, 1.0)
    limit = hair.hairline * front**0.7 - 0.05 * (1 - front) - 0.5 * back**1.5
    ear = np.minimum.reduce(
        [(np.abs(u[:, 0]) - 0.8) / 0.1, (0.15 - u[:, 2]) / 0.1, (0.3 - u[:, 1]) / 0.3]
    )
    margin = np.minimum(u[:, 2] - limit, -ear * 0.05)
    if soft <= 0:
        return (margin > 0).astype(np.float64)
    return np.clip(margin / soft + 0.5, 0.0, 1.0)


def _grow(
    rng: np.random.Generator,
    hair: HairSpec,
    head,
    roots: np.ndarray,
    normals: np.ndarray,
    colliders,
    flyaway: bool,
) -> np.ndarray:
    """Strands (N, POINTS, 3) from `roots`. Flyaways follow the style's path but drift off it
    towards their tips along a smooth random bend."""
    n = len(roots)
    style = hair.style
    length = hair.length * rng.uniform(0.75, 1.1, n)
    down = np.array([0.0, 0.0, -1.0])
    back = np.array([0.0, 1.0, 0.0])
    side = np.sign(roots[:, 0] - hair.parting * head.width + 1e-6)[:, None]
    x = np.array([1.0, 0.0, 0.0])
    lift = 0.35
    if style == "short":  # lies close to the scalp, combed back and to the side
        comb = 1.0 * back + 0.25 * side * x + 0.3 * down
        gravity, lift = 0.02, 0.05
    elif style == "curly":
        comb = 0.4 * side * x + 0.3 * back + 0.5 * down
        short = hair.length < 0.16  # short curls stand out; long ringlets hang
        gravity, lift = (0.05, 0.6) if short else (0.14, 0.5)
    elif style == "ponytail":
        comb = 1.2 * back + 0.3 * down
        gravity = 0.1
    else:
        comb = 0.9 * side * x + 0.35 * back + 0.45 * down
        gravity = 0.22
    comb = np.broadcast_to(comb, (n, 3)).copy()
    fringe = np.zeros(n, bool)
    if hair.fringe and not flyaway:
        fringe = (
            (roots[:, 1] < -0.02) & (roots[:, 2] > 0.02) & (np.abs(roots[:, 0]) < head.width * 0.8)
        )
        comb[fringe] = np.array([0.0, -0.6, -1.0])
        length[fringe] = np.minimum(length[fringe], rng.uniform(0.06, 0.1, fringe.sum()))
    tangent = comb - np.sum(comb * normals, axis=1, keepdims=True) * normals
    direction = _unit(lift * normals + tangent + rng.normal(0, 0.15, (n, 3)))
    layer = hair.volume * rng.uniform(0.1, 1.0, n) ** 0.7
    if flyaway:
        layer = hair.volume + rng.uniform(0.002, 0.008, n)
    step = length / (POINTS - 1)
    points = np.empty((n, POINTS, 3))
    points[:, 0] = roots
    gather = np.array([0.0, head.depth + 0.02, -0.01]) if style == "ponytail" else None
    for k in range(1, POINTS):
        pull = gravity * (1 + 2 * k / POINTS) * down
        if gather is not None:
            to_gather = gather - points[:, k - 1]
            dist = np.linalg.norm(to_gather, axis=1, keepdims=True)
            pull = np.where(dist > 0.015, 0.6 * to_gather / np.maximum(dist, 1e-6), 0.5 * down)
        direction = _unit(direction + pull)
        p = points[:, k - 1] + step[:, None] * direction
        p = _collide(p, colliders, layer, points[:, 0], head)
        p = _keep_off_face(p, head, fringe)
        direction = _unit(p - points[:, k - 1])
        points[:, k] = p
    if style == "bob":
        points = _cut(points, -head.jaw_drop - 0.01 + rng.normal(0, 0.008, n))
    s = np.linspace(0.0, 1.0, POINTS)[None, :, None]
    if flyaway:
        label = np.arange(n)
    else:
        amount = {"curly": 0.8, "short": 0.25}.get(style, 0.6)
        points, label = _clump(rng, points, s, amount=amount)
    groups = int(label.max()) + 1
    if hair.wave_amplitude > 0:
        # one phase per clump, so locks wave together
        phase = (rng.uniform(0, 2 * np.pi, groups)[label] + rng.normal(0, 0.3, n))[:, None]
        arc = s[..., 0] * length[:, None]
        wave = hair.wave_amplitude * np.sin(2 * np.pi * arc / hair.wave_length + phase)
        across = _unit(np.cross(points[:, -1] - points[:, 0], back)[:, None, :] + 1e-9)
        points = points + (wave * np.minimum(s[..., 0] * 4, 1.0))[..., None] * across
    if hair.curl_radius > 0:
        points = _curl(rng, points, length, hair.curl_radius, hair.curl_length, s, label)
    if flyaway:
        bend = _unit(rng.normal(0, 1, (n, 3)) + 1.5 * normals)
        wiggle = np.sin(2 * np.pi * s[..., 0] * rng.uniform(0.5, 1.5, (n, 1)))[..., None]
        amount = rng.uniform(0.1, 0.4, (n, 1, 1)) * np.minimum(length, 0.1)[:, None, None]
        points = points + amount * s**1.6 * bend[:, None, :] + 0.004 * wiggle * bend[:, None]
    jitter = rng.normal(0, 0.0006, points.shape) * s
    return points + jitter


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _collide(p, colliders, layer, roots, head) -> np.ndarray:
    """Push points out of each ellipsoid (the cranium grown by each strand's layer depth)."""
    for i, (centre, semi) in enumerate(colliders):
        grow = (1.0 + layer[:, None] / semi) if i == 0 else 1.0 + 0.3 * layer[:, None] / semi
        q = (p - centre) / (semi * grow)
        r = np.linalg.norm(q, axis=1, keepdims=True)
        inside = r < 1.0
        p = np.where(inside, centre + q / np.maximum(r, 1e-9) * semi * grow, p)
    return p


def _keep_off_face(p, head, fringe) -> np.ndarray:
    """Move points in front of the face out to the sides (fringe strands may cover the forehead
    down to the brows)."""
    top = np.where(fringe, 0.035, 0.07)
    half = head.width * 0.85
    in_face = (p[:, 1] < -0.01) & (p[:, 2] < top) & (p[:, 2] > -head.jaw_drop - 0.03)
    in_face &= np.abs(p[:, 0]) < half
    x = np.where(in_face, np.sign(p[:, 0] + 1e-9) * half, p[:, 0])
    return np.stack([x, p[:, 1], p[:, 2]], axis=1)


def _cut(points: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Resample each strand to end where it first drops below z = floor (bob cuts)."""
    seg = np.linalg.norm(np.diff(points, axis=1), axis=2)
    arc = np.concatenate([np.zeros((len(points), 1)), np.cumsum(seg, axis=1)], axis=1)
    below = points[:, :, 2] < floor[:, None]
    first = np.where(below.any(axis=1), below.argmax(axis=1), POINTS - 1)
    end = np.maximum(arc[np.arange(len(points)), first], arc[:, -1] * 0.25)
    out = np.empty_like(points)
    t = np.linspace(0.0, 1.0, POINTS)
    for i in range(len(points)):
        target = t * end[i]
        for c in range(3):
            out[i, :, c] = np.interp(target, arc[i], points[i, :, c])
    return out


def _clump(rng, points, s, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """Pull strands towards the mean of their clump (nearest of a few hundred seeds), more so at
    the tips. Returns the strands and each one's clump (N,)."""
    n = len(points)
    k = max(8, n // 25)
    centres = points[rng.choice(n, k, replace=False), 0]
    d = np.linalg.norm(points[:, None, 0] - centres[None], axis=2)
    label = d.argmin(axis=1)
    sums = np.zeros((k, POINTS, 3))
    np.add.at(sums, label, points)
    counts = np.bincount(label, minlength=k)[:, None, None]
    mean = sums / np.maximum(counts, 1)
    strength = amount * rng.uniform(0.5, 1.0, k)[label][:, None, None] * s**1.5
    return points + strength * (mean[label] - points), label


def _curl(rng, points, length, radius, period, s, label) -> np.ndarray:
    """Add a helix of `radius` and `period` (metres of strand per turn) around each strand, in
    phase within a clump so clumps coil into ringlets."""
    n = len(points)
    groups = int(label.max()) + 1
    tangent = _unit(np.gradient(points, axis=1))
    ref = np.where(np.abs(tangent[..., 2:3]) < 0.9, [0.0, 0.0, 1.0], [1.0, 0.0, 0.0])
    b1 = _unit(np.cross(tangent, ref))
    b2 = np.cross(tangent, b1)
    arc = s[..., 0] * length[:, None]
    period = period * rng.uniform(0.8, 1.2, groups)[label][:, None]
    theta = 2 * np.pi * arc / period + rng.uniform(0, 2 * np.pi, groups)[label][:, None]
    theta = theta + rng.normal(0, 0.15, (n, 1))
    r = radius * rng.uniform(0.7, 1.1, n)[:, None] * np.minimum(s[..., 0] * 5, 1.0)
    return points + r[..., None] * (np.cos(theta)[..., None] * b1 + np.sin(theta)[..., None] * b2)


def _eyebrows(rng: np.random.Generator, figure: FigureSpec) -> np.ndarray:
    """Short strands along an arch above each eye, lying on the skin towards the temple."""
    head = figure.head
    elements: list[Element] = head_elements(head)
    per_side = 60
    out = []
    for side in (-1.0, 1.0):
        u = rng.uniform(0.0, 1.0, per_side)
        x = side * (head.eye_spacing - 0.013 + 0.03 * u)
        z = 0.014 + 0.006 * np.sin(np.pi * (u * 0.9 + 0.1)) + rng.normal(0, 0.0015, per_side)
        z = z - 0.004 * u
        origins = np.stack([x, np.full(per_side, -0.2), z], axis=1)
        roots = surface_along(origins, np.array([0.0, 1.0, 0.0]), elements)
        roots[:, 1] -= 0.0008
        direction = _unit(
            np.stack([side * np.ones(per_side), -0.2 * np.ones(per_side), 0.35 - 0.6 * u], axis=1)
        )
        t = np.linspace(0.0, 1.0, POINTS)[None, :, None]
        strand = roots[:, None, :] + t * 0.008 * direction[:, None, :]
        strand[..., 1] -= 0.002 * np.sin(np.pi * t[..., 0])  # arch off the skin
        out.append(strand)
    return np.concatenate(out)
