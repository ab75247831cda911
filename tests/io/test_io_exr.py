"""EXR writing: exact half-float round trips, metadata, crops, compressions, atomic output."""

from fractions import Fraction

import numpy as np
import pytest

from io_files import read_exr
from vfxkey import __version__
from vfxkey.errors import VfxkeyError
from vfxkey.io.read import open_source
from vfxkey.io.files import atomic_output
from vfxkey.io.write import write_exr


@pytest.fixture
def rgba():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(-0.5, 8.0, (5, 7, 4)).astype(np.float32)
    pixels[..., 3] = rng.uniform(0.0, 1.0, (5, 7))
    return pixels


@pytest.mark.parametrize("compression", ["zip", "piz", "zips", "none"])
def test_exr_round_trip_is_exact_to_half_precision(tmp_path, rgba, compression):
    path = tmp_path / "element.1001.exr"
    write_exr(path, rgba, colorspace="ACEScg", compression=compression,
              metadata={"seed": 42, "screen": "green", "strength": 0.5},
              fps=Fraction(24000, 1001), frame=1001)

    pixels, spec = read_exr(path)
    np.testing.assert_array_equal(pixels, rgba.astype(np.float16).astype(np.float32))
    assert str(spec.format) == "half"
    assert spec.channelnames == ("R", "G", "B", "A") and spec.alpha_channel == 3
    assert spec.getattribute("compression") == compression
    assert spec.getattribute("oiio:ColorSpace") == "lin_ap1_scene"  # OpenEXR colorInteropID for ACEScg
    assert spec.getattribute("vfxkey:colorspace") == "ACEScg"
    assert spec.getattribute("FramesPerSecond") == (24000, 1001)
    assert spec.getattribute("vfxkey:version") == __version__
    assert spec.getattribute("vfxkey:frame") == 1001
    assert spec.getattribute("vfxkey:seed") == 42
    assert spec.getattribute("vfxkey:screen") == "green"
    assert spec.getattribute("vfxkey:strength") == pytest.approx(0.5)


def test_reading_our_exr_gives_back_premultiplied_working_space_frames(tmp_path, rgba):
    write_exr(tmp_path / "a.exr", rgba, colorspace="Linear Rec.709 (sRGB)")
    frame = open_source(tmp_path / "a.exr").read(1)
    assert frame.premultiplied
    np.testing.assert_array_equal(frame.premultiplied_rgba(), rgba.astype(np.float16).astype(np.float32))


def test_exr_recorded_acescg_is_converted_into_the_linear_rec709_working_space(tmp_path):
    # ACEScg (0.61309732, 0.07019372, 0.02061559) is Rec.709 pure red (see test_colour.py).
    rgba = np.array([[[0.61309732, 0.07019372, 0.02061559, 1.0]]], np.float32)
    write_exr(tmp_path / "red.exr", rgba, colorspace="ACEScg", compression="none")
    source = open_source(tmp_path / "red.exr")
    assert source.info.colorspace == "ACEScg"
    assert source.read(1).rgb[0, 0] == pytest.approx([1.0, 0.0, 0.0], abs=2e-3)  # half storage


def test_crop_to_alpha_keeps_the_display_window(tmp_path):
    rgba = np.zeros((10, 12, 4), np.float32)
    rgba[3:6, 4:9] = [0.25, 0.5, 0.75, 1.0]
    rgba[7, 2, 3] = 0.5  # a lone soft pixel extends the box
    write_exr(tmp_path / "crop.exr", rgba, colorspace="ACEScg", crop_to_alpha=True)

    pixels, spec = read_exr(tmp_path / "crop.exr")
    assert (spec.x, spec.y, spec.width, spec.height) == (2, 3, 7, 5)
    assert (spec.full_x, spec.full_y, spec.full_width, spec.full_height) == (0, 0, 12, 10)
    np.testing.assert_array_equal(pixels, rgba[3:8, 2:9])


