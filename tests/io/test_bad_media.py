"""Damaged or unusual media is caught when headers are read, or read right: a window larger than
vfxkey takes, a greyscale frame inside an RGB sequence, a plate whose data window is a crop of its
format, a companion shorter than the shot, a library failing while a frame is read.

The files are written with OIIO directly (io_files), not with vfxkey's writers."""

import numpy as np
import OpenImageIO as oiio
import pytest
from io_files import write_image

from vfxkey.errors import VfxkeyError
from vfxkey.io.companion import Companion
from vfxkey.io.read import open_source

LINEAR = "Linear Rec.709 (sRGB)"


def write_windowed_exr(path, pixels, data, display):
    """An RGB half EXR of ``pixels`` over the data window ``data`` = (x, y, w, h) in the display window ``display``."""
    spec = oiio.ImageSpec(data[2], data[3], 3, "half")
    spec.x, spec.y = data[0], data[1]
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = display
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(np.ascontiguousarray(pixels, np.float32)), out.geterror()
    out.close()
    return str(path)


def test_a_display_window_larger_than_vfxkey_takes_is_refused_when_the_header_is_read(tmp_path):
    plate = write_windowed_exr(tmp_path / "plate.exr", np.full((16, 16, 3), 0.5), (0, 0, 16, 16), (0, 0, 40000, 40000))
    with pytest.raises(VfxkeyError, match=r"plate\.exr \(frame \d+\): display window 40000x40000 is larger than "
                                          r"vfxkey takes \(16384 pixels a side\)"):
        Companion(plate, LINEAR, "plate")


def test_a_plate_holding_a_crop_of_its_format_is_placed_in_it_not_stretched(tmp_path):
    # The bottom-right quarter of a 64x36 format holds the pixels (0.5 grey); the rest is empty.
    plate = write_windowed_exr(tmp_path / "plate.exr", np.full((18, 32, 3), 0.5), (32, 18, 32, 18), (0, 0, 64, 36))
    image = Companion(plate, LINEAR, "plate").image(1001, (36, 64))
    assert image.shape == (36, 64, 3)
    assert np.all(image[:18, :] == 0.0) and np.all(image[:, :32] == 0.0)  # outside the data window: 0
    assert np.all(image[18:, 32:] == 0.5)
    # Resized to another format, it is the reframed picture that is resized.
    half = Companion(plate, LINEAR, "plate").image(1001, (18, 32))
    assert half[0, 0, 0] == 0.0 and half[-1, -1, 0] == pytest.approx(0.5, abs=1e-3)


def test_a_greyscale_frame_inside_an_rgb_sequence_is_refused_naming_it(tmp_path):
    rgb = np.dstack([np.full((8, 8), v) for v in (0.2, 0.7, 0.3)])
    for frame in (1001, 1003):
        write_image(tmp_path / f"gs.{frame}.png", rgb)
    write_image(tmp_path / "gs.1002.png", np.full((8, 8), 0.6))  # one channel
    with pytest.raises(VfxkeyError, match=r"gs\.1002\.png \(frame 1002\): holds grey, the sequence's first frame "
                                          r"RGB"):
        open_source(str(tmp_path / "gs.####.png"), working_space=LINEAR)


def test_a_companion_shorter_than_the_shot_is_named_without_a_command_line_option(tmp_path):
    for frame in (1001, 1002):
        write_image(tmp_path / f"plate.{frame}.png", np.full((8, 8, 3), 0.5))
    with pytest.raises(VfxkeyError) as error:
        Companion(str(tmp_path / "plate.####.png"), LINEAR, "plate").image(1006, (8, 8))
    assert str(error.value).endswith(": the plate has no frame 1006") and "--" not in str(error.value)


def test_a_library_failing_while_a_frame_is_read_is_one_line_naming_the_file_and_frame(tmp_path, monkeypatch):
    for frame in (1001, 1002):
        write_image(tmp_path / f"gs.{frame}.png", np.full((8, 8, 3), 0.5))
    source = open_source(str(tmp_path / "gs.####.png"), working_space=LINEAR)

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(oiio.ImageInput, "read_image", no_memory)
    with pytest.raises(VfxkeyError, match=r"gs\.####\.png \(frame 1002\): cannot read: out of memory$"):
        source.read(1002)
