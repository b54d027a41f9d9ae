"""What an output's colour means, read back the way a host reads it: OpenImageIO's colour
config, the header's ``oiio:ColorSpace``, straight or premultiplied alpha; and ``--rgb``.

Colour space names checked against the Color Interop Forum names that OpenImageIO 3.0's
built-in config knows: ``lin_rec709_scene`` (Linear Rec.709 (sRGB)) and
``srgb_rec709_scene`` (sRGB Encoded Rec.709 (sRGB)).
"""

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from core import MattingSession
from core.weights import load_network
from hosts.exr import UsageError, process_shot
from hosts.exr.colour import conversion, is_linear, output_space
from hosts.exr.io import read_plate, read_stamp
from tests.hosts.exr.images import read_pixels, write_shot

LINEAR = "lin_rec709_scene"
SRGB = "srgb_rec709_scene"


def _run(plates: Path, out: Path, weights: Path, **kwargs):
    return process_shot(str(plates), str(out), weights=weights, device="cpu", **kwargs)


def _network(paths: list[Path], weights: Path, space: str) -> list:
    """The session's results on the plates as the processor feeds them (sRGB for the
    network): (alpha, foreground in sRGB) per frame."""
    conv = conversion(space)
    frames = [conv.to_network(read_plate(p).rgb()) for p in paths]
    session = MattingSession(frames, weights=load_network(weights), device="cpu")
    return [(r.alpha, r.foreground) for r in session]


def _read(path: Path, straight: bool = False) -> tuple[oiio.ImageSpec, np.ndarray]:
    """A file as a host reads it; ``straight``: without OpenImageIO premultiplying a PNG's or
    an unassociated TIFF's colour."""
    config = oiio.ImageSpec()
    if straight:
        config.attribute("oiio:UnassociatedAlpha", 1)
    inp = oiio.ImageInput.open(str(path), config)
    assert inp is not None, oiio.geterror()
    spec = oiio.ImageSpec(inp.spec())
    pixels = inp.read_image(oiio.FLOAT)
    inp.close()
    return spec, pixels


def _to(rgb: np.ndarray, source: str, target: str) -> np.ndarray:
    """Converts with OpenImageIO's own colour config, as a host would."""
    buf = oiio.ImageBuf(oiio.ImageSpec(rgb.shape[1], rgb.shape[0], 3, oiio.FLOAT))
    buf.set_pixels(oiio.ROI.All, np.ascontiguousarray(rgb, np.float32))
    assert oiio.ImageBufAlgo.colorconvert(buf, buf, source, target), buf.geterror()
    return buf.get_pixels(oiio.FLOAT)


def _same_space(a: str, b: str) -> bool:
    return a == b or bool(oiio.ColorConfig().equivalent(a, b))


@pytest.fixture
def png_shot(tmp_path: Path) -> tuple[list[Path], Path]:
    paths = write_shot(tmp_path / "in", 3, ext=".png", pixel_type="uint8")
    return paths, tmp_path / "in/plate.####.png"


def test_the_built_in_config_knows_the_interop_names():
    config = oiio.ColorConfig()
    assert config.getColorSpaceIndex(LINEAR) >= 0 and config.getColorSpaceIndex(SRGB) >= 0
    assert _same_space(LINEAR, "lin_rec709") and _same_space(SRGB, "srgb_tx")
    assert is_linear(LINEAR) and is_linear("ACEScg") and not is_linear(SRGB)
    assert not is_linear("ACEScct")
    assert output_space("ACEScg", ".exr") == "ACEScg"
    assert _same_space(output_space(SRGB, ".exr"), LINEAR)
    assert output_space(SRGB, ".png") == SRGB


def test_png_plates_give_scene_linear_exrs_whose_header_says_so(png_shot, tmp_path, weights):
    paths, plates = png_shot
    _run(plates, tmp_path / "out/m.####.exr", weights, premultiplied=False, pixel_type="float")
    expected = _network(paths, weights, "sRGB")
    spec, px = _read(tmp_path / "out/m.1002.exr")
    declared = spec.get_string_attribute("oiio:ColorSpace")
    assert _same_space(declared, LINEAR)
    alpha, foreground = expected[1]
    assert np.array_equal(px[..., 3], alpha)
    # Back to sRGB through the header's space: the network's foreground.
    assert np.abs(_to(px[..., :3], declared, SRGB) - foreground).max() < 1e-4
    # And the values are decoded, not sRGB-encoded numbers in a linear file.
    mid = (foreground > 0.3) & (foreground < 0.7)
    assert mid.sum() > 100
    assert np.abs(px[..., :3][mid] - foreground[mid]).min() > 0.05


