"""Per-channel curves: a colour conversion that acts on each channel alone, as lookup tables.

Most conversions between plates and the network's sRGB (scene-linear Rec.709 ↔ sRGB, gamma
spaces) apply one 1D function to R, G and B. Such a conversion is sampled once, by running the
conversion itself (OCIO stays the reference), and then applied with numpy gathers: on a
1080p frame about 5 CPU-ms for half pixels and 15 for float32 ones, where OCIO's per-pixel
processing takes 120-130:

- float16 pixels index a table of the conversion's output for all 65536 half bit patterns:
  exactly the conversion's output for those values.
- float32 pixels in [0, 65504] interpolate linearly between knots at every float32 value
  whose low 13 mantissa bits are zero (the half values, continued over float32's exponent
  range): 1024 knots per octave, within a few 1e-6 relative of a smooth curve, 2e-5 at a
  kink.

``fit`` checks the tables against the conversion on probe pixels whose R, G and B are
unrelated and span 0 to 65504, and declines (returns None) when they do not reproduce it: a
conversion with a 3x3 matrix (ACEScg ↔ sRGB), a 3D LUT, different curves per channel, or a
curve too steep for the knots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

HALF_MAX = 65504.0
RTOL = 5e-5
"""Largest deviation from the conversion that ``fit`` accepts, relative to the value (plus
``ATOL``), a tenth of half-float rounding (4.9e-4). Measured for the built-in config's sRGB ↔
scene-linear Rec.709: 0 for float16 input; for float32 input under 3e-6 for 99.9 % of
values and at most 1.3e-5, beside the sRGB curve's kink (tests/hosts/exr/test_curves.py)."""
ATOL = 1e-9

_FRACTION_BITS = 13  # float32 mantissa bits below the knots: 23 - 10
_LAST_BITS = int(np.float32(HALF_MAX).view(np.uint32))
_KNOTS = (int(np.float32(65536.0).view(np.uint32)) >> _FRACTION_BITS) + 1
_PROBE_SHAPE = (64, 512, 3)
_SLAB = 1 << 17  # elements converted at a time

Convert = Callable[[np.ndarray], np.ndarray]
"""(H, W, 3) float32 → (H, W, 3) float32, the same function on every pixel."""


@dataclass(frozen=True, eq=False)
class Curves:
    """A per-channel conversion as tables (see the module docstring).

    half: (65536,) float32, the output for each float16 bit pattern. knots: (K,) float32, the
    output at float32 bit patterns 0, 2^13, 2 * 2^13, ... up to 65536.0. slopes: (K,) float32,
    the change to the next knot per unit of the low 13 bits.
    """

    half: np.ndarray
    knots: np.ndarray
    slopes: np.ndarray

    def apply(self, rgb: np.ndarray) -> np.ndarray | None:
        """(N, ...) float16 or float32 → a new float32 array of the conversion's output, or
        None where the tables do not apply (float32 outside [0, 65504] or NaN, other types)."""
        if rgb.dtype == np.float16:
            bits = rgb.view(np.uint16)
            out = np.empty(rgb.shape, np.float32)
            for rows in _slabs(rgb):
                np.take(self.half, bits[rows], out=out[rows], mode="wrap")
            return out
        if rgb.dtype != np.float32 or rgb.size == 0:
            return None
        bits = rgb.view(np.uint32)
        if int(bits.max()) <= _LAST_BITS:  # no sign bit, no NaN, at most 65504
            return self._interpolate(bits)
        if float(rgb.min()) >= 0.0 and float(rgb.max()) <= HALF_MAX:  # -0.0 among them
            return self._interpolate(bits & np.uint32(0x7FFFFFFF))
        return None

    def _interpolate(self, bits: np.ndarray) -> np.ndarray:
        out = np.empty(bits.shape, np.float32)
        slab = (min(bits.shape[0], _slab_rows(bits)), *bits.shape[1:])
        index, step = np.empty(slab, np.intp), np.empty(slab, np.float32)
        for rows in _slabs(bits):
            b, o = bits[rows], out[rows]
            i, g = index[: len(b)], step[: len(b)]
            np.right_shift(b, np.uint32(_FRACTION_BITS), out=i, casting="unsafe")
            np.bitwise_and(b, np.uint32((1 << _FRACTION_BITS) - 1), out=o, casting="unsafe")
            np.take(self.slopes, i, out=g, mode="wrap")
            o *= g
            np.take(self.knots, i, out=g, mode="wrap")
            o += g
        return out


def _slab_rows(array: np.ndarray) -> int:
    return max(1, _SLAB * array.shape[0] // max(array.size, 1))


def _slabs(array: np.ndarray) -> Iterator[slice]:
    """Slices of about ``_SLAB`` elements along the first axis: the temporaries of a slab stay
    in the CPU cache, which halves the time of a whole 1080p frame at once. (Indices are in
    range, so ``take``'s cheapest mode, "wrap", never wraps.)"""
    step = _slab_rows(array)
    for start in range(0, array.shape[0], step):
        yield slice(start, start + step)


def fit(convert: Convert, seed: int = 0) -> Curves | None:
    """Tables of ``convert`` if it acts on each channel alone with the same curve and the
    tables reproduce it within ``RTOL`` on probe pixels; else None."""
    half_in = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    knot_in = (np.arange(_KNOTS, dtype=np.uint32) << np.uint32(_FRACTION_BITS)).view(np.float32)
    grey = np.concatenate([half_in, knot_in])
    with np.errstate(all="ignore"):  # the half patterns include NaN, Inf and negatives
        out = _run(convert, np.repeat(grey[:, None], 3, axis=1))
    if not all(np.array_equal(out[:, 0], out[:, c], equal_nan=True) for c in (1, 2)):
        return None
    half, knots = out[: half_in.size, 0].copy(), out[half_in.size :, 0].copy()
    if not np.isfinite(knots).all():
        return None
    steps = np.diff(knots.astype(np.float64), append=float(knots[-1])) / (1 << _FRACTION_BITS)
    curves = Curves(half, knots, steps.astype(np.float32))

    rng = np.random.default_rng(seed)
    half_probe = rng.integers(0, 0x7C00, _PROBE_SHAPE, dtype=np.uint16).view(np.float16)
    float_probe = np.where(
        rng.random(_PROBE_SHAPE) < 0.5,
        rng.random(_PROBE_SHAPE),  # the network's range, densely
        np.exp2(rng.uniform(-40.0, np.log2(HALF_MAX), _PROBE_SHAPE)),
    ).astype(np.float32)
    float_probe[0, :4] = [[0.0, 1.0, HALF_MAX], [1.0, 0.0, 0.5], [HALF_MAX, 0.18, 0.0], [0, 0, 0]]
    for probe in (half_probe, float_probe):
        expected = _run(convert, probe.astype(np.float32).reshape(-1, 3))
        got = curves.apply(probe).reshape(-1, 3)
        if not np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True):
            return None
    return curves


def _run(convert: Convert, rgb: np.ndarray) -> np.ndarray:
    """``convert`` on (N, 3) pixels, laid out as rows of 512 (a tall one-pixel-wide image
    would cost a row's overhead per pixel)."""
    count = rgb.shape[0]
    rows = -(-count // 512)
    image = np.zeros((rows * 512, 3), np.float32)
    image[:count] = rgb
    out = convert(image.reshape(rows, 512, 3))
    return np.asarray(out, np.float32).reshape(-1, 3)[:count]
