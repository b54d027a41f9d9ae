"""The Blender-rendered generator: seeded scene descriptions, tiny Cycles renders, the dataset
layouts, resuming, and the sample-shot EXRs."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.synthetic.rendered import clip_place, split_render, to_display
from training.synthetic.rendered_hair import grow_hair
from training.synthetic.rendered_spec import RenderSettings, sample_room, sample_scene

SIZE = (48, 64)
TINY = RenderSettings(samples=4, strand_scale=0.3)
LONG_HAIR_SEED = 3  # wavy shoulder-length hair


def _needs_bpy():
    pytest.importorskip("bpy")


def test_scene_and_room_are_pure_functions_of_the_seed():
    assert sample_scene(5) == sample_scene(5)
    assert sample_room(5) == sample_room(5)
    assert sample_scene(5) != sample_scene(6)
    assert sample_room(5) != sample_room(6)
    a, b = grow_hair(sample_scene(5).figure, 0.2), grow_hair(sample_scene(5).figure, 0.2)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.radius, b.radius)
    assert {0, 1, 2} <= set(np.unique(a.kind).tolist())  # scalp hair, flyaways, eyebrows


def test_seeds_cover_every_hair_style_and_neckline():
    specs = [sample_scene(s) for s in range(80)]
    assert {s.figure.hair.style for s in specs} == {
        "short",
        "long",
        "wavy",
        "curly",
        "bob",
        "ponytail",
    }
    assert {s.figure.clothing.neckline for s in specs} == {
        "crew",
        "v",
        "scoop",
        "boat",
        "turtleneck",
    }


def test_sample_scene_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seed"):
        sample_scene(-1)
    with pytest.raises(ValueError, match="seed"):
        sample_room(True)


def test_split_render_unpremultiplies_to_straight_srgb():
    rng = np.random.default_rng(0)
    colour = rng.uniform(0.05, 0.6, (8, 8, 3)).astype(np.float32)
    alpha = rng.uniform(0.05, 1.0, (8, 8)).astype(np.float32)
    alpha[0, 0] = 0.0
    rgba = np.concatenate([colour * alpha[..., None], alpha[..., None]], axis=2)
    fg, a = split_render(rgba)
    assert np.array_equal(a, alpha)
    inside = alpha > 0.01
    assert np.allclose(fg[inside], to_display(colour)[inside], atol=1e-4)
    assert np.isfinite(fg).all() and fg.min() >= 0.0 and fg.max() <= 1.0


def test_display_transform_is_srgb_with_a_highlight_shoulder():
    x = np.array([0.0, 0.0031308, 0.18, 0.8, 2.0, 100.0], np.float32)
    y = to_display(x)
    assert y[0] == 0.0 and abs(y[2] - 0.4613) < 1e-3  # sRGB of 18 % grey
    assert np.all(np.diff(y) > 0) and y[-1] <= 1.0
    assert abs(to_display(np.float32(0.09), exposure=1.0) - y[2]) < 1e-3


def test_clip_places_are_stable_as_clips_are_added():
    places = [clip_place(i, 0.25) for i in range(12)]
    assert [p for p in places if p[0] == "valid"] == [("valid", f"{k:04d}") for k in range(3)]
    assert [p for p in places if p[0] == "train"] == [("train", f"{k:04d}") for k in range(9)]
    assert clip_place(0, 0.0) == ("train", "0000")


@pytest.mark.blender
def test_render_has_fractional_hair_alpha_and_is_deterministic():
    _needs_bpy()
    from training.synthetic.rendered import render_clip

    got = []
    for _ in range(2):
        render_clip(LONG_HAIR_SEED, [1], SIZE, TINY, lambda t, fg, a: got.append((fg, a)))
    (fg, alpha), (fg2, alpha2) = got
    assert np.array_equal(alpha, alpha2) and np.array_equal(fg, fg2)
    assert fg.shape == (*SIZE, 3) and alpha.shape == SIZE
    assert (alpha == 0).mean() > 0.2 and (alpha == 1).mean() > 0.1
    # strand hair leaves many partly covered pixels around the head
    head = alpha[: SIZE[0] // 2]
    assert ((head > 0.05) & (head < 0.95)).sum() > 20


@pytest.mark.blender
def test_fast_clip_edges_are_motion_blurred():
    _needs_bpy()
    from training.synthetic.rendered import render_clip

    assert sample_scene(8).motion.fast
    soft = {}
    for blur in (True, False):
        settings = RenderSettings(samples=4, strand_scale=0.1, motion_blur=blur)
        got = []
        render_clip(8, [5], (72, 128), settings, lambda t, fg, a, got=got: got.append(a))
        body = got[0][36:]  # below the hair: only the moving body outline is fractional
        soft[blur] = int(((body > 0.05) & (body < 0.95)).sum())
    assert soft[True] > 1.2 * soft[False]


@pytest.mark.blender
def test_videomatte_layout_with_plates_resumes(tmp_path: Path):
    _needs_bpy()
    from training.synthetic.rendered import write_rendered

    root = tmp_path / "vm"
    kwargs = dict(clips=2, frames=2, size=SIZE, seed=3, settings=TINY, valid_fraction=0.5)
    n, _ = write_rendered(root, backgrounds=1, quiet=True, **kwargs)
    assert n == 2 * 2 + 1
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jpg"))
    assert files == [
        "vm/train/fgr/0000/0000.jpg", "vm/train/fgr/0000/0001.jpg",
        "vm/train/pha/0000/0000.jpg", "vm/train/pha/0000/0001.jpg",
        "vm/valid/fgr/0000/0000.jpg", "vm/valid/fgr/0000/0001.jpg",
        "vm/valid/pha/0000/0000.jpg", "vm/valid/pha/0000/0001.jpg",
        "vm_bg/images/0000.jpg",
    ]  # fmt: skip
    fg = cv2.imread(str(root / "train/fgr/0000/0000.jpg"))
    pha = cv2.imread(str(root / "train/pha/0000/0000.jpg"), cv2.IMREAD_GRAYSCALE)
    assert fg.shape == (*SIZE, 3) and pha.shape == SIZE and pha.max() > 250 and pha.min() < 5

    from training.data import BackgroundImages, VideoMatteDataset

    dataset = VideoMatteDataset(root, "train", clip_length=2, size=SIZE,
                                background=BackgroundImages(tmp_path / "vm_bg" / "images"))  # fmt: skip
    item = dataset[0]
    assert item.fgr.shape == (2, 3, *SIZE) and 0.0 < float(item.pha.mean()) < 1.0

    kept = root / "train/fgr/0000/0000.jpg"
    stamp = kept.stat().st_mtime_ns
    (root / "valid/pha/0000/0001.jpg").unlink()
    n, _ = write_rendered(root, backgrounds=1, quiet=True, **kwargs)
    assert n == 1  # only the missing frame
    assert (root / "valid/pha/0000/0001.jpg").exists()
    assert kept.stat().st_mtime_ns == stamp
    assert write_rendered(root, backgrounds=1, quiet=True, **kwargs)[0] == 0

    with pytest.raises(SystemExit, match="samples: 4 before, 8 now"):
        write_rendered(root, **{**kwargs, "settings": dataclasses.replace(TINY, samples=8)})


@pytest.mark.blender
def test_evaluation_layout_composites_person_over_room(tmp_path: Path):
    _needs_bpy()
    from training.synthetic.rendered import write_rendered

    write_rendered(tmp_path, clips=1, frames=1, size=SIZE, seed=LONG_HAIR_SEED,
                   settings=TINY, layout="evaluation", quiet=True)  # fmt: skip
    clip = tmp_path / "0000"
    assert sorted(os.listdir(clip)) == ["bgr", "com", "fgr", "pha"]
    read = {k: cv2.imread(str(clip / k / "0000.png"), cv2.IMREAD_UNCHANGED) / 255.0
            for k in ("com", "fgr", "pha", "bgr")}  # fmt: skip
    a = read["pha"][..., None]
    expected = a * read["fgr"] + (1 - a) * read["bgr"]
    assert np.abs(read["com"] - expected).max() <= 1.0 / 255 + 1e-6
    assert not np.allclose(read["bgr"], read["bgr"].mean())  # a room, not a flat colour


@pytest.mark.blender
def test_sample_shot_is_compressed_half_float_scene_linear(tmp_path: Path):
    _needs_bpy()
    import OpenImageIO as oiio

    from training.synthetic.rendered import render_sample_shot

    plates = render_sample_shot(tmp_path, LONG_HAIR_SEED, frames=2, size=(32, 48),
                                settings=RenderSettings(samples=2, strand_scale=0.2),
                                quiet=True)  # fmt: skip
    assert [p.name for p in plates] == ["plate.1001.exr", "plate.1002.exr"]
    assert sorted(os.listdir(tmp_path)) == [
        "matte.1001.exr",
        "matte.1002.exr",
        "plate.1001.exr",
        "plate.1002.exr",
    ]
    for name, channels in (("plate.1001.exr", ("R", "G", "B")), ("matte.1001.exr", ("A",))):
        image = oiio.ImageBuf(str(tmp_path / name))
        spec = image.spec()
        assert spec.format == oiio.HALF and tuple(spec.channelnames) == channels
        assert spec.get_string_attribute("compression").startswith("dwa")
        chroma = spec.getattribute("chromaticities")  # Rec.709 primaries: scene-linear 709
        assert np.allclose(chroma, (0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329), atol=1e-6)
    plate = oiio.ImageBuf(str(tmp_path / "plate.1001.exr")).get_pixels(oiio.FLOAT)
    matte = oiio.ImageBuf(str(tmp_path / "matte.1001.exr")).get_pixels(oiio.FLOAT)
    assert plate.min() > -1e-3 and 0.0 < plate.mean() < 1.5  # radiance (DWAA is lossy)
    assert (matte == 0).any() and (matte == 1).any() and ((matte > 0) & (matte < 1)).any()
    stamp = plates[0].stat().st_mtime_ns
    render_sample_shot(tmp_path, LONG_HAIR_SEED, frames=2, size=(32, 48), quiet=True)
    assert plates[0].stat().st_mtime_ns == stamp  # existing frames are kept
