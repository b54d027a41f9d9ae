"""The 2D procedural clip generator and its dataset writers, on tiny frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from training.synthetic import (
    PRESETS,
    ClipConfig,
    SeededClips,
    generate_clip,
    write_evaluation,
    write_videomatte,
)
from training.synthetic.procedural import contact_sheet, main

SIZE = (64, 96)
NO_PHOTOS = ClipConfig(p_photo_background=0.0)


def _edge_band(alpha: np.ndarray) -> np.ndarray:
    """Pixels on the person's outline: within one pixel of the alpha > 0.5 boundary."""
    solid = (alpha > 0.5).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    return (cv2.dilate(solid, kernel) - cv2.erode(solid, kernel)).astype(bool)


def test_same_seed_is_bit_identical_and_seeds_differ():
    a = generate_clip(3, frames=3, size=SIZE)
    b = generate_clip(3, frames=3, size=SIZE)
    c = generate_clip(4, frames=3, size=SIZE)
    for name in ("foreground", "alpha", "background"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.info == b.info
    assert not np.array_equal(a.alpha, c.alpha)
    assert not np.array_equal(a.background, c.background)


def test_longer_clip_extends_shorter_one():
    short = generate_clip(11, frames=2, size=SIZE, config=NO_PHOTOS)
    long = generate_clip(11, frames=4, size=SIZE, config=NO_PHOTOS)
    assert np.array_equal(short.alpha, long.alpha[:2])
    assert np.array_equal(short.foreground, long.foreground[:2])


def test_arrays_have_documented_shapes_types_and_ranges():
    clip = generate_clip(0, frames=2, size=SIZE)
    assert clip.foreground.shape == (2, *SIZE, 3)
    assert clip.alpha.shape == (2, *SIZE)
    assert clip.background.shape == (2, *SIZE, 3)
    for array in (clip.foreground, clip.alpha, clip.background, clip.composite):
        assert array.dtype == np.float32
        assert array.min() >= 0.0 and array.max() <= 1.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5, 8])
def test_alpha_is_fractional_at_edges_with_solid_inside_and_out(seed):
    clip = generate_clip(seed, frames=1, size=(96, 160), config=NO_PHOTOS)
    alpha = clip.alpha[0]
    band = _edge_band(alpha)
    fractional = (alpha > 0.05) & (alpha < 0.95)
    assert fractional[band].mean() > 0.25, clip.info
    # hair strands leave partial alpha away from the solid silhouette too
    assert (fractional & ~band).sum() >= 5, clip.info
    assert (alpha == 0.0).mean() > 0.2
    assert (alpha == 1.0).mean() > 0.05
    assert 0.08 < alpha.mean() < 0.6, "person should fill a plausible part of the frame"


def test_every_hair_style_is_drawn():
    for style in ("short", "long", "wavy", "curly"):
        config = ClipConfig(hair_styles=(style,), p_photo_background=0.0)
        clip = generate_clip(21, frames=1, size=SIZE, config=config)
        assert clip.info.hair_style == style
        assert 0.05 < clip.alpha.mean() < 0.6


def test_composite_is_equation_one():
    clip = generate_clip(6, frames=2, size=SIZE)
    a = clip.alpha[..., None]
    expected = a * clip.foreground + (1 - a) * clip.background
    np.testing.assert_allclose(clip.composite, expected, atol=1e-6)
    outside, inside = clip.alpha == 0, clip.alpha == 1
    assert np.array_equal(clip.composite[outside], clip.background[outside])
    np.testing.assert_allclose(clip.composite[inside], clip.foreground[inside], atol=1e-6)


def test_foreground_colour_is_defined_where_alpha_is_zero():
    clip = generate_clip(2, frames=1, size=SIZE, config=NO_PHOTOS)
    assert np.isfinite(clip.foreground).all()
    # outside the matte the colour is the person's, spread smoothly: no black or empty border
    outside = clip.foreground[0][clip.alpha[0] == 0]
    assert outside.std(axis=0).max() < 0.35
    assert outside.mean() > 0.02


