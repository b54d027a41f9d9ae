"""Colour: plates in any OCIO colour space ↔ the network's display-referred sRGB.

Conversions go through OpenImageIO's OpenColorIO, with the config named by ``$OCIO`` or,
without it, OCIO's built-in ``ocio://default`` config. The network was trained on sRGB
images in [0, 1]: a plate is converted to sRGB and clipped to [0, 1] for the network only
(highlights above sRGB 1.0, i.e. scene-linear 1.0, are clipped in what the network sees).
The network's foreground is converted to the output's space (``output_space``): an EXR is
scene-linear (the plate's space when that is scene-linear, so it composites over the plate
in the plate's own space; else scene-linear Rec.709), a PNG or TIFF keeps the plate's
encoding. It is bounded by the sRGB range (scene-linear [0, 1]); for highlight detail use
the plate times the matte (``--rgb plate``, or ``--layers``, which carries both).

A conversion that applies one curve to each channel (scene-linear Rec.709 ↔ sRGB in the
built-in config) runs as lookup tables sampled from OCIO (``hosts.exr.curves``): exact for
half-float pixels, within 5e-5 relative for float32 pixels, for an eighth to a twentieth of
the CPU time. Any other conversion (one with a matrix, such as ACEScg ↔ sRGB) runs through
OCIO per pixel.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache

import numpy as np
import OpenImageIO as oiio

from hosts.exr import curves
from hosts.exr.errors import UsageError

NETWORK_SPACES = ("srgb_tx", "sRGB - Texture", "Utility - sRGB - Texture", "sRGB")
"""Names of sRGB-encoded Rec.709 (the network's input) in common configs, tried in order."""
LINEAR_SPACES = ("lin_rec709", "Linear Rec.709 (sRGB)", "Utility - Linear - sRGB", "linear")
"""Names of scene-linear Rec.709 (the default for float files such as EXR), tried in order."""
HALF_MAX = curves.HALF_MAX

_FLOAT_FORMATS = {oiio.BASETYPE.HALF, oiio.BASETYPE.FLOAT, oiio.BASETYPE.DOUBLE}


def config_name() -> str:
    """The OCIO config in use: ``$OCIO`` when set, else OCIO's built-in default."""
    return os.environ.get("OCIO") or "ocio://default"


@cache
def _config(name: str) -> oiio.ColorConfig:
    config = oiio.ColorConfig(name)
    if config.getNumColorSpaces() == 0:
        raise UsageError(f"OCIO config {name!r} could not be loaded ({config.geterror()})")
    return config


def _first_known(config: oiio.ColorConfig, names: tuple[str, ...], what: str) -> str:
    for name in names:
        if config.getColorSpaceIndex(name) >= 0:
            return name
    raise UsageError(
        f"OCIO config {config_name()!r} has no {what} colour space (tried {', '.join(names)})"
    )


def network_space() -> str:
    return _first_known(_config(config_name()), NETWORK_SPACES, "sRGB")


def linear_space() -> str:
    return _first_known(_config(config_name()), LINEAR_SPACES, "scene-linear Rec.709")


def check_space(name: str) -> str:
    """``name`` if the config knows it (as a colour space or alias), else ``UsageError``."""
    config = _config(config_name())
    if config.getColorSpaceIndex(name) < 0:
        known = ", ".join(config.getColorSpaceNames())
        raise UsageError(f"unknown colour space {name!r} in {config_name()}; known: {known}")
    return name


def default_space(spec: oiio.ImageSpec) -> str:
    """The colour space a file declares (``oiio:ColorSpace``), else the format's convention:
    float data (EXR, float TIFF) is scene-linear Rec.709, integer data (PNG, JPEG, DPX,
    TIFF) is sRGB."""
    declared = spec.get_string_attribute("oiio:ColorSpace")
    if declared and _config(config_name()).getColorSpaceIndex(declared) >= 0:
        return declared
    return linear_space() if spec.format.basetype in _FLOAT_FORMATS else network_space()


NEGATIVE_TOLERANCE = 1e-4
"""Negative values down to -1e-4 are rounding noise (renderers and resamplers leave them around
-1e-7): they are replaced by 0 like any negative, but not reported. Scene-linear 1e-4 is a
third of an 8-bit sRGB code value (1e-4 × 12.92 × 255 ≈ 0.33), so replacing it changes nothing
a viewer shows; anything more negative is reported."""

_HALF_TOLERANCE_BITS = int(np.float16(NEGATIVE_TOLERANCE).view(np.uint16))


@dataclass(frozen=True)
class SanitiseCounts:
    """Values replaced in a frame: NaN → 0, -Inf → 0, +Inf → 65504, negative → 0.

    negative: values below ``-NEGATIVE_TOLERANCE``; tiny: negative values within it (replaced
    too, never reported)."""

    nan: int = 0
    inf: int = 0
    negative: int = 0
    tiny: int = 0

    @property
    def total(self) -> int:
        """Values worth a warning: NaN, Inf and negatives beyond the tolerance."""
        return self.nan + self.inf + self.negative

    def __add__(self, other: SanitiseCounts) -> SanitiseCounts:
        return SanitiseCounts(
            self.nan + other.nan,
            self.inf + other.inf,
            self.negative + other.negative,
            self.tiny + other.tiny,
        )


def sanitise(rgb: np.ndarray) -> tuple[np.ndarray, SanitiseCounts]:
    """(H, W, C) float16 or float32 → the same type with NaN, Inf and negative values
    replaced, and counts.

    Returns the input itself when nothing needs replacing.
    """
    if rgb.dtype == np.float16:
        return _sanitise_half(rgb)
    finite = np.isfinite(rgb)
    all_finite = bool(finite.all())
    if all_finite and float(rgb.min(initial=0.0)) >= 0.0:
        return rgb, SanitiseCounts()
    nan = int(np.isnan(rgb).sum()) if not all_finite else 0
    inf = int((~finite).sum()) - nan
    negative = int((rgb < 0).sum()) - int(np.isneginf(rgb).sum())
    beyond = int((rgb < -NEGATIVE_TOLERANCE).sum()) - int(np.isneginf(rgb).sum())
    clean = np.nan_to_num(rgb, nan=0.0, posinf=HALF_MAX, neginf=0.0)
    np.maximum(clean, 0.0, out=clean)
    return clean, SanitiseCounts(nan, inf, beyond, negative - beyond)


def _sanitise_half(rgb: np.ndarray) -> tuple[np.ndarray, SanitiseCounts]:
    """``sanitise`` on the bit patterns: one pass over the frame when it is clean (every
    finite non-negative half is below 0x7C00)."""
    bits = rgb.view(np.uint16)
    if int(bits.max(initial=0)) < 0x7C00:
        return rgb, SanitiseCounts()
    magnitude = bits & np.uint16(0x7FFF)
    sign = bits >= 0x8000
    nan = magnitude > 0x7C00
    inf = magnitude == 0x7C00
    negative = sign & (magnitude != 0) & ~nan & ~inf
    beyond = int((negative & (magnitude > _HALF_TOLERANCE_BITS)).sum())
    clean = np.where(sign | nan, np.uint16(0), bits)
    clean[bits == 0x7C00] = 0x7BFF  # +Inf → 65504
    counts = SanitiseCounts(int(nan.sum()), int(inf.sum()), beyond, int(negative.sum()) - beyond)
    return clean.view(np.float16), counts


@dataclass(frozen=True)
class Conversion:
    """Converts between a plate's colour space and the network's sRGB.

    Inputs are (H, W, 3) float16 or float32 (a plate as read, the network's foreground);
    outputs are float32. ``identity`` when the two spaces are equivalent, so sRGB plates
    (PNG, JPEG) reach the network bit-exactly.
    """

    plate_space: str
    network_space: str
    config: str
    identity: bool

    def to_network(self, rgb: np.ndarray) -> np.ndarray:
        """Plate space → sRGB clipped to [0, 1] (the network's input)."""
        if self.identity:
            return np.clip(rgb, 0.0, 1.0, dtype=np.float32)
        tables = _curves(self.config, self.plate_space, self.network_space, True)
        out = tables.apply(rgb) if tables is not None else None
        if out is None:
            out = _for_network(ocio_convert(rgb, self.plate_space, self.network_space))
        return out

    def to_plate(self, rgb: np.ndarray) -> np.ndarray:
        """sRGB in [0, 1] (the network's foreground) → plate space."""
        if self.identity:
            return rgb if rgb.dtype == np.float32 else rgb.astype(np.float32)
        tables = _curves(self.config, self.network_space, self.plate_space, False)
        out = tables.apply(rgb) if tables is not None else None
        if out is None:
            out = ocio_convert(rgb, self.network_space, self.plate_space)
        return out


def ocio_convert(rgb: np.ndarray, source: str, target: str) -> np.ndarray:
    """(H, W, 3) pixels → float32 converted by OpenImageIO's OCIO from ``source`` to
    ``target`` (colour spaces of the config in use)."""
    height, width, channels = rgb.shape
    buf = oiio.ImageBuf(oiio.ImageSpec(width, height, channels, oiio.FLOAT))
    buf.set_pixels(oiio.ROI.All, np.ascontiguousarray(rgb, dtype=np.float32))
    # OpenImageIO's default config is this one ($OCIO, else the built-in): naming it would
    # build a new config on every call. One thread: the processor converts on several I/O
    # threads beside inference, where OpenImageIO's pool would only add contention.
    if not oiio.ImageBufAlgo.colorconvert(buf, buf, source, target, False, nthreads=1):
        raise UsageError(f"colour conversion {source} → {target} failed: {buf.geterror()}")
    return buf.get_pixels(oiio.FLOAT)


def _for_network(srgb: np.ndarray) -> np.ndarray:
    np.nan_to_num(srgb, copy=False, nan=0.0)
    return np.clip(srgb, 0.0, 1.0, out=srgb)


def _curves(config: str, source: str, target: str, for_network: bool) -> curves.Curves | None:
    """The conversion as lookup tables, or None if it is not one curve per channel."""
    with _FITTING:  # the reader threads all ask for the same tables at the first frame
        return _fitted(config, source, target, for_network)


_FITTING = threading.Lock()


@cache
def _fitted(config: str, source: str, target: str, for_network: bool) -> curves.Curves | None:
    def convert(rgb: np.ndarray) -> np.ndarray:
        out = ocio_convert(rgb, source, target)
        return _for_network(out) if for_network else out

    return curves.fit(convert)


def conversion(plate_space: str) -> Conversion:
    """The conversion for plates in ``plate_space`` (checked against the config)."""
    return _conversion(plate_space, config_name())


@cache
def _conversion(plate_space: str, config: str) -> Conversion:
    check_space(plate_space)
    target = network_space()
    identity = plate_space == target or _config(config).equivalent(plate_space, target)
    return Conversion(plate_space, target, config, bool(identity))


def convert(rgb: np.ndarray, source: str, target: str) -> np.ndarray:
    """(H, W, 3) float16 or float32 pixels in ``source`` → float32 in ``target``, through
    lookup tables where the conversion is one curve per channel, else OCIO per pixel; a copy
    of the input (as float32) when the two spaces are equivalent."""
    if _equivalent(source, target, config_name()):
        return rgb.astype(np.float32)
    tables = _curves(config_name(), source, target, False)
    out = tables.apply(rgb) if tables is not None else None
    return out if out is not None else ocio_convert(rgb, source, target)


@cache
def _equivalent(source: str, target: str, config: str) -> bool:
    return source == target or bool(_config(config).equivalent(source, target))


@cache
def is_linear(space: str) -> bool:
    """Whether ``space`` is scene-linear: its conversion to scene-linear Rec.709 scales with
    the light (f(2x) = 2 f(x), a matrix and no transfer curve), as for Linear Rec.709, ACEScg
    or ACES2065-1; sRGB, gamma and log spaces are not."""
    probe = np.array([[[0.02, 0.05, 0.1], [0.2, 0.3, 0.45]]], np.float32)
    with np.errstate(all="ignore"):
        once = ocio_convert(probe, space, linear_space())
        twice = ocio_convert(2 * probe, space, linear_space())
    return bool(np.allclose(twice, 2 * once, rtol=1e-3, atol=1e-6))


def output_space(plate_space: str, container: str) -> str:
    """The colour space of an output's RGB made from plates in ``plate_space``.

    container ".exr": scene-linear, as EXR is by convention (and as OpenImageIO 3.0 reads
    every EXR: it keeps no colour space name in the file): the plate's own space when it is
    scene-linear (Linear Rec.709, ACEScg, ...), else scene-linear Rec.709 (an sRGB PNG's
    transfer curve is decoded). Integer containers (".png", ".tif"): the plate's own
    encoding when it has one, else sRGB (scene-linear values do not fit 16-bit integers).
    """
    if container == ".exr":
        return plate_space if is_linear(plate_space) else linear_space()
    return network_space() if is_linear(plate_space) else plate_space
