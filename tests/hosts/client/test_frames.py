"""Frame patterns in every syntax hosts write, and frame ranges."""

import pytest

from hosts.client.frames import FramePattern, parse_range, range_text


@pytest.mark.parametrize(
    "path",
    ["/s/plate.####.exr", "/s/plate.@@@@.exr", "/s/plate.%04d.exr", "/s/plate.$F4.exr"],
)
def test_every_token_names_the_same_sequence(path):
    pattern = FramePattern.parse(path)
    assert pattern == FramePattern("/s/plate.", 4, ".exr")
    assert pattern.frame(7) == "/s/plate.0007.exr" and pattern.frame(12345) == "/s/plate.12345.exr"
    assert pattern.hashes() == "/s/plate.####.exr" and pattern.printf() == "/s/plate.%04d.exr"


def test_unpadded_tokens():
    assert FramePattern.parse("p.%d.exr") == FramePattern("p.", 1, ".exr")
    assert FramePattern.parse("p.$F.exr") == FramePattern("p.", 1, ".exr")


def test_a_file_of_a_sequence_names_it_by_its_last_digits():
    assert FramePattern.of_file("/a/v2/plate_v3.0101.exr") == (
        FramePattern("/a/v2/plate_v3.", 4, ".exr"),
        101,
    )
    with pytest.raises(ValueError, match="no frame number"):
        FramePattern.of_file("/a/plate.exr")


def test_explicit_range_and_ownership():
    pattern = FramePattern.parse("/s/plate.####.exr")
    assert pattern.explicit_range(997, 1003) == "/s/plate.997-1003@@@@.exr"
    assert pattern.explicit_range(5, 5) == "/s/plate.5@@@@.exr"
    with pytest.raises(ValueError, match="empty"):
        pattern.explicit_range(3, 2)
    assert pattern.owns("/s/plate.0997.exr") == 997
    assert pattern.owns("/s/plate.997.exr") is None


@pytest.mark.parametrize("text, expected", [("1001-1100", (1001, 1100)), (" 7 ", (7, 7)),
                                            ("-3 - 2", (-3, 2))])  # fmt: skip
def test_ranges(text, expected):
    assert parse_range(text) == expected
    assert parse_range(range_text(*expected)) == expected


@pytest.mark.parametrize("text", ["9-1", "a-b", "1,2", ""])
def test_bad_ranges_are_refused(text):
    with pytest.raises(ValueError, match="frames"):
        parse_range(text)