def test_occluder_cuts_alpha_and_belongs_to_background():
    # components draw from independent streams, so the same seed differs only by the occluder
    base = ClipConfig(p_occluder=0.0, p_fast_motion=0.0, p_photo_background=0.0)
    with_occluder = ClipConfig(p_occluder=1.0, p_fast_motion=0.0, p_photo_background=0.0)
    for seed in range(12):
        clear = generate_clip(seed, frames=6, size=SIZE, config=base)
        occluded = generate_clip(seed, frames=6, size=SIZE, config=with_occluder)
        assert occluded.info.occluder is not None
        assert (occluded.alpha <= clear.alpha + 1e-6).all()
        cut = occluded.alpha < clear.alpha - 0.5
        if cut.any():
            # where the person is hidden the picture shows the occluder, painted into the background
            assert np.abs(occluded.background[cut] - clear.background[cut]).mean() > 0.02
            assert np.abs(occluded.composite[cut] - clear.composite[cut]).mean() > 0.02
            return
    pytest.fail("no seed in 0..11 sent the occluder across the person")


def test_motion_is_smooth_but_present():
    for seed in (1, 4, 7):
        clip = generate_clip(seed, frames=5, size=SIZE, config=PRESETS["calm"])
        step = np.abs(np.diff(clip.composite, axis=0)).mean(axis=(1, 2, 3))
        assert (step > 1e-4).all(), f"seed {seed}: frames should move"
        assert (step < 0.05).all(), f"seed {seed}: consecutive frames should be similar"
        a, b = clip.alpha[:-1] > 0.5, clip.alpha[1:] > 0.5
        iou = (a & b).sum(axis=(1, 2)) / (a | b).sum(axis=(1, 2))
        assert (iou > 0.8).all()


def test_fast_motion_blurs_the_matte():
    calm = ClipConfig(p_fast_motion=0.0, p_occluder=0.0, p_photo_background=0.0)
    fast = ClipConfig(p_fast_motion=1.0, p_occluder=0.0, p_photo_background=0.0)
    blurred, sharp = [], []
    for seed in range(4):
        for config, out in ((calm, sharp), (fast, blurred)):
            clip = generate_clip(seed, frames=4, size=SIZE, config=config)
            out.append(((clip.alpha > 0.05) & (clip.alpha < 0.95)).mean())
    assert np.mean(blurred) > 1.3 * np.mean(sharp)


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="seed"):
        generate_clip(-1, frames=1, size=SIZE)
    with pytest.raises(ValueError, match="frames"):
        generate_clip(0, frames=0, size=SIZE)
    with pytest.raises(ValueError, match="size"):
        generate_clip(0, frames=1, size=(8, 8))
    with pytest.raises(ValueError, match="hair_styles"):
        ClipConfig(hair_styles=("mohawk",))


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_videomatte_layout_tree_and_pixels(tmp_path):
    root = tmp_path / "vm"
    clips = [generate_clip(s, frames=2, size=(32, 48)) for s in (0, 1)]
    clips.append(generate_clip(2, frames=2, size=(32, 48)))
    written = write_videomatte(root, clips, valid_fraction=1 / 3)
    assert [(w.split, w.name) for w in written] == [
        ("train", "0000"),
        ("train", "0001"),
        ("valid", "0000"),
    ]
    expected = {
        f"{split}/{kind}/{clip}/{frame}.jpg"
        for split, clip in (("train", "0000"), ("train", "0001"), ("valid", "0000"))
        for kind in ("fgr", "pha")
        for frame in ("0000", "0001")
    }
    assert _tree(root) == expected
    bg_root = tmp_path / "vm_bg"
    assert _tree(bg_root) == {
        f"{split}/{clip}/{frame}.jpg"
        for split, clip in (("train", "0000"), ("train", "0001"), ("valid", "0000"))
        for frame in ("0000", "0001")
    }
    clip = clips[1]
    fgr = cv2.imread(str(root / "train/fgr/0001/0001.jpg"), cv2.IMREAD_UNCHANGED)
    pha = cv2.imread(str(root / "train/pha/0001/0001.jpg"), cv2.IMREAD_UNCHANGED)
    bgr = cv2.imread(str(bg_root / "train/0001/0001.jpg"), cv2.IMREAD_UNCHANGED)
    assert fgr.shape == (32, 48, 3) and bgr.shape == (32, 48, 3)
    assert pha.shape == (32, 48) and pha.dtype == np.uint8
    # JPEG is lossy; RGB order must survive the BGR file
    rgb = fgr[..., ::-1].astype(np.float32) / 255
    solid = clip.alpha[1] > 0.99
    error = np.abs(rgb - clip.foreground[1])[solid].mean()
    swapped = np.abs(rgb[..., ::-1] - clip.foreground[1])[solid].mean()
    assert error < 0.04 and error < swapped
    assert np.abs(pha.astype(np.float32) / 255 - clip.alpha[1]).mean() < 0.02
    assert np.abs(bgr[..., ::-1].astype(np.float32) / 255 - clip.background[1]).mean() < 0.04


