"""Interchange: vfxkey's files read right by other tools, and other tools' files read right by vfxkey.

Nothing here relies on vfxkey's own round trip alone (which cancels symmetric mistakes):
movies vfxkey writes are decoded by swscale inside PyAV (``rgb48le``/``rgba64le``, a path
vfxkey's reader does not use) and by the ``ffmpeg``/``ffprobe`` command line when present;
movies it reads are encoded by PyAV from plain ``rgb24`` arrays or by ``ffmpeg``. EXRs it
reads are made with OpenImageIO directly, and the windows it writes are checked with
``oiiotool --info -v``. Expected colours come from the BT.709 formulas, not from vfxkey.
"""

import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import OpenImageIO as oiio
import pytest
from av.video.reformatter import ColorRange, Colorspace
from click.testing import CliRunner
from io_files import write_image

from vfxkey.cli import main
from vfxkey.io.read import open_source
from vfxkey.io.window import Window
from vfxkey.io.write import ProResWriter, write_exr

REPO = Path(__file__).resolve().parents[2]
FFMPEG, FFPROBE = shutil.which("ffmpeg"), shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="ffmpeg/ffprobe command line not installed")
OIIOTOOL = shutil.which("oiiotool", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")

# Eight flat 16-pixel patches (so 4:2:0 / 4:2:2 chroma is flat where we measure), as 8-bit
# Rec.709 *encoded* code values: red, green, blue, white, black, grey 128, yellow, a skin tone.
PATCH_CODES = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0],
                        [128, 128, 128], [255, 255, 0], [224, 172, 105]], np.uint8)
PATCH, HEIGHT = 16, 32
WIDTH = PATCH * len(PATCH_CODES)


def bt709_oetf(linear: np.ndarray) -> np.ndarray:
    """ITU-R BT.709 OETF: scene-linear 0..1 -> encoded signal."""
    linear = np.clip(linear, 0.0, None)
    return np.where(linear < 0.018, 4.5 * linear, 1.099 * linear ** 0.45 - 0.099)


def bt709_inverse_oetf(encoded: np.ndarray) -> np.ndarray:
    encoded = np.asarray(encoded, np.float64)
    return np.where(encoded < 0.081, encoded / 4.5, ((encoded + 0.099) / 1.099) ** (1 / 0.45))


def patch_image() -> np.ndarray:
    """(HEIGHT, WIDTH, 3) uint8 encoded patches."""
    return np.repeat(PATCH_CODES, PATCH, axis=0)[None].repeat(HEIGHT, axis=0)