def test_crop_of_an_empty_alpha_is_one_transparent_pixel(tmp_path):
    write_exr(tmp_path / "empty.exr", np.zeros((4, 4, 4), np.float32), colorspace="ACEScg", crop_to_alpha=True)
    pixels, spec = read_exr(tmp_path / "empty.exr")
    assert (spec.width, spec.height, spec.full_width, spec.full_height) == (1, 1, 4, 4)
    assert not pixels.any()


def test_dwaa_is_selectable_and_unknown_compressions_are_refused(tmp_path, rgba):
    write_exr(tmp_path / "dwaa.exr", rgba, colorspace="ACEScg", compression="dwaa")
    assert read_exr(tmp_path / "dwaa.exr")[1].getattribute("compression").startswith("dwaa")
    with pytest.raises(VfxkeyError, match="unknown EXR compression 'zipp'"):
        write_exr(tmp_path / "bad.exr", rgba, colorspace="ACEScg", compression="zipp")
    assert not (tmp_path / "bad.exr").exists()


def test_missing_output_folders_are_created(tmp_path, rgba):
    write_exr(tmp_path / "a" / "b" / "c.exr", rgba, colorspace="ACEScg")
    assert (tmp_path / "a" / "b" / "c.exr").is_file()


def test_atomic_output_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "out.exr"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            assert tmp.endswith(".exr") and tmp != str(target)
            open(tmp, "wb").write(b"partial")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_replaces_an_existing_file_only_when_complete(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            open(tmp, "w").write("new, half written")
            raise RuntimeError
    assert target.read_text() == "old"
    with atomic_output(target) as tmp:
        open(tmp, "w").write("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_float16_array_is_written_as_its_own_half_values_and_to_float_exactly(tmp_path, rgba):
    half = rgba.astype(np.float16)
    write_exr(tmp_path / "h.exr", half, colorspace="ACEScg")
    write_exr(tmp_path / "f.exr", half, colorspace="ACEScg", data_type="float")
    for name, data_type in (("h.exr", "half"), ("f.exr", "float")):
        pixels, spec = read_exr(tmp_path / name)
        assert str(spec.format) == data_type
        np.testing.assert_array_equal(pixels, half.astype(np.float32))


def test_half_pixels_at_the_edge_of_the_half_range_are_stored_and_warned_about_exactly():
    from vfxkey.io.write import stored_pixels

    warnings = []
    # 65510 rounds to the largest half (65504) without being within it: clamped with a count.
    beyond = np.array([[[65510.0, 1.0, -65510.0, 0.5]]], np.float32)
    np.testing.assert_array_equal(stored_pixels(beyond, "half", "f", warnings.append), [[[65504, 1, -65504, 0.5]]])
    assert warnings == ["f: 2 pixel values beyond +-65504 (Inf included) clamped to it"]
    # The largest half itself and everything within it are stored as they convert, silently.
    inside = np.array([[[65504.0, -65504.0, 1e-8, -0.0]]], np.float32)
    stored = stored_pixels(inside, "half", "f", warnings.append)
    assert stored.dtype == np.float16 and len(warnings) == 1
    np.testing.assert_array_equal(stored.view(np.uint16), inside.astype(np.float16).view(np.uint16))


def test_half_conversion_rounds_every_float32_as_numpy_does():
    from vfxkey.io.write import _half

    patterns = np.arange(0, 2**32, 1009, dtype=np.uint64).astype(np.uint32).view(np.float32)  # every sign, exponent
    finite = patterns[np.isfinite(patterns)]
    finite = finite[: finite.size // 64 * 64].reshape(-1, 16, 4)  # as frames are shaped: rows, columns, RGBA
    with np.errstate(over="ignore"):
        expected = finite.astype(np.float16)
    np.testing.assert_array_equal(_half(finite).view(np.uint16), expected.view(np.uint16))
