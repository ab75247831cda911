"""A library failing while frames are keyed (OpenCV, out of memory) is one line naming the
file and frame, exit code 4 (data), and nothing half-written: the frames before it are whole,
the frame that failed and the ones after it are not there, no temporary is left."""

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner
from shots import green_screen_frame, make_shot, write_png

from vfxkey.cli import main
from vfxkey.errors import VfxkeyError
from vfxkey.io.images import reads_whole
from vfxkey.matte import greenpost
from vfxkey.shot.run import render
from vfxkey.shot.spec import load_spec


def vfxkey(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_line(result) -> str:
    """The one error line of a failed command; there is no traceback."""
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    return errors[0].removeprefix("Error: ")


def write_float_exr(path, pixels: np.ndarray) -> None:
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 3, "float")), oiio.geterror()
    assert out.write_image(np.ascontiguousarray(pixels, np.float32)), out.geterror()
    out.close()


@pytest.fixture
def shot_screen(tmp_path):
    """A screen file measured on a 64x48 green-screen still, and that still's three-frame sequence."""
    for frame in (1001, 1002, 1003):
        write_png(tmp_path / "in" / f"gs.{frame}.png", green_screen_frame(64, 48, frame - 1001))
    result = vfxkey("key", tmp_path / "in" / "gs.1001.png", "-o", tmp_path / "measured" / "key.exr")
    assert result.exit_code == 0, result.output
    return tmp_path / "measured" / "key.screen.json"


def test_opencv_failing_on_a_frame_is_one_line_naming_it_and_the_frames_before_are_whole(tmp_path, shot_screen,
                                                                                     monkeypatch):
    # No valid input found makes OpenCV fail inside the keyer (a frame under two pixels a side
    # did: it is refused by name now, below), so the bilateral filter is handed an image type
    # it refuses from the second frame on: a real cv2.error, worded by OpenCV.
    denoise, calls = greenpost._denoise, []

    def refused_from_the_second_frame(rgb, strength, sigma=None):
        calls.append(1)
        return denoise(rgb if len(calls) == 1 else rgb.astype(np.float64), strength, sigma)

    monkeypatch.setattr(greenpost, "_denoise", refused_from_the_second_frame)
    result = vfxkey("key", tmp_path / "in" / "gs.####.png", "-o", tmp_path / "out" / "key.####.exr",
                    "--screen-from", shot_screen, "--threads", "1")
    assert result.exit_code == 4, result.output
    assert error_line(result) == (f"{tmp_path / 'in' / 'gs.1002.png'} (frame 1002): keying the frame failed: "
                                  "OpenCV's bilateralFilter: Bilateral filtering is only implemented for 8u and 32f "
                                  "images")  # OpenCV's reason, not its source file
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["key.1001.exr"]
    assert reads_whole(str(tmp_path / "out" / "key.1001.exr"))


def opencv_out_of_memory(*args, **kwargs):
    error = cv2.error()
    error.code, error.err, error.func = cv2.Error.StsNoMem, "Failed to allocate 99532800 bytes", "OutOfMemoryError"
    raise error


def numpy_out_of_memory(*args, **kwargs):
    raise MemoryError((48, 64, 3), np.dtype(np.float32))


@pytest.mark.parametrize("failure", [numpy_out_of_memory, opencv_out_of_memory])
@pytest.mark.parametrize("threads", [1, 4])
def test_running_out_of_memory_while_keying_names_the_frame_its_size_and_what_helps(tmp_path, shot_screen, monkeypatch,
                                                                                    failure, threads):
    monkeypatch.setattr(greenpost, "_denoise", failure)  # the bilateral filter: a frame-sized allocation
    result = vfxkey("key", tmp_path / "in" / "gs.####.png", "-o", tmp_path / "out" / "key.####.exr",
                    "--screen-from", shot_screen, "--threads", threads)
    assert result.exit_code == 4, result.output
    where = f"{tmp_path / 'in' / 'gs.1001.png'} (frame 1001)"
    if threads == 1:  # one frame at a time: only more memory helps
        assert error_line(result) == f"{where}: out of memory keying a 64x48 frame: give the task more memory"
    else:  # two frames at once (two OpenCV threads each): the option that keys fewer
        assert error_line(result) == (f"{where}: --threads 4: out of memory keying a 64x48 frame, 2 frames at once: "
                                      "fewer threads key fewer frames at once (or give the task more memory)")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.exr*"))


def test_running_out_of_memory_measuring_the_screen_is_one_line_naming_the_reference_frame(tmp_path, monkeypatch):
    spec = make_shot(tmp_path, frames=2, width=64, height=48)
    monkeypatch.setattr(greenpost, "_denoise", numpy_out_of_memory)
    result = vfxkey("render", spec)
    assert result.exit_code == 4, result.output
    assert error_line(result) == (f"{tmp_path / 'plate_in' / 'gs.####.png'} (frame 1001): out of memory measuring the "
                                  "screen on a 64x48 frame: give the task more memory")
    assert not list((tmp_path / "render").rglob("*.exr*")) and not list((tmp_path / "render").rglob("*.json*"))


def test_the_library_names_the_threads_setting_and_a_spec_render_words_it_as_its_option(tmp_path, shot_screen,
                                                                                      monkeypatch):
    spec = make_shot(tmp_path / "shot", frames=2, width=64, height=48)
    spec.write_text(spec.read_text().replace("despill = 1.0", f'despill = 1.0\nscreen_from = "{shot_screen}"'))
    monkeypatch.setattr(greenpost, "_denoise", numpy_out_of_memory)
    cv2.setNumThreads(4)  # the task's bound, as --threads sets it (the module's pools are restored after)
    with pytest.raises(VfxkeyError) as error:
        render(load_spec(spec))
    assert error.value.setting == "threads" and error.value.frame == 1001
    assert str(error.value).endswith(": threads 4: out of memory keying a 64x48 frame, 2 frames at once: fewer "
                                     "threads key fewer frames at once (or give the task more memory)")
    assert "--" not in str(error.value)
    result = vfxkey("render", spec, "--threads", "4")
    assert ": --threads 4: out of memory keying a 64x48 frame" in error_line(result)


@pytest.mark.parametrize("width, height", [(1, 1), (1, 4)])
def test_a_frame_too_small_to_key_is_one_line_naming_it(tmp_path, shot_screen, width, height):
    # OpenCV reads a 1x1 or 4x1 array as a scalar: the keyer failed with a ValueError (1x1) or an
    # OpenCV error (1x4) deep inside. A frame under two pixels a side is refused by name.
    write_float_exr(tmp_path / "tiny.exr", np.full((height, width, 3), (0.05, 0.4, 0.08), np.float32))
    result = vfxkey("key", tmp_path / "tiny.exr", "-o", tmp_path / "out" / "key.exr", "--screen-from", shot_screen)
    assert result.exit_code == 2, result.output
    assert error_line(result) == (f"{tmp_path / 'tiny.exr'} (frame 1): a {width}x{height} image is too small to key "
                                  "(at least 2 pixels a side)")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_strip_two_pixels_tall_is_still_measured_when_shrunk_for_its_spill():
    strip = np.broadcast_to(np.float32([0.05, 0.4, 0.08]), (2, 1930, 3)).copy()
    strip[:, 900:1000] = (0.5, 0.3, 0.2)
    assert greenpost.measure_screen(strip).channel == 1  # shrunk to 960x2 for the spill, not 960x1