def patch_centres(pixels: np.ndarray) -> np.ndarray:
    """(patches, C) mean of each patch's central 8x8 pixels (away from chroma edges)."""
    rows = pixels[HEIGHT // 2 - 4 : HEIGHT // 2 + 4]
    return np.stack([rows[:, i * PATCH + 4 : i * PATCH + 12].reshape(-1, pixels.shape[-1]).mean(0)
                     for i in range(len(PATCH_CODES))])


# --------------------------------------------------------------------------- 1. movies


def write_vfxkey_prores(path) -> np.ndarray:
    """A vfxkey ProRes 4444 of the patches (opaque top half, alpha 0.5 bottom half); returns alpha."""
    linear = bt709_inverse_oetf(patch_image() / 255.0).astype(np.float32)
    alpha = np.ones((HEIGHT, WIDTH), np.float32)
    alpha[HEIGHT // 2 :] = 0.5
    with ProResWriter(path, WIDTH, HEIGHT, Fraction(24)) as writer:
        writer.write(np.dstack([linear * alpha[..., None], alpha]))
    return alpha


def swscale_rgba(path) -> np.ndarray:
    """First frame as (H, W, 4) 0..1 through swscale's rgba64le (BT.709, video range), not vfxkey's reader."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        rgba = frame.reformat(format="rgba64le", src_colorspace=Colorspace.ITU709,
                              src_color_range=ColorRange.MPEG, dst_color_range=ColorRange.JPEG).to_ndarray()
    return rgba.astype(np.float64) / 65535.0


def ffmpeg_rgba(path, width=WIDTH, height=HEIGHT) -> np.ndarray:
    """All frames as (N, H, W, 4) 0..1, decoded by the ffmpeg command line (BT.709, video range in)."""
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-vf", "scale=in_color_matrix=bt709:in_range=tv:out_range=pc",
         "-f", "rawvideo", "-pix_fmt", "rgba64le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint16).reshape(-1, height, width, 4).astype(np.float64) / 65535.0


def ffprobe_stream(path) -> dict[str, str]:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,profile,pix_fmt,color_range,color_space,color_transfer,color_primaries",
         "-of", "default=noprint_wrappers=1", str(path)], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def check_patches(rgba: np.ndarray, alpha: np.ndarray, tolerance: float) -> None:
    """Decoded top half = the patch codes, bottom half = the same straight colour; alpha as written."""
    want = PATCH_CODES / 255.0
    np.testing.assert_allclose(patch_centres(rgba[: HEIGHT // 2 + 4])[:, :3], want, atol=tolerance)
    bottom = rgba[HEIGHT // 2 :]
    centres = np.stack([bottom[2:6, i * PATCH + 4 : i * PATCH + 12, :3].reshape(-1, 3).mean(0)
                        for i in range(len(PATCH_CODES))])
    np.testing.assert_allclose(centres, want, atol=tolerance)  # straight colour in the movie
    np.testing.assert_allclose(rgba[..., 3], alpha, atol=2 / 1023)


def test_vfxkey_prores_decodes_to_the_right_colours_in_swscale(tmp_path):
    alpha = write_vfxkey_prores(tmp_path / "patches.mov")
    check_patches(swscale_rgba(tmp_path / "patches.mov"), alpha, tolerance=3 / 1023)
    with av.open(str(tmp_path / "patches.mov")) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        assert (frame.color_primaries, frame.color_trc, frame.colorspace, frame.color_range) == (1, 1, 1, 1)
        context = stream.codec_context
        assert (context.color_primaries, context.color_trc, context.colorspace) == (1, 1, 1)


@needs_ffmpeg
def test_vfxkey_prores_decodes_to_the_right_colours_in_ffmpeg_with_bt709_tags(tmp_path):
    alpha = write_vfxkey_prores(tmp_path / "patches.mov")
    check_patches(ffmpeg_rgba(tmp_path / "patches.mov")[0], alpha, tolerance=3 / 1023)
    assert ffprobe_stream(tmp_path / "patches.mov") == {
        "codec_name": "prores", "profile": "4444", "pix_fmt": "yuva444p12le", "color_range": "tv",
        "color_space": "bt709", "color_transfer": "bt709", "color_primaries": "bt709"}


def pyav_movie(path, codec: str, pix_fmt: str, *, full_range=False, matrix=Colorspace.ITU709,
               options=None) -> None:
    """Encode the patches with PyAV from a plain rgb24 array (no channel-order question),
    converted to Y'CbCr by swscale with ``matrix`` and tagged accordingly."""
    rgb = patch_image()
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, pix_fmt
        stream.options = options or {}
        tags = dict(color_primaries=1, color_trc=1, colorspace=1 if matrix == Colorspace.ITU709 else 6,
                    color_range=2 if full_range else 1)
        for name, value in tags.items():
            setattr(stream.codec_context, name, value)
        for index in range(2):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format=pix_fmt, dst_colorspace=matrix,
                dst_color_range=ColorRange.JPEG if full_range else ColorRange.MPEG)
            for name, value in tags.items():
                setattr(frame, name, value)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


MOVIES_BY_PYAV = {
    "prores 4444 (yuv444p10le)": dict(codec="prores_ks", pix_fmt="yuv444p10le", options={"profile": "4444"}),
    "prores 422 hq (yuv422p10le)": dict(codec="prores_ks", pix_fmt="yuv422p10le", options={"profile": "3"}),
    "h264 4:2:0 bt709": dict(codec="libx264", pix_fmt="yuv420p", options={"qp": "0"}),
    "h264 4:2:0 full range": dict(codec="libx264", pix_fmt="yuv420p", full_range=True, options={"qp": "0"}),
    "mjpeg yuvj420p bt601": dict(codec="mjpeg", pix_fmt="yuvj420p", full_range=True, matrix=Colorspace.ITU601,
                                 options={"q": "1"}),
}


# swscale's full-range RGB -> Y'CbCr stores neutral chroma as 127, not 128 (ffmpeg decodes
# such files to the same colours as vfxkey): a little more tolerance there; JPEG is lossy even at q 1.
TOLERANCE = {"h264 4:2:0 full range": 3 / 255, "mjpeg yuvj420p bt601": 4 / 255}


@pytest.mark.parametrize("case", MOVIES_BY_PYAV)
def test_movies_written_by_pyav_read_back_with_the_right_colours(tmp_path, case):
    path = tmp_path / ("in.mov" if "mjpeg" not in case else "in.avi")
    pyav_movie(path, **MOVIES_BY_PYAV[case])
    frame = open_source(path).read(1001)
    assert frame.alpha is None and frame.data_window == frame.display_window == Window(0, 0, WIDTH, HEIGHT)
    encoded = bt709_oetf(patch_centres(frame.rgb))  # Camera Rec.709 is the BT.709 OETF
    tolerance = TOLERANCE.get(case, 2 / 255)
    np.testing.assert_allclose(encoded, PATCH_CODES / 255.0, atol=tolerance)


def chroma_wave(height: int = 64, width: int = 128) -> np.ndarray:
    """(H, W, 3) uint8 encoded: red and blue swing against each other (period 12 px across,
    20 down) over a steady green, so the picture is mostly chroma detail near 4:2:0's limit."""
    y, x = np.mgrid[:height, :width]
    swing = 0.3 * np.sin(2 * np.pi * (x / 12.0 + y / 20.0))
    return np.round(np.stack([0.5 + swing, np.full_like(swing, 0.5), 0.5 - swing], -1) * 255).astype(np.uint8)


@needs_ffmpeg
def test_4_2_0_chroma_written_by_the_ffmpeg_command_line_is_read_back_close_to_the_picture(tmp_path):
    """A lossless 4:2:0 file (FFV1) holds the picture but for its halved chroma; the reader's
    upsampling decides how much colour detail comes back. Measured: swscale's default
    bilinear 5.7/255 mean error, nearest 9.0/255, the reader's bicubic 1.4/255."""
    wave, path = chroma_wave(), tmp_path / "wave.mkv"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{wave.shape[1]}x{wave.shape[0]}",
         "-r", "24", "-i", "-", "-vf", "scale=out_color_matrix=bt709:out_range=tv", "-c:v", "ffv1",
         "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_range", "tv", str(path)],
        input=wave.tobytes(), check=True)
    assert ffprobe_stream(path)["pix_fmt"] == "yuv420p"
    encoded = bt709_oetf(open_source(path).read(1001).rgb)
    error = np.abs(encoded - wave / 255.0)[4:-4, 4:-4]  # the border is extrapolated
    assert error.mean() < 2.5 / 255 and error.max() < 8 / 255


