"""Scene descriptions for the Blender-rendered generator, each a pure function of a seed.

`sample_scene(seed)` draws a head-and-shoulders person (head shape, skin, eyes, lips, clothing,
hair), lights, a camera and a motion; `sample_room(seed)` draws a room for background plates. Both
are frozen dataclasses of plain Python numbers, so equal seeds give equal (==) descriptions and a
description can be printed, compared and rebuilt without Blender.

Units are metres and seconds; Blender axes: z up, the person faces -y, the camera looks along +y.
Colours are scene-linear Rec.709 RGB in [0, 1] (Blender's base-colour space), not sRGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic.textures import SKIN_TONES

RGB = tuple[float, float, float]

HAIR_STYLES = ("short", "long", "wavy", "curly", "bob", "ponytail")
NECKLINES = ("crew", "v", "scoop", "boat", "turtleneck")
SLEEVES = ("long", "short", "none")
CLOTH_PATTERNS = ("solid", "stripes", "checks", "dots", "knit", "print")
FPS = 30.0
PAINTING = 5  # Box.material of a framed picture (0-4 index RoomSpec.palette)

# sRGB palettes (converted to linear when drawn)
_CLOTH_COLOURS = np.array(
    [
        (0.85, 0.85, 0.83),
        (0.12, 0.12, 0.14),
        (0.16, 0.22, 0.42),
        (0.55, 0.1, 0.12),
        (0.2, 0.42, 0.3),
        (0.75, 0.62, 0.35),
        (0.45, 0.45, 0.48),
        (0.9, 0.55, 0.2),
        (0.35, 0.55, 0.75),
        (0.55, 0.35, 0.55),
        (0.95, 0.85, 0.55),
        (0.3, 0.2, 0.15),
    ]
)
_IRIS_COLOURS = np.array(
    [(0.25, 0.14, 0.07), (0.12, 0.07, 0.04), (0.3, 0.42, 0.55), (0.32, 0.38, 0.22)]
)
_WALL_COLOURS = np.array(
    [
        (0.88, 0.86, 0.8),
        (0.8, 0.78, 0.72),
        (0.7, 0.75, 0.78),
        (0.78, 0.7, 0.6),
        (0.55, 0.6, 0.55),
        (0.92, 0.92, 0.92),
        (0.45, 0.5, 0.6),
        (0.75, 0.55, 0.45),
    ]
)


def srgb_to_linear(c) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _rgb(c) -> RGB:
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return (float(c[0]), float(c[1]), float(c[2]))


@dataclass(frozen=True)
class HeadSpec:
    """Head shape (metres, semi-axes of the cranium and face masses) and face colours."""

    width: float  # cranium semi-axis x
    depth: float  # cranium semi-axis y
    height: float  # cranium semi-axis z
    jaw_width: float
    jaw_drop: float  # how far the jaw reaches below the cranium centre
    chin: float  # chin radius
    cheek: float  # cheekbone prominence
    nose_length: float
    nose_width: float
    nose_projection: float
    brow: float  # brow ridge prominence
    eye_spacing: float  # half distance between eye centres
    eye_radius: float
    ear_size: float
    lip_width: float
    lip_fullness: float
    skin: RGB
    skin_roughness: float
    lips: RGB
    iris: RGB
    brows: RGB


@dataclass(frozen=True)
class BodySpec:
    """Neck, shoulders, chest and upper arms (metres)."""

    neck_radius: float
    neck_length: float
    shoulder_width: float  # half width at the shoulder joints
    shoulder_slope: float  # drop from the neck base to the shoulder joints
    chest_depth: float
    arm_radius: float
    bust: float  # 0: flat chest


@dataclass(frozen=True)
class ClothingSpec:
    neckline: str
    sleeves: str
    pattern: str
    colour: RGB
    second: RGB
    pattern_scale: float  # pattern repeats per metre
    pattern_angle: float  # radians, stripes and checks
    roughness: float
    sheen: float
    neckline_depth: float


@dataclass(frozen=True)
class HairSpec:
    """Strand hair. `strands` counts scalp strands (brows and flyaways come on top)."""

    style: str
    colour: RGB  # mean strand colour (the shader varies it per strand)
    melanin: float
    redness: float
    length: float  # metres along a strand from the scalp
    strands: int
    radius: float  # root radius of one rendered strand (one stands for a small clump)
    wave_amplitude: float
    wave_length: float
    curl_radius: float
    curl_length: float
    volume: float  # how far the hair stands off the scalp
    parting: float  # x offset of the parting, in cranium widths
    fringe: bool
    hairline: float  # height of the front hairline on the unit cranium (higher: receding)
    flyaways: int
    seed: int


@dataclass(frozen=True)
class FigureSpec:
    head: HeadSpec
    body: BodySpec
    clothing: ClothingSpec
    hair: HairSpec
    height: float  # world z of the neck base


@dataclass(frozen=True)
class LightSpec:
    """One area light aimed at the head, placed by angles around the person."""

    azimuth: float  # radians from the camera direction, positive to camera right
    elevation: float
    distance: float
    size: float
    power: float  # watts
    colour: RGB


@dataclass(frozen=True)
class LightingSpec:
    key: LightSpec
    fill: LightSpec
    rim: LightSpec
    world_colour: RGB
    world_strength: float
    exposure: float  # stops applied when converting to display values


@dataclass(frozen=True)
class CameraSpec:
    focal_length: float  # mm on a 36 mm wide sensor
    frame_height: float  # metres of the person's plane seen by the frame height
    height: float  # camera z relative to the neck base
    headroom: float  # fraction of the frame height between the top of the head and the frame top
    offset: float  # the person's horizontal place, fraction of the frame width off centre
    roll: float  # radians
    fstop: float
    focus_offset: float  # metres added to the distance to the eyes (0: eyes in focus)


@dataclass(frozen=True)
class Wobble:
    """A smooth random signal: the sum of sines a_i sin(2 pi f_i t + p_i), t in seconds."""

    amplitudes: tuple[float, ...]
    frequencies: tuple[float, ...]
    phases: tuple[float, ...]

    def __call__(self, t: float) -> float:
        return float(
            sum(
                a * np.sin(2.0 * np.pi * f * t + p)
                for a, f, p in zip(self.amplitudes, self.frequencies, self.phases, strict=True)
            )
        )


@dataclass(frozen=True)
class MotionSpec:
    """Per-axis wobbles. Body: x, z translation (m) and turn (rad); head: turn, nod, tilt (rad);
    camera: x, z translation (m), pan, tilt (rad) and dolly (m along its view)."""

    fast: bool
    shutter: float  # fraction of the frame interval
    body: tuple[Wobble, Wobble, Wobble]
    head: tuple[Wobble, Wobble, Wobble]
    camera: tuple[Wobble, Wobble, Wobble, Wobble, Wobble]


@dataclass(frozen=True)
class SceneSpec:
    seed: int
    figure: FigureSpec
    lighting: LightingSpec
    camera: CameraSpec
    motion: MotionSpec


@dataclass(frozen=True)
class Box:
    """An axis-aligned box (centre, half extents, rotation about z) with a material index."""

    centre: tuple[float, float, float]
    half: tuple[float, float, float]
    angle: float
    material: int


@dataclass(frozen=True)
class RoomSpec:
    """A box room around the origin: floor at z = 0, the back wall at y = depth / 2, the camera
    inside near y = -depth / 2 looking along +y."""

    seed: int
    width: float
    depth: float
    height: float
    wall: RGB
    wall_pattern: str  # "plain", "stripes", "brick"
    floor: str  # "wood", "tiles", "carpet"
    floor_colour: RGB
    palette: tuple[RGB, ...]  # furniture materials, indexed by Box.material
    boxes: tuple[Box, ...]
    windows: tuple[tuple[float, float, float, float], ...]  # back wall: x, z, half w, half h
    sky: RGB
    sky_strength: float
    lamps: tuple[tuple[float, float, float, float], ...]  # x, y, z, watts
    ceiling_light: float  # watts
    camera_x: float
    camera_z: float
    look_x: float
    focal_length: float
    fstop: float
    focus_distance: float


@dataclass(frozen=True)
class RenderSettings:
    """Cycles settings. `seed` fixes the sampling pattern, so equal settings give equal pixels
    (adaptive sampling is off for the same reason). `strand_scale` scales the hair strand count;
    `threads` 0 uses every core."""

    samples: int = 16
    seed: int = 0
    strand_scale: float = 1.0
    max_bounces: int = 4
    denoise: bool = False
    motion_blur: bool = True
    threads: int = 0
    resolution: float = 0.004  # metaball polygonisation step, metres

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.strand_scale <= 0:
            raise ValueError(f"strand_scale must be > 0, got {self.strand_scale}")


def sample_scene(seed: int) -> SceneSpec:
    """The scene of clip `seed`: a person, lights, camera and motion."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    head_rng, body_rng, cloth_rng, hair_rng, light_rng, camera_rng, motion_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), 1]).spawn(7)
    )
    head = _sample_head(head_rng)
    body = _sample_body(body_rng, head)
    figure = FigureSpec(
        head=head,
        body=body,
        clothing=_sample_clothing(cloth_rng),
        hair=_sample_hair(hair_rng),
        height=float(body_rng.uniform(1.2, 1.5)),
    )
    return SceneSpec(
        seed=int(seed),
        figure=figure,
        lighting=_sample_lighting(light_rng),
        camera=_sample_camera(camera_rng),
        motion=_sample_motion(motion_rng),
    )


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _sample_head(rng: np.random.Generator) -> HeadSpec:
    scale = _u(rng, 0.92, 1.06)
    skin_srgb = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.95, 1.05, 3)
    skin = srgb_to_linear(np.clip(skin_srgb, 0, 1))
    lips = skin * np.array([1.05, 0.62, 0.62]) * _u(rng, 0.7, 0.95)
    brows_srgb = np.array([0.12, 0.08, 0.05]) * _u(rng, 0.5, 2.5)
    return HeadSpec(
        width=scale * _u(rng, 0.07, 0.08),
        depth=scale * _u(rng, 0.09, 0.1),
        height=scale * _u(rng, 0.092, 0.104),
        jaw_width=scale * _u(rng, 0.045, 0.062),
        jaw_drop=scale * _u(rng, 0.085, 0.1),
        chin=scale * _u(rng, 0.018, 0.026),
        cheek=_u(rng, 0.6, 1.2),
        nose_length=scale * _u(rng, 0.04, 0.055),
        nose_width=scale * _u(rng, 0.014, 0.02),
        nose_projection=scale * _u(rng, 0.016, 0.026),
        brow=_u(rng, 0.5, 1.2),
        eye_spacing=scale * _u(rng, 0.029, 0.034),
        eye_radius=scale * _u(rng, 0.0115, 0.0125),
        ear_size=scale * _u(rng, 0.026, 0.034),
        lip_width=scale * _u(rng, 0.019, 0.025),
        lip_fullness=_u(rng, 0.7, 1.3),
        skin=_rgb(skin),
        skin_roughness=_u(rng, 0.35, 0.6),
        lips=_rgb(lips),
        iris=_rgb(srgb_to_linear(_IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))])),
        brows=_rgb(srgb_to_linear(np.clip(brows_srgb, 0, 1))),
    )