def test_rgb_plate_is_the_plates_own_pixels_times_alpha(png_shot, tmp_path, weights):
    paths, plates = png_shot
    _run(plates, tmp_path / "out/m.####.exr", weights, rgb="plate", pixel_type="float")
    spec, px = _read(tmp_path / "out/m.1003.exr")
    plate = read_plate(paths[2]).rgb()
    alpha = px[..., 3:]
    linear = _to(plate, SRGB, spec.get_string_attribute("oiio:ColorSpace"))
    assert np.abs(px[..., :3] - linear * alpha).max() < 1e-5
    assert read_stamp(tmp_path / "out/m.1003.exr")["rgb"] == "plate"


def test_exr_plates_keep_their_space_and_rgb_plate_is_plate_times_alpha(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 3, pixel_type="float")
    _run(tmp_path / "in/plate.####.exr", tmp_path / "out/m.####.exr", weights, rgb="plate")
    _, px = read_pixels(tmp_path / "out/m.1002.exr")
    plate = read_plate(paths[1]).rgb()
    premultiplied = (plate * px[..., 3:]).astype(np.float16).astype(np.float32)
    assert np.abs(px[..., :3] - premultiplied).max() <= 2e-3


def test_png_output_keeps_the_plates_encoding_in_16_bits_straight(png_shot, tmp_path, weights):
    paths, plates = png_shot
    _run(plates, tmp_path / "out/m.####.png", weights)
    expected = _network(paths, weights, "sRGB")
    spec, px = _read(tmp_path / "out/m.1001.png", straight=True)
    assert spec.format == oiio.TypeDesc("uint16") and spec.nchannels == 4
    assert _same_space(spec.get_string_attribute("oiio:ColorSpace"), SRGB)
    alpha, foreground = expected[0]
    # Straight colour (PNG has no other kind), the network's sRGB foreground in 16 bits.
    assert np.abs(px[..., :3] - foreground).max() <= 0.5 / 65535 + 1e-6
    assert np.abs(px[..., 3] - alpha).max() <= 0.5 / 65535 + 1e-6
    # --rgb plate: the plate's own 8-bit values, exactly (65535 = 257 x 255).
    _run(plates, tmp_path / "plate/m.####.png", weights, rgb="plate")
    _, px = _read(tmp_path / "plate/m.1001.png", straight=True)
    assert np.array_equal(np.round(px[..., :3] * 255), np.round(read_plate(paths[0]).rgb() * 255))


def test_tiff_output_is_premultiplied_srgb_and_resumes(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 3)
    out = tmp_path / "out/m.####.tif"
    _run(tmp_path / "in/plate.####.exr", out, weights)
    expected = _network(paths, weights, "lin_rec709")
    spec, px = _read(tmp_path / "out/m.1002.tif")
    assert spec.format == oiio.TypeDesc("uint16")
    # The TIFF reader names only sRGB; the plate is scene-linear, so the TIFF is sRGB.
    assert _same_space(spec.get_string_attribute("oiio:ColorSpace"), SRGB)
    alpha, foreground = expected[1]
    assert np.abs(px[..., :3] - foreground * alpha[..., None]).max() <= 1 / 65535
    stamp = read_stamp(tmp_path / "out/m.1002.tif")
    assert stamp["premultiplied"] is True and stamp["pixel_type"] == "uint16"
    report = _run(tmp_path / "in/plate.####.exr", out, weights, resume=True)
    assert report.skipped == (1001, 1002, 1003) and report.written == ()


def test_layers_need_an_exr_output(png_shot, tmp_path, weights):
    _, plates = png_shot
    with pytest.raises(UsageError, match=r"--layers writes multi-channel EXRs"):
        _run(plates, tmp_path / "out/m.####.png", weights, layout="layers")
    with pytest.raises(UsageError, match=r"--rgb plate"):
        _run(plates, tmp_path / "out/m.####.exr", weights, layout="alpha", rgb="plate")


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_alpha_only_integer_outputs_are_a_grey_matte(png_shot, tmp_path, weights, ext):
    paths, plates = png_shot
    _run(plates, tmp_path / f"out/m.####{ext}", weights, layout="alpha")
    alpha = _network(paths, weights, "sRGB")[2][0]
    spec, px = _read(tmp_path / f"out/m.1003{ext}")
    assert spec.nchannels == 1 and spec.format == oiio.TypeDesc("uint16")
    assert float(alpha.std()) > 0.05
    assert np.abs(px[..., 0] - alpha).max() <= 0.5 / 65535 + 1e-6
