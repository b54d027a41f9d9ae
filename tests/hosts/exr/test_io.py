"""Reading plates: half stays half, and only the channels needed are read. Output pixels:
channel layouts and the half conversion."""

import numpy as np
import OpenImageIO as oiio
import pytest

from hosts.exr.errors import BadInputError
from hosts.exr.io import OutputFormat, Plate, matte_pixels, read_header, read_plate
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


def test_rgb_of_reordered_plates(tmp_path):
    pixels = np.random.default_rng(2).random((4, 4, 4)).astype(np.float32)
    spec = oiio.ImageSpec(4, 4, 4, "float")
    spec.channelnames = ("Z", "B", "G", "R")  # what OpenImageIO does not reorder
    assert np.array_equal(Plate(tmp_path, spec, pixels).rgb(), pixels[..., 3:0:-1])
    held = Plate(tmp_path, spec, pixels[..., 1:], first_channel=1)  # read with rgb_only
    assert np.array_equal(held.rgb(), pixels[..., 3:0:-1])


def write_parts(path, parts):
    """A multi-part EXR: ``parts`` is a list of (part name, channel names, (H, W, C) pixels)."""
    specs = []
    for name, channels, pixels in parts:
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], "half")
        spec.channelnames = channels
        spec.attribute("oiio:subimagename", name)
        specs.append(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), specs), out.geterror()
    for i, (_, _, pixels) in enumerate(parts):
        if i:
            assert out.open(str(path), specs[i], "AppendSubimage"), out.geterror()
        assert out.write_image(np.ascontiguousarray(pixels, np.float32)), out.geterror()
    out.close()
    return path


def _pixels(channels, seed=3):
    return np.random.default_rng(seed).random((4, 6, channels)).astype(np.float16)


def test_colour_in_the_second_part_of_a_multipart_exr_is_found(tmp_path):
    rgba = _pixels(4)
    path = write_parts(
        tmp_path / "p.exr", [("depth", ("Z",), _pixels(1)), ("rgba", ("R", "G", "B", "A"), rgba)]
    )
    for rgb_only in (False, True):
        plate = read_plate(path, rgb_only=rgb_only)
        assert np.array_equal(plate.rgb(), rgba[..., :3])
    assert read_header(path).channelnames == ("R", "G", "B", "A")
    assert np.array_equal(read_plate(path, channels="rgba").rgb(), rgba[..., :3])


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([("", ("Z",), 1)], "no channels R, G, B"),
        ([("", ("Y",), 1)], "no channels R, G, B"),
        ([("", ("R", "G"), 2)], "no channels R, G, B"),
        ([("a", ("R", "G", "B"), 3), ("b", ("R", "G", "B"), 3)], "more than one place"),
        ([("", ("rgb.R", "rgb.G", "rgb.B", "diffuse.R", "diffuse.G", "diffuse.B"), 6)], None),
    ],
)
def test_plates_without_one_clear_colour_are_refused_naming_file_and_channels(
    tmp_path, parts, reason
):
    path = write_parts(tmp_path / "p.exr", [(n, c, _pixels(k)) for n, c, k in parts])
    if reason is None:  # the rgb layer is taken first; diffuse only when asked for
        assert np.array_equal(read_plate(path).rgb(), _pixels(6)[..., :3])
        assert np.array_equal(read_plate(path, channels="diffuse").rgb(), _pixels(6)[..., 3:])
        return
    with pytest.raises(BadInputError, match=reason) as error:
        read_plate(path)
    message = str(error.value)
    assert str(path) in message and "--channels" in message
    assert ",".join(parts[-1][1]) in message


def test_channels_can_be_named(tmp_path):
    pixels = _pixels(7)
    names = ("R", "G", "B", "Y", "diffuse.R", "diffuse.G", "diffuse.B")
    path = write_image(tmp_path / "p.exr", pixels.astype(np.float32), channels=names)
    by_name = {n: pixels[..., i] for i, n in enumerate(names)}
    assert np.array_equal(read_plate(path).rgb()[..., 0], by_name["R"])
    diffuse = read_plate(path, channels="diffuse.R,diffuse.G,diffuse.B").rgb()
    assert np.array_equal(diffuse, read_plate(path, channels="diffuse").rgb())
    assert np.array_equal(diffuse[..., 2], by_name["diffuse.B"])
    grey = read_plate(path, rgb_only=True, channels="Y,Y,Y").rgb()
    assert np.array_equal(grey, np.repeat(by_name["Y"][..., None], 3, axis=2))
    with pytest.raises(BadInputError, match="no channels X,Y,Z"):
        read_plate(path, channels="X,Y,Z")


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