@needs_ffmpeg
@pytest.mark.parametrize("profile, pix_fmt", [("3", "yuv422p10le"), ("4444", "yuv444p10le")])
def test_prores_written_by_the_ffmpeg_command_line_reads_back_with_the_right_colours(tmp_path, profile, pix_fmt):
    path = tmp_path / "ffmpeg.mov"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", "24",
         "-i", "-", "-vf", "scale=out_color_matrix=bt709:out_range=tv", "-c:v", "prores_ks",
         "-profile:v", profile, "-pix_fmt", pix_fmt, "-color_primaries", "bt709", "-color_trc", "bt709",
         "-colorspace", "bt709", "-color_range", "tv", str(path)],
        input=patch_image().tobytes(), check=True)
    assert ffprobe_stream(path)["pix_fmt"].startswith(pix_fmt[:7])  # the decoder reports 4444 as 12-bit
    frame = open_source(path).read(1001)
    np.testing.assert_allclose(bt709_oetf(patch_centres(frame.rgb)), PATCH_CODES / 255.0, atol=2 / 255)


def test_readme_sample_movie_shows_the_colours_of_its_exrs(tmp_path):
    """The sample shot keyed (two frames of it), its gs_key.mov decoded by swscale and by
    ffmpeg when present, against the straight, Rec.709-encoded colour of its EXRs."""
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(main, ["key", str(REPO / "samples/shot010/greenscreen/gs.####.png"), "-o",
                                  str(out / "gs_key.####.exr"), "--frames", "1001-1002"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["convert", str(out / "gs_key.####.exr"), "-o", str(out / "gs_key.mov")])
    assert result.exit_code == 0, result.output

    exrs = []
    for frame in (1001, 1002):
        pixels = oiio.ImageBuf(str(out / f"gs_key.{frame}.exr")).get_pixels(oiio.FLOAT)
        alpha = pixels[..., 3]
        straight = np.divide(pixels[..., :3], alpha[..., None], out=np.zeros_like(pixels[..., :3]),
                             where=alpha[..., None] > 0)
        exrs.append(np.dstack([np.clip(bt709_oetf(straight), 0, 1), alpha]))
    exrs = np.stack(exrs)
    height, width = exrs.shape[1:3]
    decoders = [np.stack([swscale_rgba(out / "gs_key.mov")])]
    if FFMPEG:
        decoders.append(ffmpeg_rgba(out / "gs_key.mov", width, height))
    for movie in decoders:
        visible = exrs[: len(movie), ..., 3] > 0.05
        difference = np.abs(movie[..., :3] - exrs[: len(movie), ..., :3])[visible]
        assert difference.mean() < 1.5 / 1023 and difference.max() < 16 / 1023  # ProRes is lossy at edges
        assert np.abs(movie[..., 3] - exrs[: len(movie), ..., 3]).max() < 2 / 1023


# --------------------------------------------------------------------------- 2. EXR windows


def write_windowed_exr(path, pixels: np.ndarray, data: Window, display: Window, *, tiled=False,
                       second_part: tuple[np.ndarray, Window] | None = None) -> str:
    """An RGBA half EXR with the given windows, written by OIIO (optionally tiled, or with a
    second part holding a ``Z`` channel with another data window)."""
    specs = []
    spec = oiio.ImageSpec(data.width, data.height, 4, "half")
    spec.x, spec.y = data.x, data.y
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = display.x, display.y, display.width, display.height
    spec.channelnames = ("R", "G", "B", "A")
    spec.alpha_channel = 3
    spec["oiio:ColorSpace"] = "lin_rec709_scene"
    if tiled:
        spec.tile_width = spec.tile_height = 16
    specs.append(spec)
    if second_part is not None:
        z, z_window = second_part
        z_spec = oiio.ImageSpec(z_window.width, z_window.height, 1, "float")
        z_spec.x, z_spec.y, z_spec.channelnames = z_window.x, z_window.y, ("Z",)
        z_spec.full_x, z_spec.full_y = display.x, display.y
        z_spec.full_width, z_spec.full_height = display.width, display.height
        specs.append(z_spec)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), specs), oiio.geterror()
    assert out.write_image(pixels.astype(np.float32)), out.geterror()
    if second_part is not None:
        assert out.open(str(path), specs[1], "AppendSubimage"), out.geterror()
        assert out.write_image(second_part[0].astype(np.float32)), out.geterror()
    out.close()
    return str(path)


