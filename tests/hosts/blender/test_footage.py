"""Frame maths of the Blender host, checked against Blender's own rules without Blender."""

import pytest

from hosts.blender.footage import (
    Footage,
    FootageError,
    ImageUser,
    hash_pattern,
    missing_files,
    plan_frames,
    sequence_path,
    split_frame_number,
)


def test_image_user_number_follows_blender():
    # Scene frames 10..14 show files 1001..1005 (a sequence loaded at frame 10, offset 1000).
    user = ImageUser(frame_start=10, frame_offset=1000, frame_duration=5)
    assert [user.number(f) for f in range(10, 15)] == [1001, 1002, 1003, 1004, 1005]
    # After the end Blender holds the last frame; before the start it asks for "frame 0".
    assert user.number(20) == 1005
    assert user.number(9) == 1000
    cyclic = ImageUser(frame_start=1, frame_offset=0, frame_duration=3, cyclic=True)
    assert [cyclic.number(f) for f in range(-1, 6)] == [2, 3, 1, 2, 3, 1, 2]


def test_split_and_patterns_use_the_last_digits_in_the_name():
    assert split_frame_number("/a/v2/plate_v3.0101.exr") == ("/a/v2/plate_v3.", "0101", ".exr")
    assert hash_pattern("/a/plate.0101.exr") == "/a/plate.####.exr"
    assert sequence_path("/a/plate.0101.exr", 7) == "/a/plate.0007.exr"
    assert sequence_path("/a/plate.0101.exr", 12345) == "/a/plate.12345.exr"
    with pytest.raises(FootageError, match="no frame number"):
        split_frame_number("/a/plate.exr")


def _footage(kind="sequence", path="/s/plate.1001.exr", colorspace="Linear Rec.709", **user):
    fields = {"frame_start": 1, "frame_offset": 1000, "frame_duration": 48} | user
    return Footage("Memmatte", kind, path, colorspace, ImageUser(**fields))


def test_direct_exr_sequence_plans_file_numbers_and_mirrors_the_footage():
    footage = _footage()
    assert footage.direct
    plan = plan_frames(footage, 1, 24)
    assert plan.scene_frames == (1, 24)
    assert plan.input_frames == (1001, 1024)
    assert plan.matte_user == footage.user


def test_scene_range_is_clipped_to_the_footage():
    plan = plan_frames(_footage(frame_start=5, frame_duration=10), 1, 100)
    assert plan.scene_frames == (5, 14)
    assert plan.input_frames == (1001, 1010)
    with pytest.raises(FootageError, match="no frames in the scene's range 20-30"):
        plan_frames(_footage(frame_start=5, frame_duration=10), 20, 30)


@pytest.mark.parametrize(
    ("kind", "path", "colorspace"),
    [
        ("movie", "/s/take.mov", "sRGB"),
        ("clip", "/s/take.mov", "sRGB"),
        ("sequence", "/s/plate.1001.png", "sRGB"),
        ("sequence", "/s/plate.1001.exr", "ACEScg"),
    ],
)
def test_other_footage_is_rendered_and_numbered_by_scene_frame(kind, path, colorspace):
    footage = _footage(kind, path, colorspace, frame_start=3, frame_offset=0, frame_duration=10)
    assert not footage.direct
    plan = plan_frames(footage, 1, 8)
    assert plan.scene_frames == plan.input_frames == (3, 8)
    # The inner Image node then shows file f at scene frame f.
    assert [plan.matte_user.number(f) for f in range(3, 9)] == [3, 4, 5, 6, 7, 8]


def test_missing_files_names_them(tmp_path):
    for n in (1, 2, 4):
        (tmp_path / f"p.{n:04d}.exr").write_bytes(b"")
    footage = _footage(path=str(tmp_path / "p.0001.exr"))
    assert missing_files(footage, 1, 4) == [str(tmp_path / "p.0003.exr")]
