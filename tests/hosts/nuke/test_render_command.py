"""The render path's pure functions: Nuke file patterns, frame ranges, the processor's command."""

import pytest


@pytest.fixture
def render(memmatte_nuke):
    from memmatte_nuke import render

    return render


@pytest.mark.parametrize(
    "path, prefix, padding, suffix",
    [
        ("/shot/plate.####.exr", "/shot/plate.", 4, ".exr"),
        ("/shot/plate.%04d.exr", "/shot/plate.", 4, ".exr"),
        ("/shot/plate.#.exr", "/shot/plate.", 1, ".exr"),
        ("/shot/plate.%d.exr", "/shot/plate.", 1, ".exr"),
        ("/shot/v2.1/plate_######_lin.exr", "/shot/v2.1/plate_", 6, "_lin.exr"),
        ("plate.%06d.exr", "plate.", 6, ".exr"),
    ],
)
def test_nuke_paddings_parse_to_the_same_sequence(render, path, prefix, padding, suffix):
    p = render.FramePattern.parse(path)
    assert (p.prefix, p.padding, p.suffix) == (prefix, padding, suffix)


def test_hashes_and_printf_name_the_same_files(render):
    hashes = render.FramePattern.parse("/shot/plate.####.exr")
    printf = render.FramePattern.parse("/shot/plate.%04d.exr")
    assert hashes == printf
    assert hashes.frame(997) == "/shot/plate.0997.exr"
    assert hashes.frame(1003) == "/shot/plate.1003.exr"
    assert hashes.frame(12345) == "/shot/plate.12345.exr"  # more digits than the padding
    assert printf.hashes() == "/shot/plate.####.exr"
    assert hashes.printf() == "/shot/plate.%04d.exr"
    assert hashes.owns("/shot/plate.0997.exr") == 997
    assert hashes.owns("/shot/plate.997.exr") is None
    assert hashes.owns("/shot/plate.0997.exr.tmp") is None


@pytest.mark.parametrize(
    "path, message",
    [
        ("/shot/plate.exr", "no frame number"),
        ("/shot/####/plate.exr", "no frame number"),  # the folder does not count
        ("/shot/plate.####.%04d.exr", "2 frame numbers"),
    ],
)
def test_patterns_without_one_frame_number_are_refused(render, path, message):
    with pytest.raises(ValueError, match=message):
        render.FramePattern.parse(path)


def _command(render, plate, first, last, matte, **kw):
    return render.build_command("/venv/bin/python", plate, first, last, matte, **kw)


def _option(command, name):
    return command[command.index(name) + 1]


@pytest.mark.parametrize("plate", ["/shot/plate.####.exr", "/shot/plate.%04d.exr"])
def test_command_for_an_odd_range_with_padding_4(render, plate):
    command = _command(render, plate, 997, 1003, "/shot/matte/m.####.exr", weights="/w.st")
    assert command[:3] == ["/venv/bin/python", "-m", "core.batch"]
    # fileseq's explicit range: the shot is exactly the Read's frames, one '@' per digit.
    assert command[3] == "/shot/plate.997-1003@@@@.exr"
    assert _option(command, "--frames") == "997-1003"
    assert _option(command, "--output") == "/shot/matte/m.%04d.exr"
    assert _option(command, "--log-format") == "json"
    assert _option(command, "--weights") == "/w.st"
    assert "--resume" not in command


@pytest.mark.parametrize("plate", ["/shot/plate.#.exr", "/shot/plate.%d.exr"])
def test_command_for_frames_7_to_9_with_padding_1(render, plate):
    command = _command(render, plate, 7, 9, "/shot/m.#.exr", frames=(8, 9), resume=True)
    assert command[3] == "/shot/plate.7-9@.exr"
    assert _option(command, "--frames") == "8-9"  # frame 7 is read as pre-roll only
    assert _option(command, "--output") == "/shot/m.%01d.exr"
    assert "--weights" not in command  # empty knob: the bundled default
    assert "--resume" in command


def test_one_frame_shot(render):
    assert render.nuke_pattern_to_batch_input("/s/p.####.exr", 5, 5) == "/s/p.5@@@@.exr"


def test_ranges_outside_the_shot_are_refused(render):
    with pytest.raises(ValueError, match="empty"):
        render.nuke_pattern_to_batch_input("/shot/plate.####.exr", 10, 9)
    with pytest.raises(ValueError, match="outside the shot's 997-1003"):
        _command(render, "/s/p.####.exr", 997, 1003, "/s/m.####.exr", frames=(990, 1000))


def test_default_matte_is_the_processors_default_with_the_plates_padding(render):
    assert render.default_matte_pattern("/shot/plate.%04d.exr") == "/shot/matte/plate.####.exr"
    assert render.default_matte_pattern("/shot/sh010_bg_#.dpx") == "/shot/matte/sh010_bg_#.exr"


def test_interpreter_is_the_knob_then_the_environment_then_python3(render):
    env = {"MEMMATTE_PYTHON": "/env/python"}
    assert render.resolve_python("/knob/python", env) == "/knob/python"
    assert render.resolve_python("  ", env) == "/env/python"
    assert render.resolve_python("", {}) == "python3"


@pytest.mark.parametrize(
    "text, expected",
    [("", (997, 1003)), ("1000", (1000, 1000)), ("998-1001", (998, 1001)), (" 7 - 9 ", (7, 9))],
)
def test_frames_knob(render, text, expected):
    assert render.parse_frames(text, 997, 1003) == expected


@pytest.mark.parametrize("text", ["1001-1000", "a-b", "1,2"])
def test_bad_frames_knob_is_refused(render, text):
    with pytest.raises(ValueError, match="frames"):
        render.parse_frames(text, 1, 2)