def oiiotool_windows(path) -> tuple[Window, Window, str]:
    """(data window, display window, channel type) of the first part, as ``oiiotool --info -v`` reports them."""
    text = subprocess.run([OIIOTOOL, "--info", "-v", str(path)], capture_output=True, text=True, check=True).stdout
    width, height, kind = re.search(r":\s+(\d+) x\s+(\d+), \d+ channel, (\w+) openexr", text).groups()
    origin = re.search(r"pixel data origin: x=(-?\d+), y=(-?\d+)", text)
    x, y = (int(v) for v in origin.groups()) if origin else (0, 0)
    full_size = re.search(r"full/display size: (\d+) x (\d+)", text)
    full_origin = re.search(r"full/display origin: (-?\d+), (-?\d+)", text)
    fw, fh = (int(v) for v in full_size.groups()) if full_size else (int(width), int(height))
    fx, fy = (int(v) for v in full_origin.groups()) if full_origin else (0, 0)
    return Window(x, y, int(width), int(height)), Window(fx, fy, fw, fh), kind


def ramp(window: Window) -> np.ndarray:
    """Premultiplied RGBA whose colour encodes each pixel's display-window position (x, y)."""
    y, x = np.mgrid[window.y : window.y + window.height, window.x : window.x + window.width].astype(np.float32)
    return np.dstack([x / 100, y / 100, np.full_like(x, 0.25), np.ones_like(x)])


