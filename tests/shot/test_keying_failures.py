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


def test_opencv_failing_on_a_frame_is_one_line_naming_it_and_the_frames_before_are_whole(tmp_path, shot_screen):
    # A float EXR may hold values near float32's largest; on two pixels, after one such
    # frame, the keyer's smoothing turns them into NaN and OpenCV's K-Means refuses the
    # frame (the frame before it has no frame before it, and keys).
    pixels = np.array([[[3.0e38, 0.4, 0.08], [0.05, 0.4, 0.08]]], np.float32)
    for frame in (1001, 1002):
        write_float_exr(tmp_path / f"tiny.{frame}.exr", pixels)
    result = vfxkey("key", tmp_path / "tiny.####.exr", "-o", tmp_path / "out" / "key.####.exr",
                    "--screen-from", shot_screen)
    assert result.exit_code == 4, result.output
    message = error_line(result)
    assert message.startswith(f"{tmp_path / 'tiny.1002.exr'} (frame 1002): keying the frame failed: OpenCV's "), message
    assert "OpenCV(" not in message and ".cpp" not in message  # OpenCV's reason, not its source file
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["key.1001.exr"]


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