def _sample_body(rng: np.random.Generator, head: HeadSpec) -> BodySpec:
    build = _u(rng, 0.9, 1.15)
    return BodySpec(
        neck_radius=head.width * _u(rng, 0.72, 0.84) * build**0.5,
        neck_length=_u(rng, 0.05, 0.08),
        shoulder_width=_u(rng, 0.15, 0.2) * build,
        shoulder_slope=_u(rng, 0.035, 0.06),
        chest_depth=_u(rng, 0.1, 0.13) * build,
        arm_radius=_u(rng, 0.042, 0.055) * build,
        bust=float(max(0.0, rng.uniform(-0.6, 1.0))),
    )


def _sample_clothing(rng: np.random.Generator) -> ClothingSpec:
    colours = srgb_to_linear(_CLOTH_COLOURS[rng.choice(len(_CLOTH_COLOURS), 2, replace=False)])
    colours = colours * rng.uniform(0.8, 1.1, (2, 3))
    neckline = str(rng.choice(NECKLINES, p=[0.35, 0.2, 0.2, 0.1, 0.15]))
    depth = {"crew": (0.02, 0.04), "v": (0.08, 0.16), "scoop": (0.05, 0.11)}.get(
        neckline, (0.02, 0.04)
    )
    return ClothingSpec(
        neckline=neckline,
        sleeves=str(rng.choice(SLEEVES, p=[0.5, 0.35, 0.15])),
        pattern=str(rng.choice(CLOTH_PATTERNS, p=[0.35, 0.2, 0.12, 0.1, 0.13, 0.1])),
        colour=_rgb(colours[0]),
        second=_rgb(colours[1]),
        pattern_scale=float(np.exp(rng.uniform(np.log(15.0), np.log(60.0)))),
        pattern_angle=float(rng.choice([0.0, np.pi / 2, np.pi / 4]) + rng.normal(0, 0.05)),
        roughness=_u(rng, 0.55, 0.95),
        sheen=_u(rng, 0.0, 0.6),
        neckline_depth=_u(rng, *depth),
    )


