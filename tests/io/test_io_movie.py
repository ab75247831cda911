"""ProRes 4444 round trips, movie reading and the frame writer's output forms."""

import logging
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np
import pytest
from io_files import read_exr

from vfxkey.errors import VfxkeyError
from vfxkey.io.colour import convert
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange
from vfxkey.io.write import ProResWriter, open_frame_writer, write_preview_png

TEN_BIT = 1.0 / 1023.0


@pytest.fixture
def patches():
    """Straight linear colour patches (red, green, blue, 18% grey, white, black, 0.5 grey, cyan)
    over two rows of opaque alpha and two rows of an alpha ramp 0..1.

    64 pixels wide: at some widths that are not a multiple of 16 (56 px among them) FFmpeg's
    ProRes encoders now and then write a corrupt block (see ProResWriter)."""
    colours = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.18, 0.18, 0.18], [1, 1, 1], [0, 0, 0], [0.5, 0.5, 0.5], [0, 1, 1]]
    straight = np.repeat(np.array(colours, np.float32), 8, axis=0)[None].repeat(16, axis=0)  # (16, 64, 3)
    alpha = np.ones(straight.shape[:2], np.float32)
    alpha[8:] = np.linspace(0.0, 1.0, straight.shape[1], dtype=np.float32)
    return straight, alpha


def test_prores_round_trip_within_ten_bits_with_bt709_tags(tmp_path, patches):
    straight, alpha = patches
    premultiplied = np.dstack([straight * alpha[..., None], alpha])
    path = tmp_path / "element.mov"
    with ProResWriter(path, 64, 16, Fraction(24000, 1001), metadata={"seed": 7}) as writer:
        for _ in range(3):
            writer.write(premultiplied)

    source = open_source(path, first=1001)
    info = source.info
    assert (info.kind, info.width, info.height, info.channels) == ("movie", 64, 16, 4)
    assert info.frames == [1001, 1002, 1003] and info.fps == Fraction(24000, 1001)
    assert info.colorspace == "Camera Rec.709"
    frame = source.read(1002)
    assert frame.number == 1002 and not frame.premultiplied
    # Compare in the encoded (Rec.709) domain where 10-bit quantisation happens.
    got = convert(frame.rgb, "Linear Rec.709 (sRGB)", "Camera Rec.709")
    want = convert(straight, "Linear Rec.709 (sRGB)", "Camera Rec.709")
    visible = alpha > 0
    assert np.abs(got - want)[visible].max() <= 2 * TEN_BIT
    assert np.abs(frame.alpha - alpha).max() <= 2 * TEN_BIT
    assert frame.alpha[:8].min() == 1.0 and frame.alpha[8:, 0].max() == 0.0

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores"
        assert container.metadata["vfxkey:alpha"] == "straight"
        assert container.metadata["vfxkey:seed"] == "7"
        assert "straight" in container.metadata["comment"]
        decoded = next(container.decode(stream))
        assert decoded.format.name.startswith("yuva444p")
        assert (decoded.color_primaries, decoded.color_trc, decoded.colorspace) == (1, 1, 1)  # BT.709
        cc = stream.codec_context
        assert (cc.color_primaries, cc.color_trc, cc.colorspace) == (1, 1, 1)


def test_movie_frames_map_to_shot_numbers_and_seek_back(tmp_path):
    path = tmp_path / "count.mov"
    with ProResWriter(path, 8, 8, Fraction(25)) as writer:
        for index in range(6):
            rgba = np.ones((8, 8, 4), np.float32)
            rgba[..., :3] = index / 10.0
            writer.write(rgba)
    source = open_source(path, FrameRange.parse("1002-1005x3"), first=1001)
    assert [f.number for f in source] == [1002, 1005]
    levels = [source.read(n).rgb[0, 0, 0] for n in (1005, 1002, 1006, 1001)]  # forward, back, forward, back
    np.testing.assert_allclose(levels, [0.4, 0.1, 0.5, 0.0], atol=3e-3)
    with pytest.raises(VfxkeyError, match=r"count\.mov: missing frames 1007-1008 of 1005-1008"):
        open_source(path, FrameRange.parse("1005-1008"))


def test_h264_movie_reads_as_rec709_without_alpha(tmp_path):
    path = tmp_path / "plate.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.options = {"qp": "0"}
        grey = np.full((32, 64, 3), 128, np.uint8)
        for index in range(4):
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    source = open_source(path, first=1)
    assert (source.info.frames, source.info.channels, source.info.fps) == ([1, 2, 3, 4], 3, Fraction(24))
    frame = source.read(3)
    assert frame.alpha is None
    # 128/255 in Camera Rec.709 -> linear, within 8-bit video quantisation.
    want = convert(np.full(3, 128 / 255, np.float32), "Camera Rec.709", "Linear Rec.709 (sRGB)")
    np.testing.assert_allclose(frame.rgb[16, 32], want, atol=6e-3)


