"""Frame ranges, sequence patterns and scanning the disk."""

import pytest

from vfxkey.errors import VfxkeyError
from vfxkey.io.sequence import FrameRange, frame_path, has_frame_token, scan_frames


@pytest.mark.parametrize(
    "text, frames",
    [
        ("1001", [1001]),
        ("1001-1004", [1001, 1002, 1003, 1004]),
        ("1001-1009x4", [1001, 1005, 1009]),
        ("1001-1010x4", [1001, 1005, 1009]),
        ("1001,1003,1005-1007", [1001, 1003, 1005, 1006, 1007]),
        (" 5 - 6 , 1 ", [1, 5, 6]),
    ],
)
def test_frame_range_parse(text, frames):
    assert list(FrameRange.parse(text)) == frames


@pytest.mark.parametrize("text", ["", "a-b", "1010-1001", "1001-1010x0", "1001--1002"])
def test_frame_range_rejects_bad_text(text):
    with pytest.raises(VfxkeyError, match="bad frame range"):
        FrameRange.parse(text)


@pytest.mark.parametrize("text", ["1001-1010:2", "1001-1005:1", "1001-1001:3", "1001-1002:5,1010-1020:4"])
def test_openjd_step_ranges_read_as_openjd_reads_them(text):
    from openjd.model import IntRangeExpr

    expected = sorted(f for part in text.split(",") for f in IntRangeExpr.from_str(part))
    assert list(FrameRange.parse(text)) == expected


def test_frame_range_text_round_trips():
    frames = FrameRange.parse("1001-1003,1005,1007-1008")
    assert str(frames) == "1001-1003,1005,1007-1008"
    assert FrameRange.parse(str(frames)) == frames
    assert (len(frames), frames.first, frames.last, 1005 in frames, 1004 in frames) == (6, 1001, 1008, True, False)


@pytest.mark.parametrize(
    "pattern, frame, expected",
    [
        ("shots/plate.####.exr", 1001, "shots/plate.1001.exr"),
        ("plate.####.exr", 7, "plate.0007.exr"),
        ("plate.#.exr", 7, "plate.7.exr"),
        ("plate.%04d.exr", 42, "plate.0042.exr"),
        ("plate.%d.exr", 42, "plate.42.exr"),
        ("plate.@.png", 1001, "plate.1001.png"),
        ("plate.@@@.png", 5, "plate.005.png"),
        ("v#2/plate.####.exr", 1, "v#2/plate.0001.exr"),  # a token in a folder name is not the token
    ],
)
def test_frame_path(pattern, frame, expected):
    assert has_frame_token(pattern)
    assert frame_path(pattern, frame) == expected


def test_plain_names_have_no_token():
    assert not has_frame_token("plate.1001.exr")
    assert not has_frame_token("v#2/plate.exr")
    with pytest.raises(VfxkeyError, match="no frame token"):
        frame_path("plate.exr", 1)


def test_scan_frames_finds_exactly_the_names_frame_path_makes(tmp_path):
    for name in ["plate.1001.exr", "plate.1002.exr", "plate.1005.exr", "plate.10000.exr",
                 "plate.01003.exr", "plate.1004.exr.tmp", "other.1003.exr", "plate.1006.png"]:
        (tmp_path / name).write_bytes(b"x")
    pattern = str(tmp_path / "plate.####.exr")
    assert scan_frames(pattern) == [1001, 1002, 1005, 10000]
    assert scan_frames(str(tmp_path / "plate.%04d.exr")) == [1001, 1002, 1005, 10000]
    assert scan_frames(str(tmp_path / "plate.@.exr")) == [1001, 1002, 1005, 10000]
    assert scan_frames(str(tmp_path / "nowhere" / "plate.####.exr")) == []