# melanin (0: blond/white, 1: black) and redness of natural hair colours
_HAIR_PIGMENTS = np.array(
    [(0.95, 0.05), (0.8, 0.1), (0.6, 0.2), (0.4, 0.3), (0.2, 0.4), (0.45, 0.9)]
)


def _sample_hair(rng: np.random.Generator) -> HairSpec:
    style = str(rng.choice(HAIR_STYLES, p=[0.2, 0.25, 0.17, 0.15, 0.13, 0.1]))
    melanin, redness = _HAIR_PIGMENTS[rng.integers(len(_HAIR_PIGMENTS))] + rng.normal(0, 0.04, 2)
    melanin, redness = float(np.clip(melanin, 0.05, 1.0)), float(np.clip(redness, 0.0, 1.0))
    if rng.random() < 0.06:  # grey
        melanin, redness = 0.1, 0.05
    length = {
        "short": (0.03, 0.07),
        "long": (0.28, 0.45),
        "wavy": (0.22, 0.4),
        "curly": (0.09, 0.26),
        "bob": (0.13, 0.18),
        "ponytail": (0.2, 0.32),
    }[style]
    curly = style == "curly"
    wavy = style == "wavy"
    return HairSpec(
        style=style,
        colour=_rgb(_hair_colour(melanin, redness)),
        melanin=melanin,
        redness=redness,
        length=_u(rng, *length),
        strands=int(rng.integers(3500, 6000)),
        radius=_u(rng, 0.00022, 0.00032),
        wave_amplitude=_u(rng, 0.006, 0.014) if wavy else _u(rng, 0.0, 0.002),
        wave_length=_u(rng, 0.06, 0.1),
        curl_radius=_u(rng, 0.004, 0.009) if curly else 0.0,
        curl_length=_u(rng, 0.012, 0.025),
        volume=_u(rng, 0.01, 0.025) if curly else _u(rng, 0.004, 0.012),
        parting=_u(rng, -0.45, 0.45) if rng.random() < 0.7 else 0.0,
        fringe=bool(rng.random() < (0.35 if style in ("bob", "short", "long") else 0.1)),
        hairline=_u(rng, 0.4, 0.6) if rng.random() < 0.85 else _u(rng, 0.62, 0.8),
        flyaways=int(rng.integers(5, 40)),
        seed=int(rng.integers(2**31)),
    )


