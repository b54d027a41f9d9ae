"""Dataset readers on tiny trees in each public layout, and the video augmentation.

Frames encode their index in their pixel values (a flat grey of 10 + 30 k), so alignment and
ordering can be read back from the returned tensors.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from training.data import (
    AISegmentDataset,
    AugmentationConfig,
    BackgroundImages,
    BackgroundMix,
    BackgroundVideos,
    CocoPanopticPersonDataset,
    ColourJitter,
    DatasetLayoutError,
    FrameSampling,
    ImageMatteDataset,
    MattingClip,
    SegmentationClip,
    SuperviselyPersonDataset,
    VideoMatteDataset,
    VideoMatting108Dataset,
    YouTubeVISDataset,
    augment_matting,
    composite,
)
from training.data.affine import SMOOTH_EASINGS, AffineRange, easing_curve
from training.data.masks import decode_rle, rle_counts_from_string
from training.data.photometric import adjust_colour
from training.data.sampling import reflect_indices, sample_frame_indices

SRC = (32, 40)  # source frames (H, W)
OUT = (24, 32)  # reader output (H, W); centre crop of a cover-resize, exact for flat frames
NONE = AugmentationConfig.none()
TOL = 3 / 255  # JPEG on flat grey


def grey(k: int, clip: int = 0) -> int:
    return 10 + 30 * k + 120 * clip


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    assert cv2.imwrite(str(path), image)
    return path


def flat(value: int, channels: int = 3, size: tuple[int, int] = SRC) -> np.ndarray:
    shape = (*size, channels) if channels > 1 else size
    return np.full(shape, value, np.uint8)


def frame_values(clip: torch.Tensor) -> list[float]:
    """Mean of each frame, in 0-255 units."""
    return [round(v * 255, 1) for v in clip.float().mean(dim=(1, 2, 3)).tolist()]


def assert_frames(clip: torch.Tensor, expected: list[int]) -> None:
    np.testing.assert_allclose(clip.mean(dim=(1, 2, 3)).numpy() * 255, expected, atol=TOL * 255)


def make_videomatte(root: Path, clips: int = 2, frames: int = 4, split: str = "train") -> Path:
    for c in range(clips):
        for k in range(frames):
            write(root / split / "fgr" / f"{c:04d}" / f"{k:05d}.jpg", flat(grey(k, c)))
            write(root / split / "pha" / f"{c:04d}" / f"{k:05d}.jpg", flat(grey(k, c), 1))
    return root


def make_bg_images(root: Path) -> BackgroundImages:
    write(root / "a.png", flat(77, size=(36, 50)))
    return BackgroundImages(root)


def make_bg_videos(root: Path, frames: int = 6) -> BackgroundVideos:
    for k in range(frames):
        write(root / "clip0" / f"{k:04d}.png", flat(grey(k), size=(30, 44)))
    return BackgroundVideos(root)


# ----------------------------------------------------------------------------- VideoMatte240K


def test_videomatte_returns_aligned_frames_in_order(tmp_path):
    ds = VideoMatteDataset(
        make_videomatte(tmp_path / "vm"),
        background=make_bg_images(tmp_path / "bg"),
        clip_length=4,
        size=OUT,
        augmentation=NONE,
    )
    assert len(ds) == 2
    for c in range(2):
        item = ds[c]
        assert isinstance(item, MattingClip)
        assert item.fgr.shape == (4, 3, *OUT) and item.fgr.dtype == torch.float32
        assert item.pha.shape == (4, 1, *OUT)
        assert item.bgr.shape == (4, 3, *OUT)
        expected = [grey(k, c) for k in range(4)]
        assert_frames(item.fgr, expected)
        assert_frames(item.pha, expected)  # pha frame k belongs to fgr frame k
        assert_frames(item.bgr, [77] * 4)


def test_videomatte_items_step_by_clip_length_and_wrap_by_reflection(tmp_path):
    ds = VideoMatteDataset(
        make_videomatte(tmp_path / "vm", clips=1, frames=4),
        background=make_bg_images(tmp_path / "bg"),
        clip_length=3,
        size=OUT,
        augmentation=NONE,
    )
    assert len(ds) == 2  # anchors 0 and 3
    assert_frames(ds[1].fgr, [grey(3), grey(2), grey(1)])  # past the end it plays back


def test_reverse_playback_and_background_video_order(tmp_path):
    aug = AugmentationConfig(frames=FrameSampling(reverse_prob=1.0))
    ds = VideoMatteDataset(
        make_videomatte(tmp_path / "vm", clips=1),
        background=make_bg_videos(tmp_path / "bgv", frames=4),
        clip_length=4,
        size=OUT,
        augmentation=aug,
    )
    item = ds[0]
    assert_frames(item.fgr, [grey(k) for k in (3, 2, 1, 0)])
    assert_frames(item.pha, [grey(k) for k in (3, 2, 1, 0)])
    # Background videos are sampled with the same rules: 4 consecutive frames, reversed.
    values = frame_values(item.bgr)
    assert values == sorted(values, reverse=True) and values[0] - values[-1] > 80


def test_frame_sampler_speed_reverse_and_reflection():
    rng = np.random.default_rng(0)
    assert sample_frame_indices(rng, 10, 4, 0, FrameSampling(speeds=(2.0,))) == [0, 2, 4, 6]
    assert sample_frame_indices(rng, 10, 4, 1, FrameSampling(speeds=(0.5,))) == [1, 1, 2, 2]
    backwards = FrameSampling(speeds=(3.0,), reverse_prob=1.0)
    assert sample_frame_indices(rng, 10, 3, 0, backwards) == [6, 3, 0]
    assert reflect_indices(np.arange(8), 4).tolist() == [0, 1, 2, 3, 2, 1, 0, 1]
    assert reflect_indices(np.arange(3), 1).tolist() == [0, 0, 0]


def test_train_augmentation_is_seeded(tmp_path):
    root = make_videomatte(tmp_path / "vm")
    bg = BackgroundMix([make_bg_images(tmp_path / "bg"), make_bg_videos(tmp_path / "bgv")])

    def build(seed: int) -> VideoMatteDataset:
        return VideoMatteDataset(
            root,
            background=bg,
            clip_length=4,
            size=OUT,
            augmentation=AugmentationConfig.video_train(),
            seed=seed,
        )

    ds = build(3)
    a, b, c = ds[1], ds[1], build(3)[1]
    for x, y, z in zip(a, b, c, strict=True):
        assert torch.equal(x, y) and torch.equal(x, z)
    for t in a:
        assert t.min() >= 0 and t.max() <= 1 and torch.isfinite(t).all()
    assert not torch.equal(a.fgr, build(4)[1].fgr)
    ds.set_epoch(1)
    assert not torch.equal(a.fgr, ds[1].fgr)
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_items_collate_into_batches(tmp_path):
    ds = VideoMatteDataset(
        make_videomatte(tmp_path / "vm"),
        background=make_bg_images(tmp_path / "bg"),
        clip_length=2,
        size=OUT,
        augmentation=AugmentationConfig.video_train(),
    )
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert isinstance(batch, MattingClip)
    assert batch.fgr.shape == (3, 2, 3, *OUT) and batch.pha.shape == (3, 2, 1, *OUT)


def test_videomatte_layout_errors(tmp_path):
    bg = make_bg_images(tmp_path / "bg")
    root = make_videomatte(tmp_path / "vm")

    def build(r: Path = root) -> VideoMatteDataset:
        return VideoMatteDataset(r, background=bg, clip_length=2, size=OUT)

    (root / "train" / "pha" / "0001" / "00003.jpg").unlink()
    with pytest.raises(DatasetLayoutError) as e:
        build()
    msg = str(e.value)
    assert msg.startswith("VideoMatte240K: expected <root>/train/fgr/<clip>/*.jpg and matching")
    assert f"{root / 'train' / 'pha' / '0001'} has 3 frames but fgr has 4" in msg

    write(root / "train" / "pha" / "0001" / "00009.jpg", flat(1, 1))
    with pytest.raises(DatasetLayoutError, match=r"00009.jpg does not match fgr frame"):
        build()

    for f in (root / "train" / "pha" / "0001").iterdir():
        f.unlink()
    (root / "train" / "pha" / "0001").rmdir()
    with pytest.raises(DatasetLayoutError, match=r"pha/0001 does not exist"):
        build()

    empty = tmp_path / "empty"
    (empty / "train" / "fgr").mkdir(parents=True)
    (empty / "train" / "pha").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match=r"train/fgr has no clip folders$"):
        build(empty)
    (empty / "train" / "fgr" / "0000.mp4").write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match="found 1 video files"):
        build(empty)

    with pytest.raises(DatasetLayoutError, match=r"nowhere does not exist"):
        build(tmp_path / "nowhere")
    no_pha = make_videomatte(tmp_path / "vm2", clips=1)
    for f in (no_pha / "train" / "pha" / "0000").iterdir():
        f.unlink()
    (no_pha / "train" / "pha" / "0000").rmdir()
    (no_pha / "train" / "pha").rmdir()
    with pytest.raises(DatasetLayoutError, match=r"train/pha does not exist"):
        build(no_pha)


def test_clip_with_frames_of_different_sizes_names_the_frame(tmp_path):
    root = make_videomatte(tmp_path / "vm", clips=1)
    write(root / "train" / "fgr" / "0000" / "00002.jpg", flat(50, size=(20, 20)))
    write(root / "train" / "pha" / "0000" / "00002.jpg", flat(50, 1, size=(20, 20)))
    ds = VideoMatteDataset(
        root, background=make_bg_images(tmp_path / "bg"), clip_length=4, size=OUT
    )
    with pytest.raises(DatasetLayoutError, match=r"fgr/0000/00002.jpg: size 20x20 differs"):
        ds[0]


# ----------------------------------------------------------------------------- VideoMatting108


def make_vm108(root: Path) -> Path:
    corr = {}
    for c, clip in enumerate(["clipA", "clipB"]):
        for k in range(4):
            rgba = np.dstack([flat(grey(k, c)), flat(grey(k, c), 1)])
            rgba[..., 1] = 255 - grey(k, c)  # colour differs from alpha: A must be the matte
            write(root / "FG_done" / clip / f"{k:05d}.png", rgba)
            # Paired backgrounds in reverse order, to tell pairing from listing order.
            bg_name = f"bg{c}/{3 - k:05d}.jpg"
            write(root / "BG_done" / bg_name, flat(grey(3 - k), size=(30, 44)))
            corr[f"{clip}/{k:05d}.png"] = bg_name
    (root / "frame_corr.json").write_text(json.dumps(corr))
    (root / "train_videos.txt").write_text("clipA\nclipB\n")
    (root / "val_videos.txt").write_text("clipB\n")
    return root


def test_videomatting108_reads_rgba_and_paired_backgrounds(tmp_path):
    root = make_vm108(tmp_path / "vm108")
    ds = VideoMatting108Dataset(root, "train", clip_length=4, size=OUT, augmentation=NONE)
    assert len(ds) == 2
    item = ds[1]
    assert_frames(item.pha, [grey(k, 1) for k in range(4)])
    assert_frames(item.fgr[:, :1], [grey(k, 1) for k in range(4)])  # R of the RGBA
    assert_frames(item.fgr[:, 1:2], [255 - grey(k, 1) for k in range(4)])
    assert_frames(item.bgr, [grey(3 - k) for k in range(4)])  # frame_corr, not file order

    val = VideoMatting108Dataset(
        root, "valid", background=make_bg_images(tmp_path / "bg"), size=OUT, augmentation=NONE
    )
    assert val.clips == ["clipB"] and len(val) == 4
    assert_frames(val[0].bgr, [77])


def test_videomatting108_layout_errors(tmp_path):
    root = make_vm108(tmp_path / "vm108")
    corr = json.loads((root / "frame_corr.json").read_text())
    del corr["clipB/00002.png"]
    (root / "frame_corr.json").write_text(json.dumps(corr))
    with pytest.raises(DatasetLayoutError, match=r"00002.png has no entry 'clipB/00002.png'"):
        VideoMatting108Dataset(root)
    (root / "train_videos.txt").write_text("clipA\nclipC\n")
    with pytest.raises(DatasetLayoutError, match=r"FG_done/clipC does not exist"):
        VideoMatting108Dataset(root)
    with pytest.raises(DatasetLayoutError, match=r"train_videos_subset.txt does not exist"):
        VideoMatting108Dataset(root, use_subset=True)

    write(root / "FG_done" / "clipB" / "00000.png", flat(5))  # RGB, no alpha
    ds = VideoMatting108Dataset(root, "val", background=make_bg_images(tmp_path / "bg"))
    with pytest.raises(DatasetLayoutError, match="expected an RGBA image, found 3 channel"):
        ds[0]


# ----------------------------------------------------------------------------- image matting


def test_image_matte_pairs_by_name_and_makes_pseudo_clips(tmp_path):
    root = tmp_path / "im"
    write(root / "train" / "fgr" / "a.jpg", flat(40))
    write(root / "train" / "pha" / "a.png", flat(200, 1))
    write(root / "train" / "fgr" / "b.png", flat(90))
    write(root / "train" / "pha" / "b.png", flat(250, 1))
    bg = make_bg_images(tmp_path / "bg")
    ds = ImageMatteDataset(root, "train", background=bg, clip_length=3, size=OUT, augmentation=NONE)
    assert len(ds) == 2
    assert_frames(ds[0].fgr, [40] * 3)
    assert_frames(ds[0].pha, [200] * 3)
    assert_frames(ds[1].pha, [250] * 3)

    moving = ImageMatteDataset(
        root,
        "train",
        background=bg,
        clip_length=5,
        size=OUT,
        augmentation=AugmentationConfig.image_train(),
    )
    item = moving[0]
    assert item.fgr.shape == (5, 3, *OUT) and 0 <= item.pha.min() <= item.pha.max() <= 1
    single = ImageMatteDataset(root, "train", background=bg, size=(16, 16))[0]
    assert single.fgr.shape == (1, 3, 16, 16)

    (root / "train" / "pha" / "b.png").unlink()
    with pytest.raises(DatasetLayoutError, match=r"fgr/b.png has no alpha .*pha/b\.\*"):
        ImageMatteDataset(root, "train", background=bg)
    with pytest.raises(DatasetLayoutError, match=r"valid does not exist|valid/fgr does not exist"):
        ImageMatteDataset(root, "valid", background=bg)


def make_aisegment(root: Path) -> Path:
    for k in range(2):
        name = f"1803151818-0000000{k}"
        write(root / "clip_img" / "1803151818" / "clip_00000000" / f"{name}.jpg", flat(60 + k))
        rgba = np.dstack([flat(30), flat(100 + 100 * k, 1)])
        write(root / "matting" / "1803151818" / "matting_00000000" / f"{name}.png", rgba)
    (root / "clip_img" / "1803151818" / "clip_00000000" / "._junk.jpg").write_bytes(b"\0")
    return root


def test_aisegment_reads_alpha_channel(tmp_path):
    root = make_aisegment(tmp_path / "matting_human_half")
    bg = make_bg_images(tmp_path / "bg")
    ds = AISegmentDataset(root, background=bg, clip_length=2, size=OUT, augmentation=NONE)
    assert len(ds) == 2
    assert_frames(ds[1].pha, [200, 200])
    assert_frames(ds[1].fgr, [61, 61])  # the photo, not the PNG's colour

    write(root / "clip_img" / "1803151818" / "clip_00000001" / "x.jpg", flat(1))
    with pytest.raises(DatasetLayoutError, match=r"x.jpg has no matting .*matting_00000001/x.png"):
        AISegmentDataset(root, background=bg)
    assert len(AISegmentDataset(root, background=bg, skip_unpaired=True)) == 2
    with pytest.raises(DatasetLayoutError, match=r"AISegment: expected .*bg/clip_img does not"):
        AISegmentDataset(tmp_path / "bg", background=bg)


def test_background_layout_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"BackgroundImages: expected .* has no images"):
        BackgroundImages(tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match=r"BackgroundVideos: .* has no clip folders"):
        BackgroundVideos(tmp_path / "empty")
    (tmp_path / "empty" / "clip0").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"empty/clip0 has no frames"):
        BackgroundVideos(tmp_path / "empty")


def test_composite_is_eq1():
    fgr, bgr = torch.full((2, 3, 4, 4), 0.8), torch.full((2, 3, 4, 4), 0.2)
    pha = torch.zeros(2, 1, 4, 4)
    pha[..., :2] = 1.0
    pha[..., 2] = 0.25
    out = composite(fgr, pha, bgr)
    assert torch.allclose(out[..., 0], torch.tensor(0.8))
    assert torch.allclose(out[..., 2], torch.tensor(0.25 * 0.8 + 0.75 * 0.2))
    assert torch.allclose(out[..., 3], torch.tensor(0.2))
    with pytest.raises(ValueError, match="pha"):
        composite(fgr, pha[..., :3], bgr)


# ----------------------------------------------------------------------------- segmentation


def test_rle_decoding():
    # Hand-encoded pycocotools strings: small values, the delta from two counts back, a negative
    # delta ('M' = -3), and a two-character value ('T3' = 4 + 3 * 32).
    assert rle_counts_from_string("234") == [2, 3, 4]
    assert rle_counts_from_string("1114") == [1, 1, 1, 5]
    assert rle_counts_from_string("151M") == [1, 5, 1, 2]
    assert rle_counts_from_string(b"T3") == [100]
    # Column-major runs: 2x3 image, pixels in order (0,0),(1,0),(0,1),(1,1),(0,2),(1,2).
    mask = decode_rle({"size": [2, 3], "counts": [1, 2, 3]})
    assert mask.tolist() == [[False, True, False], [True, False, False]]
    assert np.array_equal(decode_rle({"size": [2, 3], "counts": "123"}), mask)
    with pytest.raises(ValueError, match="sum to 5"):
        decode_rle({"size": [2, 3], "counts": [1, 4]})


def encode_rle(mask: np.ndarray) -> dict:
    """Independent encoder (pycocotools' rleToString, transcribed) for a round trip."""
    flat_ = mask.T.reshape(-1).astype(np.int8)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat_, [1 - flat_[-1]]])))
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    chars = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = x != -1 if ch & 0x10 else x != 0
            chars.append(chr((ch | 0x20 if more else ch) + 48))
    return {"size": list(mask.shape), "counts": "".join(chars)}


