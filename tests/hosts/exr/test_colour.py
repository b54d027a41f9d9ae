"""Colour through OpenImageIO's OCIO: the plate's space ↔ the network's sRGB."""

import numpy as np
import OpenImageIO as oiio
import pytest

from hosts.exr import colour
from hosts.exr.errors import UsageError


def test_scene_linear_round_trips_through_the_networks_srgb():
    conv = colour.conversion("lin_rec709")
    assert not conv.identity
    rng = np.random.default_rng(0)
    linear = rng.random((8, 12, 3), dtype=np.float32)
    srgb = conv.to_network(linear)
    # The sRGB curve, as OCIO implements it: 0.18 linear is about 0.46 encoded.
    mid = conv.to_network(np.full((1, 1, 3), 0.18, np.float32))
    assert abs(float(mid[0, 0, 0]) - 0.4614) < 1e-3
    assert np.abs(conv.to_plate(srgb) - linear).max() < 1e-3


def test_the_network_sees_srgb_clipped_to_0_1():
    conv = colour.conversion("lin_rec709")
    hot = np.array([[[4.0, 1.0, 0.0]]], np.float32)
    assert conv.to_network(hot).tolist() == [[[1.0, 1.0, 0.0]]]
    acescg = colour.conversion("ACEScg").to_network(np.array([[[0.0, 0.0, 1.0]]], np.float32))
    assert acescg.min() >= 0.0 and acescg.max() <= 1.0


def test_srgb_plates_reach_the_network_unchanged():
    conv = colour.conversion("sRGB")
    assert conv.identity
    x = np.random.default_rng(1).random((4, 4, 3), dtype=np.float32)
    assert np.array_equal(conv.to_network(x), x)


def test_default_space_from_metadata_then_format():
    float_spec = oiio.ImageSpec(4, 4, 3, oiio.HALF)
    assert colour.default_space(float_spec) == "lin_rec709"
    assert colour.default_space(oiio.ImageSpec(4, 4, 3, oiio.UINT8)) == "srgb_tx"
    assert colour.default_space(oiio.ImageSpec(4, 4, 3, oiio.UINT16)) == "srgb_tx"
    float_spec.attribute("oiio:ColorSpace", "ACEScg")
    assert colour.default_space(float_spec) == "ACEScg"


def test_unknown_colour_space_is_a_usage_error():
    with pytest.raises(UsageError, match=r"unknown colour space 'Rec\.9999'"):
        colour.conversion("Rec.9999")


def test_sanitise_replaces_and_counts_nan_inf_and_negative_values():
    x = np.array([[[np.nan, np.inf, -np.inf], [-0.5, 0.2, np.nan]]], np.float32)
    clean, counts = colour.sanitise(x)
    assert (counts.nan, counts.inf, counts.negative) == (2, 2, 1)
    assert clean.tolist() == [[[0.0, 65504.0, 0.0], [0.0, np.float32(0.2), 0.0]]]
    fine = np.ones((2, 2, 3), np.float32)
    same, none = colour.sanitise(fine)
    assert same is fine and none.total == 0


def test_half_pixels_are_sanitised_like_float_ones_without_leaving_half():
    x = np.array([[[np.nan, np.inf, -np.inf], [-0.5, 0.2, np.nan], [-0.0, 7.0, 65504.0]]])
    clean, counts = colour.sanitise(x.astype(np.float16))
    reference, expected = colour.sanitise(x.astype(np.float16).astype(np.float32))
    assert clean.dtype == np.float16
    assert counts == expected == colour.SanitiseCounts(nan=2, inf=2, negative=1)
    assert np.array_equal(clean.astype(np.float32), reference)
    fine = np.ones((2, 2, 3), np.float16)
    same, none = colour.sanitise(fine)
    assert same is fine and none.total == 0


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_negatives_within_the_tolerance_are_replaced_but_not_reported(dtype):
    # -3e-7 is what a renderer leaves (the sample shot); -2e-4 is beyond -1e-4.
    x = np.array([[[-3e-7, -5e-5, 0.5], [-2e-4, -0.25, 0.1]]], dtype)
    clean, counts = colour.sanitise(x)
    assert colour.NEGATIVE_TOLERANCE == 1e-4
    assert (counts.negative, counts.tiny, counts.total) == (2, 2, 2)
    assert float(clean.min()) == 0.0
    quiet = np.array([[[-3e-7, -9e-5, 0.5]]], dtype)
    assert colour.sanitise(quiet)[1].total == 0