def _hair_colour(melanin: float, redness: float) -> np.ndarray:
    """A rough linear RGB for previews and the scalp under the hair (the strands use the
    Principled Hair melanin model)."""
    dark = np.array([0.012, 0.008, 0.006])
    blond = np.array([0.55, 0.4, 0.22])
    red = np.array([0.35, 0.08, 0.02])
    base = blond * (1 - melanin) ** 1.5 + dark * melanin
    return base * (1 - 0.6 * redness) + red * 0.6 * redness * (1 - melanin * 0.5)


def _kelvin_rgb(kelvin: float) -> np.ndarray:
    """Approximate linear RGB of a black body, normalised to unit max (3000-8000 K)."""
    t = kelvin / 100.0
    r = 1.0 if t <= 66 else 1.29 * (t - 60) ** -0.133
    g = 0.39 * np.log(t) - 0.63 if t <= 66 else 1.13 * (t - 60) ** -0.0755
    b = 1.0 if t >= 66 else 0.543 * np.log(t - 10) - 1.196
    c = srgb_to_linear(np.clip([r, g, b], 0.0, 1.0))
    return c / c.max()


def _sample_lighting(rng: np.random.Generator) -> LightingSpec:
    side = float(rng.choice([-1.0, 1.0]))
    warm = _u(rng, 3200, 6500)
    key_power = _u(rng, 15, 40)
    backlit = rng.random() < 0.3
    key = LightSpec(
        azimuth=side * _u(rng, 0.3, 1.1),
        elevation=_u(rng, 0.15, 0.7),
        distance=_u(rng, 1.2, 2.2),
        size=_u(rng, 0.3, 1.5),
        power=key_power * (0.5 if backlit else 1.0),
        colour=_rgb(_kelvin_rgb(warm)),
    )
    fill = LightSpec(
        azimuth=-side * _u(rng, 0.4, 1.2),
        elevation=_u(rng, -0.1, 0.4),
        distance=_u(rng, 1.5, 2.5),
        size=_u(rng, 1.0, 2.5),
        power=key_power * _u(rng, 0.15, 0.5),
        colour=_rgb(_kelvin_rgb(_u(rng, 4500, 8000))),
    )
    rim = LightSpec(
        azimuth=float(rng.choice([-1.0, 1.0])) * _u(rng, 2.3, 3.0),
        elevation=_u(rng, 0.3, 0.9),
        distance=_u(rng, 1.2, 2.0),
        size=_u(rng, 0.2, 1.0),
        power=key_power * (_u(rng, 1.0, 2.5) if backlit else _u(rng, 0.1, 0.8)),
        colour=_rgb(_kelvin_rgb(_u(rng, 3500, 7500))),
    )
    world = srgb_to_linear(0.65 + 0.35 * rng.uniform(-0.6, 0.6, 3))  # a mild tint
    return LightingSpec(
        key=key,
        fill=fill,
        rim=rim,
        world_colour=_rgb(world / world.max()),
        world_strength=_u(rng, 0.15, 0.5),
        exposure=_u(rng, -0.4, 0.4),
    )