DISPLAY = Window(0, 0, 64, 32)
WINDOW_CASES = {
    "overscan (negative origin)": (Window(-16, -8, 96, 48), DISPLAY, {}),
    "crop inside the display": (Window(10, 4, 20, 12), DISPLAY, {}),
    "offset, partly outside": (Window(40, 20, 48, 24), DISPLAY, {}),
    "display window not at 0,0": (Window(-30, -20, 40, 30), Window(-32, -24, 64, 32), {}),
    "tiled overscan": (Window(-16, -8, 96, 48), DISPLAY, {"tiled": True}),
    "multi-part": (Window(-8, -4, 80, 40), DISPLAY, {"second_part": (np.ones((6, 5, 1)), Window(3, 2, 5, 6))}),
}


@pytest.mark.skipif(OIIOTOOL is None, reason="oiiotool not found")
@pytest.mark.parametrize("case", WINDOW_CASES)
def test_exr_windows_survive_convert_and_show_in_probe(tmp_path, case):
    data, display, options = WINDOW_CASES[case]
    source = write_windowed_exr(tmp_path / "in.exr", ramp(data), data, display, **options)
    assert oiiotool_windows(source)[:2] == (data, display)

    frame = open_source(source).read(1)
    assert (frame.data_window, frame.display_window) == (data, display)
    np.testing.assert_allclose(frame.rgb[0, 0, :2], [data.x / 100, data.y / 100], atol=1e-3)  # half precision

    runner = CliRunner()
    result = runner.invoke(main, ["probe", source])
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.output.splitlines())
    assert lines["display window"] == str(display) and lines["data window"] == str(data)
    assert lines["resolution"] == f"{display.width}x{display.height}"

    result = runner.invoke(main, ["convert", source, "-o", str(tmp_path / "out.exr")])
    assert result.exit_code == 0, result.output
    assert oiiotool_windows(tmp_path / "out.exr") == (data, display, "half")
    image = oiio.ImageInput.open(str(tmp_path / "out.exr"))
    pixels = image.read_image(0, 0, 0, 4, "float")
    image.close()
    np.testing.assert_allclose(pixels, ramp(data), atol=2e-3)  # the same pixels at the same place


@pytest.mark.skipif(OIIOTOOL is None, reason="oiiotool not found")
def test_crop_to_alpha_crops_within_the_data_window_in_display_coordinates(tmp_path):
    data = Window(-16, -8, 96, 48)
    rgba = ramp(data)
    rgba[..., 3] = 0.0
    rgba[2:5, 3:10, 3] = 1.0  # display pixels x -13..-7, y -6..-4: inside the overscan
    rgba[..., :3] *= rgba[..., 3:]
    source = write_windowed_exr(tmp_path / "in.exr", rgba, data, DISPLAY)
    result = CliRunner().invoke(main, ["convert", source, "-o", str(tmp_path / "out.exr"), "--crop-to-alpha"])
    assert result.exit_code == 0, result.output
    assert oiiotool_windows(tmp_path / "out.exr")[:2] == (Window(-13, -6, 7, 3), DISPLAY)


@pytest.mark.skipif(OIIOTOOL is None, reason="oiiotool not found")
def test_a_sequence_whose_data_windows_differ_converts_each_with_its_own(tmp_path):
    windows = {1001: Window(-16, -8, 96, 48), 1002: Window(5, 5, 10, 10), 1003: Window(0, 0, 64, 32)}
    for number, window in windows.items():
        write_windowed_exr(tmp_path / f"in.{number}.exr", ramp(window), window, DISPLAY)
    runner = CliRunner()
    result = runner.invoke(main, ["probe", str(tmp_path / "in.####.exr")])
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.output.splitlines())
    assert lines["data window"] == f"{Window(-16, -8, 96, 48)} (all frames together; they differ)"
    result = runner.invoke(main, ["convert", str(tmp_path / "in.####.exr"), "-o", str(tmp_path / "out.####.exr")])
    assert result.exit_code == 0, result.output
    for number, window in windows.items():
        assert oiiotool_windows(tmp_path / f"out.{number}.exr")[:2] == (window, DISPLAY)

    # A movie shows the display window: overscan dropped, a crop padded with transparent black.
    result = runner.invoke(main, ["convert", str(tmp_path / "in.####.exr"), "-o", str(tmp_path / "out.mov")])
    assert result.exit_code == 0, result.output
    movie = open_source(tmp_path / "out.mov")
    assert (movie.info.width, movie.info.height) == (64, 32)
    small = movie.read(1002)
    assert small.alpha[5:15, 5:15].min() > 0.99 and small.alpha[:5].max() == 0 and small.alpha[15:].max() == 0


