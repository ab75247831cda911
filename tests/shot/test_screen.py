"""The stored shot screen is read back only when everything it was measured from is the same."""

import json
import os

import numpy as np
import OpenImageIO as oiio
from click.testing import CliRunner
from shots import green_screen_frame, write_png

from vfxkey.cli import main


def key(input_folder, output_folder, *args):
    result = CliRunner().invoke(main, ["key", str(input_folder / "gs.####.png"), "-o",
                                       str(output_folder / "el.####.exr"), *args])
    assert result.exit_code == 0, result.output
    return output_folder / "el.screen.json"


def pixels(path):
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    try:
        return image.read_image("float")
    finally:
        image.close()


def shot(folder):
    for index in range(3):
        write_png(folder / f"gs.{1001 + index}.png", green_screen_frame(128, 80, index, noise=0.02))
    return folder


def test_a_change_of_despill_measures_the_screen_again(tmp_path):
    frames = shot(tmp_path / "in")
    key(frames, tmp_path / "out", "--despill", "0")
    without_spill = json.loads((tmp_path / "out" / "el.screen.json").read_text())
    assert without_spill["spill_radius"] is None  # despill 0 measures no spill reach
    again = json.loads(key(frames, tmp_path / "out", "--despill", "1").read_text())
    fresh = json.loads(key(frames, tmp_path / "fresh", "--despill", "1").read_text())
    assert fresh["spill_radius"] is not None
    assert again == fresh
    for frame in (1001, 1002, 1003):
        assert np.array_equal(pixels(tmp_path / "out" / f"el.{frame}.exr"),
                              pixels(tmp_path / "fresh" / f"el.{frame}.exr")), frame


def test_a_setting_the_screen_does_not_read_keeps_the_stored_screen(tmp_path):
    frames = shot(tmp_path / "in")
    stored = key(frames, tmp_path / "out")
    os.utime(stored, (1_000_000_000, 1_000_000_000))
    key(frames, tmp_path / "out", "--temporal", "0")  # measure_screen turns the temporal filter off itself
    assert stored.stat().st_mtime == 1_000_000_000
    key(frames, tmp_path / "out", "--despeckle", "4")
    assert stored.stat().st_mtime != 1_000_000_000