def _sample_camera(rng: np.random.Generator) -> CameraSpec:
    focus_off = rng.random() < 0.12
    return CameraSpec(
        focal_length=_u(rng, 35.0, 100.0),
        frame_height=_u(rng, 0.45, 0.8),
        height=_u(rng, 0.05, 0.3),
        headroom=_u(rng, 0.04, 0.2),
        offset=_u(rng, -0.2, 0.2),
        roll=float(rng.normal(0.0, 0.03)),
        fstop=float(np.exp(rng.uniform(np.log(1.8), np.log(11.0)))),
        focus_offset=float(rng.choice([-1.0, 1.0]) * _u(rng, 0.2, 0.8)) if focus_off else 0.0,
    )


def _wobble(
    rng: np.random.Generator, amplitude: float, fmax: float, n: int = 2, fmin: float = 0.05
) -> Wobble:
    amps = amplitude * rng.uniform(0.3, 1.0, n) / np.sqrt(n)
    return Wobble(
        amplitudes=tuple(float(a) for a in amps),
        frequencies=tuple(float(f) for f in rng.uniform(fmin, fmax, n)),
        phases=tuple(float(p) for p in rng.uniform(0, 2 * np.pi, n)),
    )


def _sample_motion(rng: np.random.Generator) -> MotionSpec:
    """Slow, handheld-like motion; in fast clips (20 %) the person moves at 0.6-1.8 Hz, enough
    for motion blur of several pixels at 512x288."""
    fast = bool(rng.random() < 0.2)
    speed = 3.0 if fast else 1.0
    amount = _u(rng, 0.6, 1.0) if fast else _u(rng, 0.3, 1.0)
    f, fmin = 0.6 * speed, 0.2 * speed if fast else 0.05

    def person(amplitude: float) -> Wobble:
        return _wobble(rng, amplitude * amount, f, fmin=fmin)

    return MotionSpec(
        fast=fast,
        shutter=_u(rng, 0.4, 0.5) if fast else _u(rng, 0.3, 0.5),
        body=(person(0.2 if fast else 0.04), person(0.015), person(0.15)),
        head=(person(0.6 if fast else 0.45), person(0.15), person(0.1)),
        camera=(
            _wobble(rng, 0.03 * amount, 1.5, 3),
            _wobble(rng, 0.015 * amount, 1.5, 3),
            _wobble(rng, 0.03 * amount * speed, 0.4 * speed, fmin=fmin),
            _wobble(rng, 0.015 * amount, 0.4),
            _wobble(rng, 0.1 * amount, 0.3),
        ),
    )