def test_a_sequence_whose_display_window_changes_is_refused(tmp_path):
    write_windowed_exr(tmp_path / "in.1001.exr", ramp(DISPLAY), DISPLAY, DISPLAY)
    write_windowed_exr(tmp_path / "in.1002.exr", ramp(DISPLAY), DISPLAY, Window(0, 0, 64, 36))
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "in.####.exr"), "-o", str(tmp_path / "o.####.exr")])
    assert result.exit_code == 4  # a data error (docs/cli.md)
    assert "in.1002.exr (frame 1002): display window (0 0) - (63 35), 64x36 differs" in " ".join(result.output.split())
    assert not list(tmp_path.glob("o.*"))


def green_screen(path, data: Window, display: Window) -> None:
    """A green screen EXR (linear) with a grey square subject at display x -24..23, y -8..23
    (half of it in the overscan when the data window reaches there)."""
    rgba = np.zeros(data.shape + (4,), np.float32)
    rgba[..., :3] = (0.02, 0.45, 0.03)
    rgba[..., 3] = 1.0
    rgba[max(0, -8 - data.y) : 24 - data.y, max(0, -24 - data.x) : 24 - data.x, :3] = 0.35
    write_windowed_exr(path, rgba, data, display)


@pytest.mark.skipif(OIIOTOOL is None, reason="oiiotool not found")
def test_a_key_of_an_exr_with_overscan_keeps_the_overscan(tmp_path):
    display, data, crop = Window(0, 0, 128, 72), Window(-32, -16, 192, 104), Window(10, 5, 100, 60)
    green_screen(tmp_path / "gs.1001.exr", data, display)
    green_screen(tmp_path / "gs.1002.exr", crop, display)  # frames may differ in data window
    result = CliRunner().invoke(main, ["key", str(tmp_path / "gs.####.exr"), "-o", str(tmp_path / "key.####.exr"),
                                       "--preview", str(tmp_path / "comp.####.png")])
    assert result.exit_code == 0, result.output
    assert oiiotool_windows(tmp_path / "key.1001.exr")[:2] == (data, display)
    assert oiiotool_windows(tmp_path / "key.1002.exr")[:2] == (crop, display)
    image = oiio.ImageInput.open(str(tmp_path / "key.1001.exr"))
    alpha = image.read_image(0, 0, 0, 4, "float")[..., 3]
    image.close()
    assert alpha[12:36, 12:52].min() > 0.95  # the subject, overscan part included
    assert alpha[60:, 100:].max() < 0.05 and alpha[:4, 100:].max() < 0.05  # screen, in and outside the display
    cropped = oiio.ImageBuf(str(tmp_path / "key.1002.exr")).get_pixels(oiio.FLOAT)[..., 3]
    assert cropped[2:16, 2:12].min() > 0.95 and cropped[30:, 30:].max() < 0.05
    assert oiio.ImageInput.open(str(tmp_path / "comp.1001.png")).spec().width == display.width


# --------------------------------------------------------------------------- 3. half overflow


def test_values_beyond_half_are_clamped_with_a_count_or_kept_as_float(tmp_path):
    """Like OpenEXR's WideFloatRange image: a float file with values half cannot hold."""
    rgb = np.array([[[1e6, -1e6, 70000.0], [np.inf, 0.5, np.nan], [65504.0, -2.0, 1.0]]], np.float32)
    source = write_image(tmp_path / "wide.exr", rgb, "float")
    runner = CliRunner()
    result = runner.invoke(main, ["convert", source, "-o", str(tmp_path / "half.exr")])
    assert result.exit_code == 0, result.output
    stderr = " ".join(result.stderr.split())
    assert "wide.exr (frame 1): 2 NaN/Inf pixel values set to 0" in stderr  # the reader, as before
    assert "half.exr (frame 1): 3 pixel values beyond +-65504 (Inf included) clamped to it" in stderr
    half = oiio.ImageBuf(str(tmp_path / "half.exr"))
    assert str(half.spec().format) == "half"
    pixels = half.get_pixels(oiio.FLOAT)[..., :3]
    assert np.isfinite(pixels).all()
    np.testing.assert_array_equal(pixels, [[[65504, -65504, 65504], [0, 0.5, 0], [65504, -2, 1]]])

    result = runner.invoke(main, ["convert", source, "-o", str(tmp_path / "float.exr"), "--data-type", "float"])
    assert result.exit_code == 0 and "clamped" not in result.stderr
    wide = oiio.ImageBuf(str(tmp_path / "float.exr"))
    assert str(wide.spec().format) == "float"
    np.testing.assert_array_equal(wide.get_pixels(oiio.FLOAT)[..., :3],
                                  [[[1e6, -1e6, 70000], [0, 0.5, 0], [65504, -2, 1]]])