def test_frame_writer_exr_pattern_single_file_and_folder(tmp_path):
    rgba = np.full((4, 4, 4), 0.5, np.float32)
    with open_frame_writer(tmp_path / "seq" / "out.####.exr", frame_count=2, fps=Fraction(24),
                           metadata={"screen": "green"}, compression="piz") as writer:
        written = [writer.write(n, rgba, source_name="plate.mov") for n in (1001, 1002)]
    assert written == [str(tmp_path / "seq" / f"out.{n}.exr") for n in (1001, 1002)]
    _, spec = read_exr(written[1])
    assert spec.getattribute("vfxkey:frame") == 1002 and spec.getattribute("vfxkey:source") == "plate.mov"
    assert spec.getattribute("vfxkey:screen") == "green" and spec.getattribute("compression") == "piz"
    assert spec.getattribute("FramesPerSecond") == (24, 1)

    with pytest.raises(VfxkeyError, match=r"single\.exr: output pattern has no frame token for 2 frames"):
        open_frame_writer(tmp_path / "single.exr", frame_count=2)
    with open_frame_writer(tmp_path / "single.exr", frame_count=1) as writer:
        writer.write(1, rgba)
    assert (tmp_path / "single.exr").is_file()

    with open_frame_writer(f"{tmp_path / 'stills'}/", frame_count=2) as writer:
        writer.write(1, rgba, source_name="/in/a.png")
        writer.write(2, rgba, source_name="/in/b.tif")
        with pytest.raises(VfxkeyError, match="a second frame would overwrite"):
            writer.write(3, rgba, source_name="/in/b.png")
    assert sorted(p.name for p in (tmp_path / "stills").iterdir()) == ["a.exr", "b.exr"]
    with pytest.raises(VfxkeyError, match="a folder output takes stills"):
        open_frame_writer(tmp_path / "stills", frame_count=2).write(1001, rgba, source_name="/in/shot.mov")


def test_frame_writer_movie_and_failed_movie_leaves_nothing(tmp_path):
    rgba = np.full((4, 6, 4), 0.5, np.float32)
    with open_frame_writer(tmp_path / "out.mov", frame_count=2, fps=Fraction(30000, 1001)) as writer:
        writer.write(1001, rgba)
        writer.write(1002, rgba)
    assert open_source(tmp_path / "out.mov").info.fps == Fraction(30000, 1001)

    with pytest.raises(VfxkeyError, match=r"bad\.mov \(frame 1002\): frame is 7x5 but the movie is 6x4"):
        with open_frame_writer(tmp_path / "bad.mov", frame_count=2, fps=Fraction(24)) as writer:
            writer.write(1001, rgba)
            writer.write(1002, np.zeros((5, 7, 4), np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mov"]


KILLED_WRITER = """
import sys, numpy as np
from fractions import Fraction
from vfxkey.io.write import ProResWriter
with ProResWriter(sys.argv[1], 64, 64, Fraction(24)) as writer:
    while True:
        writer.write(np.ones((64, 64, 4), np.float32))
"""


def test_a_writer_killed_mid_movie_leaves_no_final_file(tmp_path):
    target = tmp_path / "killed.mov"
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)])
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 0 for p in tmp_path.glob(".killed.*")):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
    assert not target.exists()


def test_preview_png_is_srgb_with_straight_alpha(tmp_path):
    rgb = np.full((2, 3, 3), 0.2158605, np.float32)  # linear for sRGB 128/255
    alpha = np.array([[0.0, 0.5, 1.0], [1.0, 1.0, 1.0]], np.float32)
    write_preview_png(tmp_path / "p" / "preview.png", rgb, alpha=alpha)
    frame = open_source(tmp_path / "p" / "preview.png", input_colorspace="Raw").read(1)
    np.testing.assert_allclose(frame.rgb, 128 / 255, atol=1e-6)
    np.testing.assert_allclose(frame.alpha[0], [0.0, 128 / 255, 1.0], atol=1e-6)


def test_frame_rates_from_pyav_18_fractions_and_pyav_19_avrationals():
    from vfxkey.io.movies import _rate

    class AVRational:  # PyAV 19's type: num/den, unset is 0/1
        def __init__(self, num, den):
            self.num, self.den = num, den

    assert _rate(Fraction(24000, 1001)) == Fraction(24000, 1001)
    assert _rate(AVRational(30000, 1001)) == Fraction(30000, 1001)
    assert _rate(AVRational(0, 1)) is None and _rate(None) is None and _rate(Fraction(0)) is None


def test_a_prores_width_that_is_not_a_multiple_of_16_is_warned_about(tmp_path, caplog):
    rgba = np.full((4, 56, 4), 0.5, np.float32)
    with caplog.at_level(logging.WARNING, logger="vfxkey.io.write"):
        with ProResWriter(tmp_path / "ok.mov", 64, 4, Fraction(24)) as writer:
            writer.write(np.full((4, 64, 4), 0.5, np.float32))
        assert caplog.records == []
        with ProResWriter(tmp_path / "odd.mov", 56, 4, Fraction(24)) as writer:
            writer.write(rgba)
    assert "odd.mov: width 56 is not a multiple of 16" in caplog.text
