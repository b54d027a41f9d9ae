"""Reading plates: half stays half, and only the channels needed are read. Output pixels:
channel layouts and the half conversion."""

import numpy as np
import OpenImageIO as oiio
import pytest

from hosts.exr.io import OutputFormat, Plate, matte_pixels, read_plate
from tests.hosts.exr.images import write_image


@pytest.mark.parametrize(("pixel_type", "dtype"), [("half", np.float16), ("float", np.float32)])
def test_float_plates_are_read_in_their_own_type(tmp_path, pixel_type, dtype):
    pixels = np.random.default_rng(0).random((6, 8, 3)).astype(dtype)
    plate = read_plate(write_image(tmp_path / "p.exr", pixels, pixel_type))
    assert plate.pixels.dtype == dtype
    assert np.array_equal(plate.rgb(), pixels)


def test_rgb_only_reads_the_colour_channels_of_a_multichannel_plate(tmp_path):
    pixels = np.random.default_rng(1).random((6, 8, 5)).astype(np.float16)
    # OpenEXR sorts channels by name: A, B, G, R, Z on disk; OpenImageIO puts R, G, B, A first.
    path = write_image(tmp_path / "p.exr", pixels, channels=("R", "G", "B", "A", "Z"))
    whole, colour = read_plate(path), read_plate(path, rgb_only=True)
    assert whole.pixels.shape == (6, 8, 5)
    assert colour.pixels.shape == (6, 8, 3)
    assert np.array_equal(colour.rgb(), whole.rgb())
    assert np.array_equal(colour.rgb(), pixels[..., :3])


def test_rgb_of_reordered_and_grey_plates(tmp_path):
    pixels = np.random.default_rng(2).random((4, 4, 4)).astype(np.float32)
    spec = oiio.ImageSpec(4, 4, 4, "float")
    spec.channelnames = ("Z", "B", "G", "R")  # what OpenImageIO does not reorder
    assert np.array_equal(Plate(tmp_path, spec, pixels).rgb(), pixels[..., 3:0:-1])
    held = Plate(tmp_path, spec, pixels[..., 1:], first_channel=1)  # read with rgb_only
    assert np.array_equal(held.rgb(), pixels[..., 3:0:-1])
    grey = write_image(tmp_path / "grey.exr", pixels[..., :1], "half", channels=("Y",))
    rgb = read_plate(grey, rgb_only=True).rgb()
    assert rgb.shape == (4, 4, 3)
    assert np.array_equal(rgb, np.repeat(pixels[..., :1].astype(np.float16), 3, axis=2))


@pytest.mark.parametrize("premultiplied", [True, False])
def test_half_outputs_round_like_numpy_down_to_subnormals(premultiplied):
    """A soft matte's faint tails are subnormal halves: the conversion must round them (and
    everything else) to nearest even, exactly as numpy's reference cast does."""
    rng = np.random.default_rng(3)
    alpha = (rng.random((16, 24), np.float32) ** 12).astype(np.float32)  # down to ~1e-20
    alpha[0, :4] = [0.0, 1.0, 6.1e-5, 5.96e-8]
    foreground = rng.random((16, 24, 3), np.float32)
    spec = oiio.ImageSpec(24, 16, 3, "half")
    fmt = OutputFormat(premultiplied=premultiplied)
    names, pixels = matte_pixels(spec, None, alpha, foreground, fmt)
    assert names == ["R", "G", "B", "A"]
    assert pixels.dtype == np.float16 and pixels.shape == (16, 24, 4)
    rgb = foreground * alpha[..., None] if premultiplied else foreground
    assert np.array_equal(pixels[..., :3].view(np.uint16), rgb.astype(np.float16).view(np.uint16))
    assert np.array_equal(pixels[..., 3].view(np.uint16), alpha.astype(np.float16).view(np.uint16))
    names, only = matte_pixels(spec, None, alpha, None, OutputFormat(layout="alpha"))
    assert names == ["A"] and only.shape == (16, 24, 1)
    assert np.array_equal(only[..., 0], pixels[..., 3])