@needs_ffmpeg
def test_a_float16_element_is_read_back_exactly_by_the_ffmpeg_cli(tmp_path):
    """A render hands half elements to the writer as float16 (written as they are): FFmpeg's
    own EXR decoder reads the very values, negative and above 1 included."""
    rgba = (np.random.default_rng(0).random((6, 8, 4)) * 4.0 - 1.0).astype(np.float16)
    write_exr(tmp_path / "f16.exr", rgba, colorspace="ACEScg")
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", str(tmp_path / "f16.exr"), "-f", "rawvideo",
                          "-pix_fmt", "gbrapf32le", "-"], capture_output=True, check=True).stdout
    g, b, r, a = np.frombuffer(raw, np.float32).reshape(4, 6, 8)
    np.testing.assert_array_equal(np.stack([r, g, b, a], axis=-1), rgba.astype(np.float32))


def test_writers_never_store_nan_or_inf(tmp_path):
    rgba = np.ones((4, 16, 4), np.float32)
    rgba[0, 0, 0], rgba[1, 1, 1], rgba[2, 2, 2] = np.nan, np.inf, -np.inf
    warnings = []
    write_exr(tmp_path / "x.exr", rgba, colorspace="ACEScg", frame=7, warn=warnings.append)
    assert warnings == [f"{tmp_path / 'x.exr'} (frame 7): 1 NaN pixel values set to 0, "
                        "2 pixel values beyond +-65504 (Inf included) clamped to it"]
    assert rgba[0, 0, 0] != rgba[0, 0, 0]  # the caller's array is left alone
    stored = oiio.ImageBuf(str(tmp_path / "x.exr")).get_pixels(oiio.FLOAT)
    assert np.isfinite(stored).all() and stored[1, 1, 1] == 65504 and stored[2, 2, 2] == -65504

    # A float16 array (how a render hands its half elements over) is cleaned the same way.
    write_exr(tmp_path / "h.exr", rgba.astype(np.float16), colorspace="ACEScg", frame=7, warn=warnings.append)
    assert warnings[-1] == warnings[0].replace("x.exr", "h.exr")
    np.testing.assert_array_equal(oiio.ImageBuf(str(tmp_path / "h.exr")).get_pixels(oiio.FLOAT), stored)

    with ProResWriter(tmp_path / "x.mov", 16, 4, Fraction(24), warn=warnings.append) as writer:
        writer.write(rgba, frame=7)
    assert warnings[-1].startswith(f"{tmp_path / 'x.mov'} (frame 7): 1 NaN pixel values set to 0")
    assert swscale_rgba(tmp_path / "x.mov")[0, 0, 0] < 0.02  # NaN stored as 0 (among white; ProRes is lossy)


# --------------------------------------------------------------------------- 4. no side effects


def test_importing_vfxkey_changes_no_process_state(tmp_path):
    """Importing the library (as a Nuke session would) leaves the umask and the environment
    alone; written files still get the usual permissions from the umask."""
    script = f"""
import os
umask_calls = []
real_umask = os.umask
os.umask = lambda mask: umask_calls.append(mask) or real_umask(mask)
before = dict(os.environ)
import vfxkey.io.read, vfxkey.io.write, vfxkey.generate, vfxkey.cli
assert umask_calls == [], umask_calls
assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
os.umask = real_umask
import numpy as np
for mask in (0o022, 0o077, 0o002):
    os.umask(mask)
    path = os.path.join({str(tmp_path)!r}, f"m{{mask:o}}.exr")
    vfxkey.io.write.write_exr(path, np.zeros((2, 2, 4), np.float32), colorspace="ACEScg")
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask, (oct(mask), oct(os.stat(path).st_mode))
print("ok")
"""
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_VERBOSITY")}
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