def person_mask(k: int) -> np.ndarray:
    m = np.zeros(SRC, bool)
    m[4 + k : 20 + k, 6 + 3 * k : 18 + 3 * k] = True
    return m


def test_rle_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = rng.random((23, 17)) < 0.4
        assert np.array_equal(decode_rle(encode_rle(mask)), mask)


def test_coco_panoptic_person_mask(tmp_path):
    root = tmp_path / "coco"
    person_id, other_id = 1 + 256 * 2, 7  # ids exercise R + 256 G
    ids = np.zeros(SRC, np.int64)
    ids[person_mask(0)] = person_id
    ids[25:, :] = other_id
    png = np.dstack([ids % 256, ids // 256 % 256, ids // 65536]).astype(np.uint8)
    write(root / "annotations" / "panoptic_train2017" / "000000000001.png", png)
    write(root / "annotations" / "panoptic_train2017" / "000000000002.png", np.zeros_like(png))
    write(root / "train2017" / "000000000001.jpg", flat(120))
    write(root / "train2017" / "000000000002.jpg", flat(130))
    data = {
        "images": [
            {"id": 1, "file_name": "000000000001.jpg", "height": 32, "width": 40},
            {"id": 2, "file_name": "000000000002.jpg", "height": 32, "width": 40},
        ],
        "annotations": [
            {
                "image_id": 1,
                "file_name": "000000000001.png",
                "segments_info": [
                    {"id": person_id, "category_id": 1},
                    {"id": other_id, "category_id": 5},
                ],
            },
            {
                "image_id": 2,
                "file_name": "000000000002.png",
                "segments_info": [{"id": 3, "category_id": 5}],
            },
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 5, "name": "airplane"}],
    }
    (root / "annotations" / "panoptic_train2017.json").write_text(json.dumps(data))
    ds = CocoPanopticPersonDataset(root, clip_length=2, size=SRC, augmentation=NONE)
    assert len(ds) == 1
    item = ds[0]
    assert isinstance(item, SegmentationClip)
    assert item.image.shape == (2, 3, *SRC) and item.mask.shape == (2, 1, *SRC)
    assert np.array_equal(item.mask[1, 0].numpy().astype(bool), person_mask(0))
    assert_frames(item.image, [120, 120])

    trained = CocoPanopticPersonDataset(
        root, clip_length=3, size=OUT, augmentation=AugmentationConfig.segmentation_train()
    )[0]
    assert set(trained.mask.unique().tolist()) <= {0.0, 1.0}

    (root / "annotations" / "panoptic_train2017" / "000000000001.png").unlink()
    with pytest.raises(DatasetLayoutError, match=r"000000000001.png does not exist"):
        CocoPanopticPersonDataset(root)
    with pytest.raises(DatasetLayoutError, match=r"panoptic_val2017.json does not exist"):
        CocoPanopticPersonDataset(root, "val")


def make_youtubevis(root: Path) -> Path:
    names = [f"vid1/{k:05d}.jpg" for k in range(4)]
    for k, name in enumerate(names):
        write(root / "train" / "JPEGImages" / name, flat(grey(k)))
    m0 = [encode_rle(person_mask(k))["counts"] for k in range(4)]
    uncompressed = []
    for k in range(3):
        flat_ = person_mask(k).T.reshape(-1).astype(np.int8)
        changes = np.flatnonzero(np.diff(np.concatenate([[0], flat_, [1 - flat_[-1]]])))
        uncompressed.append(
            {"size": list(SRC), "counts": np.diff(np.concatenate([[0], changes])).tolist()}
        )
    data = {
        "videos": [{"id": 5, "file_names": names, "height": SRC[0], "width": SRC[1]}],
        "categories": [{"id": 1, "name": "giraffe"}, {"id": 26, "name": "person"}],
        "annotations": [
            {"video_id": 5, "category_id": 26, "segmentations": [*uncompressed, None]},
            # A second person: compressed RLE on frame 1, a polygon on frame 3.
            {
                "video_id": 5,
                "category_id": 26,
                "segmentations": [
                    None,
                    {"size": list(SRC), "counts": m0[3]},
                    None,
                    [[30.0, 25.0, 38.0, 25.0, 38.0, 30.0, 30.0, 30.0]],
                ],
            },
            {
                "video_id": 5,
                "category_id": 1,
                "segmentations": [{"size": list(SRC), "counts": [0, 1280]}] * 4,
            },
        ],
    }
    (root / "train" / "instances.json").write_text(json.dumps(data))
    return root


def test_youtubevis_person_masks_per_frame(tmp_path):
    root = make_youtubevis(tmp_path / "ytvis")
    ds = YouTubeVISDataset(root, clip_length=4, size=SRC, augmentation=NONE)
    assert len(ds) == 1
    item = ds[0]
    assert_frames(item.image, [grey(k) for k in range(4)])
    masks = item.mask[:, 0].numpy().astype(bool)
    assert np.array_equal(masks[0], person_mask(0))  # the giraffe (all pixels) is left out
    assert np.array_equal(masks[1], person_mask(1) | person_mask(3))
    assert np.array_equal(masks[2], person_mask(2))
    assert masks[3][26:30, 31:38].all() and masks[3].sum() < 60  # polygon only

    reverse = AugmentationConfig(frames=FrameSampling(reverse_prob=1.0))
    back = YouTubeVISDataset(root, clip_length=4, size=SRC, augmentation=reverse)[0]
    assert np.array_equal(back.mask[3, 0].numpy().astype(bool), person_mask(0))


def test_youtubevis_layout_errors(tmp_path):
    root = make_youtubevis(tmp_path / "ytvis")
    with pytest.raises(DatasetLayoutError, match=r"valid/JPEGImages does not exist"):
        YouTubeVISDataset(root, "valid")
    with pytest.raises(DatasetLayoutError, match=r"has no category 'dog'"):
        YouTubeVISDataset(root, category="dog")
    data = json.loads((root / "train" / "instances.json").read_text())
    data["annotations"][0]["segmentations"].append(None)
    (root / "train" / "instances.json").write_text(json.dumps(data))
    with pytest.raises(DatasetLayoutError, match="video 5 has 4 frames but an annotation with 5"):
        YouTubeVISDataset(root)
    (root / "train" / "JPEGImages" / "vid1" / "00002.jpg").unlink()
    data["annotations"][0]["segmentations"].pop()
    (root / "train" / "instances.json").write_text(json.dumps(data))
    with pytest.raises(DatasetLayoutError, match=r"vid1/00002.jpg does not exist"):
        YouTubeVISDataset(root)


def supervisely_bitmap(mask: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", np.dstack([np.zeros((*mask.shape, 3), np.uint8), mask * 255]))
    assert ok
    return base64.b64encode(zlib.compress(png.tobytes())).decode()


def test_supervisely_polygons_holes_and_bitmaps(tmp_path):
    root = tmp_path / "spd"
    write(root / "ds1" / "img" / "a.png", flat(90))
    crop = np.zeros((4, 5), np.uint8)
    crop[1:3, 1:4] = 1
    ann = {
        "size": {"height": SRC[0], "width": SRC[1]},
        "objects": [
            {
                "classTitle": "person_poly",
                "geometryType": "polygon",
                "points": {
                    "exterior": [[2, 2], [20, 2], [20, 20], [2, 20]],
                    "interior": [[[8, 8], [12, 8], [12, 12], [8, 12]]],
                },
            },
            {
                "classTitle": "person_bmp",
                "geometryType": "bitmap",
                "bitmap": {"data": supervisely_bitmap(crop), "origin": [30, 24]},
            },
        ],
    }
    (root / "ds1" / "ann").mkdir(parents=True)
    (root / "ds1" / "ann" / "a.png.json").write_text(json.dumps(ann))
    (root / "meta.json").write_text("{}")
    ds = SuperviselyPersonDataset(root, size=SRC, augmentation=NONE)
    assert ds.layout == "supervisely" and len(ds) == 1
    mask = ds[0].mask[0, 0].numpy().astype(bool)
    assert mask[5, 5] and mask[20, 20] and not mask[10, 10] and not mask[25, 25]
    assert mask[25:27, 31:34].all() and mask[24:30, 29:36].sum() == 6
    only_polys = SuperviselyPersonDataset(
        root, size=SRC, augmentation=NONE, class_titles=["person_poly"]
    )[0].mask
    assert only_polys[0, 0, 25, 31] == 0

    (root / "ds1" / "ann" / "a.png.json").unlink()
    with pytest.raises(DatasetLayoutError, match=r"ds1/img/a.png has no annotation"):
        SuperviselyPersonDataset(root)


def test_supervisely_rvm_layout(tmp_path):
    root = tmp_path / "spd_rvm"
    write(root / "img" / "a.jpg", flat(90))
    seg = np.zeros(SRC, np.uint8)
    seg[:, :20] = 255
    write(root / "seg" / "a.png", seg)
    ds = SuperviselyPersonDataset(root, clip_length=2, size=SRC, augmentation=NONE)
    assert ds.layout == "rvm"
    assert ds[0].mask.shape == (2, 1, *SRC) and ds[0].mask[:, :, :, :20].all()
    assert ds[0].mask[:, :, :, 20:].sum() == 0
    write(root / "img" / "b.jpg", flat(90))
    with pytest.raises(DatasetLayoutError, match=r"img/b.jpg has no mask"):
        SuperviselyPersonDataset(root)
    (tmp_path / "other" / "x").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match=r"other has no img/ folders"):
        SuperviselyPersonDataset(tmp_path / "other")


# ----------------------------------------------------------------------------- augmentation


def square_clip(length: int, size: tuple[int, int] = (64, 64), side: int = 16):
    img = np.zeros((*size, 3), np.uint8)
    pha = np.zeros(size, np.uint8)
    y, x = size[0] // 2 - side // 2, size[1] // 2 - side // 2
    img[y : y + side, x : x + side] = 255
    pha[y : y + side, x : x + side] = 255
    return [img] * length, [pha] * length


def centroids(clip: torch.Tensor) -> np.ndarray:
    """(T, 2) centre of mass (x, y) of each frame's first channel."""
    w = clip[:, 0].double()
    ys, xs = torch.meshgrid(
        torch.arange(w.shape[1], dtype=torch.float64),
        torch.arange(w.shape[2], dtype=torch.float64),
        indexing="ij",
    )
    total = w.sum(dim=(1, 2))
    return torch.stack(
        [(w * xs).sum(dim=(1, 2)) / total, (w * ys).sum(dim=(1, 2)) / total], 1
    ).numpy()


MOTION_ONLY = AugmentationConfig(
    fgr_motion_prob=1.0,
    motion=AffineRange(rotation=10.0, translate=0.15, scale=(0.9, 1.1), shear=5.0),
    easings=("linear",),
)


def test_foreground_and_alpha_move_together_smoothly():
    fgrs, phas = square_clip(8)
    bgrs = [np.full((64, 64, 3), 0, np.uint8)] * 8
    moved = 0.0
    for seed in range(5):
        fgr, pha, _ = augment_matting(
            MOTION_ONLY, np.random.default_rng(seed), fgrs, phas, bgrs, (64, 64)
        )
        assert torch.allclose(fgr[:, :1], pha, atol=1e-6)  # same warp for colour and alpha
        c = centroids(pha)
        steps = np.linalg.norm(np.diff(c, axis=0), axis=1)
        moved = max(moved, np.linalg.norm(c[-1] - c[0]))
        # Linear easing: equal steps, each a seventh of the total.
        assert steps.max() - steps.min() < 0.3
        assert steps.max() <= 0.15 * 64 * 2 / 7 + 1.0
    assert moved > 2.0


def test_smooth_easings_bound_frame_to_frame_change():
    for name in SMOOTH_EASINGS:
        curve = easing_curve(name, 16)
        assert curve[0] == pytest.approx(0) and curve[-1] == pytest.approx(1)
        assert np.abs(np.diff(curve)).max() <= 6.0 / 15, name  # max slope of back_in_out ~5.6
    assert easing_curve("linear", 1).tolist() == [0.0]


def test_background_moves_independently_of_foreground():
    fgrs, phas = square_clip(6)
    _, bg_phas = square_clip(6, side=20)
    bgrs = [np.dstack([bg_phas[0]] * 3)] * 6
    config = AugmentationConfig(bgr_motion_prob=1.0, easings=("linear",))
    _, pha, bgr = augment_matting(config, np.random.default_rng(1), fgrs, phas, bgrs, (64, 64))
    fg_c, bg_c = centroids(pha), centroids(bgr)
    assert np.abs(fg_c - fg_c[0]).max() < 1e-6  # the foreground stays put
    assert np.linalg.norm(bg_c[-1] - bg_c[0]) > 1.0


def test_blur_applies_one_kernel_to_foreground_and_alpha():
    fgrs, phas = square_clip(4)
    bgrs = [np.zeros((64, 64, 3), np.uint8)] * 4
    config = AugmentationConfig(blur_prob=1.0, blur_sigma=4.0)
    blurred = 0
    for seed in range(8):
        fgr, pha, _ = augment_matting(
            config, np.random.default_rng(seed), fgrs, phas, bgrs, (64, 64)
        )
        assert torch.allclose(fgr[:, :1], pha, atol=1e-6)
        soft = ((pha > 0.02) & (pha < 0.98)).sum().item()
        blurred += soft > 4 * 64
    assert blurred > 0


def test_colour_jitter_drifts_only_when_asked():
    fgrs = [np.full((16, 16, 3), 128, np.uint8)] * 6
    phas = [np.full((16, 16), 255, np.uint8)] * 6
    bgrs = [np.zeros((16, 16, 3), np.uint8)] * 6
    fixed = AugmentationConfig(
        colour_prob=1.0, colour=ColourJitter(brightness=0.3, drift=0.0), easings=("linear",)
    )
    f, _, _ = augment_matting(fixed, np.random.default_rng(0), fgrs, phas, bgrs, (16, 16))
    assert torch.allclose(f, f[:1].expand_as(f), atol=1e-6)
    drifting = AugmentationConfig(
        colour_prob=1.0, colour=ColourJitter(brightness=0.3, drift=1.0), easings=("linear",)
    )
    spread = 0.0
    for seed in range(4):
        f, _, _ = augment_matting(drifting, np.random.default_rng(seed), fgrs, phas, bgrs, (16, 16))
        spread = max(spread, (f.mean(dim=(1, 2, 3)).max() - f.mean(dim=(1, 2, 3)).min()).item())
    assert spread > 0.01


def test_colour_transform_keeps_greys_and_turns_hue_the_hsv_way():
    ones, zero = torch.ones(1), torch.zeros(1)
    x = torch.rand(1, 3, 5, 5)
    assert torch.allclose(adjust_colour(x, ones, ones, ones, zero), x, atol=1e-6)
    grey_ = torch.full((1, 3, 2, 2), 0.4)
    assert torch.allclose(adjust_colour(grey_, ones, ones, ones, torch.tensor([0.3])), grey_)
    red = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1)
    r, g, b = adjust_colour(red, ones, ones, ones, torch.tensor([1 / 3])).flatten().tolist()
    assert g > r and g > b  # a third of a turn takes red to green
    r, g, b = adjust_colour(red, ones * 1.2, ones, ones * 0.0, zero).flatten().tolist()
    assert r == pytest.approx(g) == pytest.approx(b)  # zero saturation is grey


def test_large_sources_are_shrunk_before_warping_without_shifting():
    fgrs, phas = square_clip(2, size=(480, 640), side=160)
    bgrs = [np.zeros((900, 900, 3), np.uint8)] * 2
    fgr, pha, bgr = augment_matting(NONE, np.random.default_rng(0), fgrs, phas, bgrs, (24, 32))
    assert torch.allclose(fgr[:, :1], pha, atol=1e-6)
    np.testing.assert_allclose(centroids(pha), [[15.5, 11.5]] * 2, atol=0.05)
    assert pha.sum(dim=(1, 2, 3)).tolist() == pytest.approx([64.0, 64.0], rel=0.02)  # 8x8 px
    assert bgr.shape == (2, 3, 24, 32)