def test_videomatte_png_alpha_is_lossless(tmp_path):
    clip = generate_clip(5, frames=1, size=(32, 48))
    write_videomatte(tmp_path / "vm", [clip], valid_fraction=0.0, alpha_format="png")
    pha = cv2.imread(str(tmp_path / "vm/train/pha/0000/0000.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(pha, np.rint(clip.alpha[0] * 255).astype(np.uint8))
    assert not (tmp_path / "vm/valid").exists()


def test_videomatte_tree_loads_in_the_training_reader(tmp_path):
    from training.data import BackgroundVideos, VideoMatteDataset

    clips = SeededClips([0, 1], frames=3, size=(32, 48))
    write_videomatte(tmp_path / "vm", clips, valid_fraction=0.5)
    dataset = VideoMatteDataset(
        tmp_path / "vm",
        "train",
        background=BackgroundVideos(tmp_path / "vm_bg" / "train"),
        clip_length=3,
        size=(32, 48),
    )
    item = dataset[0]
    assert item.fgr.shape == (3, 3, 32, 48)
    assert item.pha.shape == (3, 1, 32, 48)
    assert 0.0 < float(item.pha.mean()) < 1.0


def test_evaluation_layout_is_lossless_png(tmp_path):
    root = tmp_path / "eval"
    written = write_evaluation(root, SeededClips([7, 8], frames=2, size=(32, 48)))
    assert [w.name for w in written] == ["0000", "0001"]
    assert _tree(root) == {
        f"{clip}/{kind}/{frame}.png"
        for clip in ("0000", "0001")
        for kind in ("com", "pha", "fgr")
        for frame in ("0000", "0001")
    }
    clip = generate_clip(8, frames=2, size=(32, 48))
    com = cv2.imread(str(root / "0001/com/0001.png"), cv2.IMREAD_UNCHANGED)
    pha = cv2.imread(str(root / "0001/pha/0001.png"), cv2.IMREAD_UNCHANGED)
    fgr = cv2.imread(str(root / "0001/fgr/0001.png"), cv2.IMREAD_UNCHANGED)
    to8 = lambda x: np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)  # noqa: E731
    assert np.array_equal(com[..., ::-1], to8(clip.composite[1]))
    assert np.array_equal(pha, to8(clip.alpha[1]))
    assert np.array_equal(fgr[..., ::-1], to8(clip.foreground[1]))


def test_cli_writes_evaluation_layout_and_contact_sheet(tmp_path, capsys):
    out = tmp_path / "eval"
    sheet = tmp_path / "sheet.png"
    argv = ["--out", str(out), "--clips", "2", "--frames", "2", "--size", "48x32"]
    assert main([*argv, "--seed", "4", "--layout", "evaluation"]) == 0
    assert _tree(out) == {
        f"{clip}/{kind}/{frame}.png"
        for clip in ("0000", "0001")
        for kind in ("com", "pha", "fgr")
        for frame in ("0000", "0001")
    }
    assert "wrote 2 clips" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--out", str(out), "--size", "288by512"])
    image = contact_sheet(sheet, [0, 1], size=(32, 48), frame=1)
    assert image.shape == (2 * 34, 4 * 50, 3)
    assert cv2.imread(str(sheet)).shape == image.shape