def sample_room(seed: int) -> RoomSpec:
    """Room `seed` for background plates: walls, floor, furniture, windows and lamps."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    width, depth, height = _u(rng, 3.5, 7.0), _u(rng, 4.0, 8.0), _u(rng, 2.5, 3.2)
    wall = srgb_to_linear(_WALL_COLOURS[rng.integers(len(_WALL_COLOURS))] * rng.uniform(0.9, 1.05))
    palette = tuple(
        _rgb(srgb_to_linear(np.clip(c, 0, 1)))
        for c in (
            rng.uniform(0.15, 0.6, 3) * np.array([1.0, 0.75, 0.5]),  # wood
            rng.uniform(0.1, 0.9, 3),  # upholstery
            rng.uniform(0.05, 0.95, 3),  # paint
            rng.uniform(0.05, 0.95, 3),  # books, objects
            np.array([0.2, 0.45, 0.15]) * rng.uniform(0.6, 1.2),  # plants
        )
    )
    back = depth / 2
    boxes: list[Box] = []
    # furniture against the back and side walls
    x = -width / 2 + _u(rng, 0.1, 0.6)
    while x < width / 2 - 0.5:
        w = _u(rng, 0.5, 1.6)
        kind = rng.integers(4)
        if kind == 0:  # shelf with books
            h, d = _u(rng, 1.2, 2.2), _u(rng, 0.25, 0.4)
            boxes.append(Box((x + w / 2, back - d / 2, h / 2), (w / 2, d / 2, h / 2), 0.0, 0))
            for level in np.arange(0.35, h - 0.2, _u(rng, 0.32, 0.42)):
                bx = x + 0.05
                while bx < x + w - 0.1:
                    bw = _u(rng, 0.02, 0.06)
                    bh = _u(rng, 0.15, 0.28)
                    boxes.append(
                        Box(
                            (bx + bw / 2, back - d - 0.1, level + bh / 2),
                            (bw / 2, 0.1, bh / 2),
                            0.0,
                            3,
                        )
                    )
                    bx += bw + _u(rng, 0.0, 0.05) + (0.2 if rng.random() < 0.1 else 0.0)
        elif kind == 1:  # sideboard with a lamp or plant
            h, d = _u(rng, 0.6, 1.0), _u(rng, 0.35, 0.5)
            boxes.append(Box((x + w / 2, back - d / 2, h / 2), (w / 2, d / 2, h / 2), 0.0, 2))
        elif kind == 2:  # sofa
            w = max(w, 1.4)
            boxes.append(Box((x + w / 2, back - 0.45, 0.22), (w / 2, 0.45, 0.22), 0.0, 1))
            boxes.append(Box((x + w / 2, back - 0.12, 0.55), (w / 2, 0.12, 0.3), 0.0, 1))
        else:  # plant: pot and a leafy box stack
            boxes.append(Box((x + 0.25, back - 0.35, 0.2), (0.15, 0.15, 0.2), 0.0, 2))
            for k in range(int(rng.integers(3, 7))):
                s = _u(rng, 0.1, 0.25)
                c = (
                    x + 0.25 + _u(rng, -0.15, 0.15),
                    back - 0.35 + _u(rng, -0.1, 0.1),
                    0.45 + 0.15 * k + _u(rng, 0, 0.1),
                )
                boxes.append(Box(c, (s, s * 0.8, s * 0.6), _u(rng, 0, np.pi), 4))
            w = 0.6
        x += w + _u(rng, 0.05, 0.8)
    for side in (-1.0, 1.0):  # side-wall cabinets
        if rng.random() < 0.6:
            y = _u(rng, -depth / 4, back - 1.0)
            d, h, w = _u(rng, 0.3, 0.5), _u(rng, 0.7, 2.0), _u(rng, 0.6, 1.4)
            boxes.append(
                Box(
                    (side * (width / 2 - d / 2), y, h / 2),
                    (d / 2, w / 2, h / 2),
                    0.0,
                    int(rng.integers(3)),
                )
            )
    windows = []
    for _ in range(int(rng.integers(0, 3))):
        windows.append(
            (
                _u(rng, -width / 2 + 0.8, width / 2 - 0.8),
                _u(rng, 1.4, 1.8),
                _u(rng, 0.4, 0.8),
                _u(rng, 0.5, 0.75),
            )
        )
    occupied = list(windows)
    for _ in range(int(rng.integers(1, 4))):  # picture frames on the back wall
        x, z = _u(rng, -width / 2 + 0.5, width / 2 - 0.5), _u(rng, 1.3, 2.0)
        hw, hh = _u(rng, 0.15, 0.5), _u(rng, 0.15, 0.4)
        if any(
            abs(x - ox) < hw + ohw + 0.05 and abs(z - oz) < hh + ohh + 0.05
            for ox, oz, ohw, ohh in occupied
        ):
            continue  # pictures overlap neither windows nor each other
        occupied.append((x, z, hw, hh))
        boxes.append(Box((x, back - 0.02, z), (hw, 0.02, hh), 0.0, PAINTING))
    lamps = tuple(
        (
            _u(rng, -width / 2 + 0.5, width / 2 - 0.5),
            _u(rng, 0.0, back - 0.5),
            _u(rng, 1.0, 1.8),
            _u(rng, 20, 80),
        )
        for _ in range(int(rng.integers(0, 3)))
    )
    return RoomSpec(
        seed=int(seed),
        width=width,
        depth=depth,
        height=height,
        wall=_rgb(wall),
        wall_pattern=str(rng.choice(["plain", "stripes", "brick"], p=[0.6, 0.2, 0.2])),
        floor=str(rng.choice(["wood", "tiles", "carpet"])),
        floor_colour=_rgb(srgb_to_linear(rng.uniform(0.15, 0.7, 3) * np.array([1.0, 0.8, 0.6]))),
        palette=palette,
        boxes=tuple(boxes),
        windows=tuple(windows),
        sky=_rgb(srgb_to_linear(rng.uniform(0.6, 1.0, 3) * np.array([0.8, 0.9, 1.0]))),
        sky_strength=_u(rng, 1.0, 3.0),
        lamps=lamps,
        ceiling_light=_u(rng, 100, 400),
        camera_x=_u(rng, -width / 4, width / 4),
        camera_z=_u(rng, 1.2, 1.7),
        look_x=_u(rng, -width / 3, width / 3),
        focal_length=_u(rng, 28.0, 85.0),
        fstop=float(np.exp(rng.uniform(np.log(1.8), np.log(11.0)))),
        focus_distance=_u(rng, 1.2, 3.0),
    )
