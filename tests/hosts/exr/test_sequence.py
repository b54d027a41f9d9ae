"""Sequence discovery and output paths: what a user's arguments turn into."""

from pathlib import Path

import numpy as np
import pytest

from hosts.exr.errors import BadInputError, UsageError
from hosts.exr.processor import BatchOptions, check_outputs, frame_set
from hosts.exr.sequence import find_shots, output_shot
from tests.hosts.exr.images import write_image


def _touch(folder: Path, names) -> None:
    for name in names:
        write_image(folder / name, np.zeros((2, 2, 3), np.float32))


@pytest.fixture
def shots_folder(tmp_path: Path) -> Path:
    _touch(tmp_path, [f"plate.{f:04d}.exr" for f in range(1001, 1006)])
    _touch(tmp_path, [f"bg_{f}.exr" for f in (1, 2, 3)])
    _touch(tmp_path, ["still.exr", ".plate.1003.tmp-12.exr"])
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.mark.parametrize(
    "pattern",
    ["plate.####.exr", "plate.%04d.exr", "plate.@@@@.exr", "plate.$F4.exr", "plate.#.exr"],
)
def test_padding_patterns_find_the_sequence_on_disk(shots_folder, pattern):
    (shot,) = find_shots([str(shots_folder / pattern)])
    assert shot.frames == (1001, 1002, 1003, 1004, 1005)
    assert shot.path(1003) == shots_folder / "plate.1003.exr"
    assert shot.zfill == 4


def test_an_explicit_range_is_the_shot_even_when_more_frames_exist(shots_folder):
    (shot,) = find_shots([str(shots_folder / "plate.1002-1004#.exr")])
    assert shot.frames == (1002, 1003, 1004)
    assert find_shots([shot.pattern()]) == [shot]


def test_globs_group_files_into_shots_and_skip_temp_and_non_image_files(shots_folder):
    shots = find_shots([str(shots_folder / "*")])
    found = {(s.basename, s.frames) for s in shots}
    assert found == {
        ("plate.", (1001, 1002, 1003, 1004, 1005)),
        ("bg_", (1, 2, 3)),
        ("still", (0,)),
    }
    still = next(s for s in shots if s.basename == "still")
    assert not still.numbered and still.path(0) == shots_folder / "still.exr"


def test_shell_expanded_files_are_grouped_like_a_glob(shots_folder):
    files = [str(shots_folder / f"plate.{f}.exr") for f in range(1001, 1006)]
    (shot,) = find_shots(files)
    assert shot.frames == (1001, 1002, 1003, 1004, 1005) and shot.only is None


def test_files_named_alone_are_frames_of_their_sequence_on_disk(shots_folder):
    files = [str(shots_folder / f"plate.{f}.exr") for f in (1004, 1003)]
    (shot,) = find_shots(files)
    assert shot.frames == (1001, 1002, 1003, 1004, 1005)  # the memory comes from the sequence
    assert shot.only == (1003, 1004)
    assert shot.name.endswith("plate.####.exr (1001-1005), frames 1003-1004")
    assert output_shot(shot, None).only == (1003, 1004)
    # A file alone on disk, or a name whose number is not a frame number, stays one file.
    _touch(shots_folder, ["lone.0007.exr", "take_v2.exr", "take_v3.exr"])
    (lone,) = find_shots([str(shots_folder / "lone.0007.exr")])
    assert lone.frames == (7,) and lone.only is None
    (take,) = find_shots([str(shots_folder / "take_v2.exr")])
    assert take.frames == (2,) and take.only is None


def test_a_gap_in_a_sequence_becomes_an_expected_frame(tmp_path):
    _touch(tmp_path, ["p.0001.exr", "p.0002.exr", "p.0004.exr"])
    (shot,) = find_shots([str(tmp_path / "p.####.exr")])
    assert shot.frames == (1, 2, 3, 4)
    _touch(tmp_path, ["q.0001.exr", "q.0003.exr", "q.0005.exr"])
    (twos,) = find_shots([str(tmp_path / "q.####.exr")])
    assert twos.frames == (1, 3, 5) and twos.index(5) == 2


def test_arguments_that_match_nothing_are_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="no frames on disk match"):
        find_shots([str(tmp_path / "none.####.exr")])
    with pytest.raises(BadInputError, match="no image files match"):
        find_shots([str(tmp_path / "*.exr")])
    with pytest.raises(BadInputError, match="no such file"):
        find_shots([str(tmp_path / "none.exr")])


def test_default_output_is_a_matte_folder_beside_the_plate_with_the_same_names(shots_folder):
    (shot,) = find_shots([str(shots_folder / "plate.####.exr")])
    assert output_shot(shot, None).path(1001) == shots_folder / "matte" / "plate.1001.exr"


def test_output_patterns(shots_folder, tmp_path):
    (shot,) = find_shots([str(shots_folder / "plate.####.exr")])
    assert output_shot(shot, "{dir}/m/{name}_matte.####.exr").path(1002) == (
        shots_folder / "m" / "plate_matte.1002.exr"
    )
    assert output_shot(shot, str(tmp_path / "o.%06d.exr")).path(7) == tmp_path / "o.000007.exr"
    assert output_shot(shot, str(tmp_path / "flat") + "/").path(1001) == (
        tmp_path / "flat" / "plate.1001.exr"
    )
    with pytest.raises(UsageError, match="needs a frame number"):
        output_shot(shot, str(tmp_path / "one.exr"))
    with pytest.raises(UsageError, match=r"EXR, PNG or TIFF; end it in \.exr"):
        output_shot(shot, str(tmp_path / "m.####.jpg"))
    assert output_shot(shot, str(tmp_path / "m.####.png")).path(7).name == "m.0007.png"
    with pytest.raises(UsageError, match="placeholder"):
        output_shot(shot, "{shot}/m.####.exr")


def test_an_output_equal_to_an_input_or_shared_by_two_shots_is_refused(shots_folder):
    _touch(shots_folder / "b", ["plate.1001.exr", "plate.1002.exr"])
    shots = find_shots([str(shots_folder / "plate.####.exr"), str(shots_folder / "b")])
    with pytest.raises(UsageError, match=r"refusing to overwrite input .*plate\.1001\.exr"):
        check_outputs(shots[:1], BatchOptions(output=str(shots_folder / "plate.####.exr")))
    with pytest.raises(UsageError, match="would both write"):
        check_outputs(shots, BatchOptions(output=str(shots_folder / "out.####.exr")))
    check_outputs(shots, BatchOptions(output="{dir}/out/{name}.####.exr"))
    check_outputs(shots, BatchOptions())


def test_frame_ranges_accept_fileseq_and_open_job_description_syntax():
    assert frame_set("1001-1004") == [1001, 1002, 1003, 1004]
    assert frame_set("1001-1005x2") == frame_set("1001-1005:2") == [1001, 1003, 1005]
    assert frame_set("7") == frame_set("7-7") == [7]
    with pytest.raises(UsageError, match="not a frame range"):
        frame_set("ten")
