"""Per-channel lookup tables in place of OCIO: exact for half pixels, within a stated
tolerance for float32 pixels, and declined for conversions they cannot reproduce."""

import numpy as np
import pytest

from hosts.exr import colour, curves


def _ocio(source: str, target: str):
    return lambda rgb: colour.ocio_convert(rgb, source, target)


def _random_halves(shape, seed=0) -> np.ndarray:
    """Every finite non-negative half is equally likely: 0 to 65504, denormals included."""
    bits = np.random.default_rng(seed).integers(0, 0x7C00, shape, dtype=np.uint16)
    return bits.view(np.float16)


def _random_floats(shape, seed=0) -> np.ndarray:
    """float32 in [0, 1] (the network's range, where the sRGB curve has its kink), and
    spread over 2^-40 to 65504."""
    rng = np.random.default_rng(seed)
    unit = rng.random(shape)
    wide = np.exp2(rng.uniform(-40, np.log2(curves.HALF_MAX), shape))
    return np.where(rng.random(shape) < 0.6, unit, wide).astype(np.float32)


@pytest.mark.parametrize(
    ("source", "target"), [("lin_rec709", "srgb_tx"), ("srgb_tx", "lin_rec709")]
)
def test_half_pixels_convert_exactly_as_ocio(source, target):
    tables = curves.fit(_ocio(source, target))
    assert tables is not None
    x = _random_halves((256, 384, 3))
    assert np.array_equal(tables.apply(x), colour.ocio_convert(x, source, target))


@pytest.mark.parametrize(
    ("source", "target"), [("lin_rec709", "srgb_tx"), ("srgb_tx", "lin_rec709")]
)
def test_float32_pixels_are_within_5e_5_relative_of_ocio(source, target):
    tables = curves.fit(_ocio(source, target))
    x = _random_floats((512, 512, 3), seed=1)
    expected = colour.ocio_convert(x, source, target)
    error = np.abs(tables.apply(x) - expected) / np.abs(expected)
    # Measured: at most 1.3e-5, next to the sRGB curve's kink; 99.9 % under 3e-6 (OCIO's
    # own curve is that smooth). Half-float rounding is 4.9e-4.
    assert error.max() < curves.RTOL
    assert np.quantile(error, 0.999) < 5e-6


def test_the_network_and_the_foreground_conversions_use_the_tables_and_agree_with_ocio():
    conv = colour.conversion("lin_rec709")
    plate = _random_halves((64, 96, 3), seed=2)
    srgb = conv.to_network(plate)
    reference = colour.ocio_convert(plate, "lin_rec709", "srgb_tx")
    assert srgb.dtype == np.float32
    assert np.array_equal(srgb, np.clip(reference, 0.0, 1.0))
    foreground = np.random.default_rng(3).random((64, 96, 3), dtype=np.float32)
    linear = conv.to_plate(foreground)
    expected = colour.ocio_convert(foreground, "srgb_tx", "lin_rec709")
    assert np.allclose(linear, expected, rtol=curves.RTOL, atol=0.0)


def test_a_matrix_conversion_is_declined_and_runs_through_ocio():
    assert curves.fit(_ocio("ACEScg", "srgb_tx")) is None
    conv = colour.conversion("ACEScg")
    plate = _random_halves((16, 24, 3), seed=4)
    expected = np.clip(colour.ocio_convert(plate, "ACEScg", "srgb_tx"), 0.0, 1.0)
    assert np.array_equal(conv.to_network(plate), expected)


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda x: x ** np.array([1.0, 2.0, 3.0], np.float32), id="curve per channel"),
        pytest.param(lambda x: x + 0.1 * x[..., ::-1], id="channels mixed"),
        pytest.param(lambda x: np.floor(x * 1000.5) / 1000, id="steps between knots"),
    ],
)
def test_conversions_the_tables_cannot_reproduce_are_declined(convert):
    assert curves.fit(convert) is None


def test_any_per_channel_curve_is_fitted():
    tables = curves.fit(lambda x: (x**2.2).astype(np.float32))
    assert tables is not None
    x = _random_floats((128, 128, 3), seed=5)
    assert np.allclose(tables.apply(x), x.astype(np.float64) ** 2.2, rtol=1e-5, atol=0.0)


def test_float32_outside_the_tables_is_left_to_ocio_and_negative_zero_is_zero():
    tables = curves.fit(_ocio("srgb_tx", "lin_rec709"))
    for bad in (-0.5, np.nan, 70000.0):
        x = np.full((2, 2, 3), 0.5, np.float32)
        x[1, 1, 2] = bad
        assert tables.apply(x) is None
    zeros = np.array([[[0.0, -0.0, 0.5]]], np.float32)
    assert tables.apply(zeros).tolist() == tables.apply(np.abs(zeros)).tolist()
    conv = colour.conversion("lin_rec709")
    hot = np.array([[[2.0, 0.5, -0.25]]], np.float32)
    assert np.array_equal(conv.to_plate(hot), colour.ocio_convert(hot, "srgb_tx", "lin_rec709"))
