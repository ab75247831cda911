"""Reading stills, sequences and folders: formats, channels, colour, missing frames, NaN."""

import numpy as np
import pytest
from io_files import write_image, write_parts

from vfxkey.errors import DataError, VfxkeyError
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange
from vfxkey.io.write import write_exr


def srgb_to_linear(v):
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


@pytest.mark.parametrize("ext, fmt, step", [("png", "uint8", 255), ("png", "uint16", 65535), ("tif", "uint16", 65535)])
def test_integer_images_are_srgb_decoded_with_straight_alpha_untouched(tmp_path, gradient, ext, fmt, step):
    path = write_image(tmp_path / f"still.{ext}", gradient, fmt)
    source = open_source(path)
    assert (source.info.kind, source.info.bit_depth, source.info.channels) == ("still", fmt, 4)
    assert source.info.colorspace == "sRGB Encoded Rec.709 (sRGB)"

    frame = source.read(1)
    stored = np.round(gradient * step) / step
    assert not frame.premultiplied
    np.testing.assert_allclose(frame.rgb, srgb_to_linear(stored[..., :3]), atol=1e-5)
    np.testing.assert_allclose(frame.alpha, stored[..., 3], atol=1e-7)
    # Straight colour where alpha < 1 is not divided or multiplied on the way in.
    np.testing.assert_allclose(frame.premultiplied_rgba()[..., :3], frame.rgb * frame.alpha[..., None], atol=1e-7)


def test_float_tiff_is_taken_as_linear_working_space(tmp_path, gradient):
    path = write_image(tmp_path / "still.tif", gradient[..., :3] * 4.0, "float")
    source = open_source(path)
    assert (source.info.bit_depth, source.info.colorspace, source.info.channels) == ("float", "Linear Rec.709 (sRGB)", 3)
    frame = source.read(1)
    np.testing.assert_array_equal(frame.rgb, gradient[..., :3] * 4.0)
    assert frame.alpha is None
    assert np.all(frame.premultiplied_rgba()[..., 3] == 1.0)


def test_ten_bit_dpx(tmp_path, gradient):
    path = write_image(tmp_path / "scan.dpx", gradient[..., :3], "uint16", oiio__BitsPerSample=10)
    source = open_source(path, input_colorspace="Linear Rec.709 (sRGB)")
    assert source.info.bit_depth == "uint10"
    # Within one 10-bit code value (OIIO's writer truncates rather than rounds).
    np.testing.assert_allclose(source.read(1).rgb, gradient[..., :3], atol=1.0001 / 1023)
    assert len(np.unique(source.read(1).rgb)) > 10


def test_jpeg_and_grey_images(tmp_path):
    flat = np.full((8, 8, 3), 0.5, np.float32)
    jpeg = open_source(write_image(tmp_path / "flat.jpg", flat)).read(1)
    np.testing.assert_allclose(jpeg.rgb, srgb_to_linear(128 / 255), atol=3e-3)

    grey = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    frame = open_source(write_image(tmp_path / "grey.png", grey, "uint16")).read(1)
    assert frame.rgb.shape == (4, 4, 3) and frame.alpha is None
    for channel in range(3):
        np.testing.assert_allclose(frame.rgb[..., channel], srgb_to_linear(np.round(grey * 65535) / 65535), atol=1e-5)

    grey_alpha = np.stack([grey, 1 - grey], axis=-1)
    frame = open_source(write_image(tmp_path / "ya.png", grey_alpha, "uint16")).read(1)
    np.testing.assert_allclose(frame.alpha, np.round((1 - grey) * 65535) / 65535, atol=1e-7)
    np.testing.assert_allclose(frame.rgb[..., 1], srgb_to_linear(np.round(grey * 65535) / 65535), atol=1e-5)


def test_exr_colour_and_alpha_are_found_by_name_in_layers_and_parts(tmp_path):
    """A renderer's EXR: other layers beside the beauty, or a depth part before it."""
    beauty = np.tile(np.array([0.1, 0.2, 0.3, 0.5], np.float32), (4, 6, 1))
    depth, diffuse = np.full((4, 6, 1), 42.0, np.float32), np.full((4, 6, 3), 0.9, np.float32)
    layers = write_parts(tmp_path / "layers.exr", [("beauty", ["diffuse.R", "diffuse.G", "diffuse.B", "R", "G", "B",
                                                                "A", "Z"], np.dstack([diffuse, beauty, depth]))])
    parts = write_parts(tmp_path / "parts.exr", [("depth", ["Z"], depth), ("rgba", ["R", "G", "B", "A"], beauty)])
    for path in (layers, parts):
        source = open_source(path)
        frame = source.read(1)
        assert source.info.channels == 4
        np.testing.assert_allclose(frame.premultiplied_rgba(), beauty, atol=1e-3)
    nothing = write_parts(tmp_path / "aovs.exr", [("depth", ["Z"], depth), ("normals", ["N.x", "N.y", "N.z"], diffuse)])
    with pytest.raises(VfxkeyError, match=r"aovs\.exr \(frame 1\): no colour channels \(R, G, B or Y\) in any "
                                          r"part: depth \[Z\]; normals \[N\.x, N\.y, N\.z\]"):
        open_source(nothing)
    # Some of R, G, B: the others read as 0, as Nuke reads them (issue 23; it was refused).
    write_image(tmp_path / "two.exr", np.full((4, 6, 2), 0.5, np.float32), "half")  # OIIO names them R, G
    two = open_source(tmp_path / "two.exr")
    assert two.info.channel_names == "R, G (B absent: read as 0)"
    np.testing.assert_allclose(two.read(1).premultiplied_rgba()[0, 0], [0.5, 0.5, 0.0, 1.0])
    # In a sequence every frame's header is read first: a frame with no colour stops the run before it starts.
    write_parts(tmp_path / "seq.1001.exr", [("depth", ["Z"], depth), ("rgba", ["R", "G", "B", "A"], beauty)])
    write_parts(tmp_path / "seq.1002.exr", [("depth", ["Z"], depth)])
    with pytest.raises(VfxkeyError, match=r"seq\.1002\.exr \(frame 1002\): no colour channels"):
        open_source(tmp_path / "seq.####.exr")


def test_input_and_working_space_choices(tmp_path):
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 1.0
    path = write_image(tmp_path / "red.png", red)
    frame = open_source(path, working_space="ACEScg").read(1)
    np.testing.assert_allclose(frame.rgb[0, 0], [0.61309732, 0.07019372, 0.02061559], atol=1e-5)
    raw = open_source(path, input_colorspace="lin_rec709_scene")
    assert raw.info.colorspace == "Linear Rec.709 (sRGB)"
    np.testing.assert_array_equal(raw.read(1).rgb, red)


@pytest.mark.parametrize("fmt, working_space, compact", [("uint8", "Linear Rec.709 (sRGB)", True),
                                                         ("uint8", "ACEScg", False), ("uint16", "Linear Rec.709 (sRGB)", False)])
def test_a_frame_held_compactly_converts_back_to_the_same_bits(tmp_path, gradient, fmt, working_space, compact):
    # 8-bit codes whose conversion is a table lookup are kept (a quarter of float32's memory)
    # and made an array again on use: bit for bit the frame's rgb. Otherwise rgb itself is held.
    frame = open_source(write_image(tmp_path / "still.png", gradient, fmt), working_space=working_space).read(1)
    held = frame.compact_rgb()
    assert (held is not frame.rgb) == compact
    if compact:
        assert held.codes.dtype == np.uint8 and held.shape == frame.rgb.shape
    again = np.ascontiguousarray(held, dtype=np.float32)
    assert again.dtype == np.float32 and np.array_equal(again.view(np.uint32), frame.rgb.view(np.uint32))


def test_kept_codes_are_converted_when_rgb_is_first_read_and_only_then(tmp_path, gradient, monkeypatch):
    # The keyer keys a frame from its codes (compact_rgb): the reader must not convert them
    # as well (work done twice). Reading rgb converts once and keeps the result.
    import vfxkey.io.colour as colour

    conversions = []
    convert_codes = colour._convert_codes
    monkeypatch.setattr(colour, "_convert_codes", lambda *a: conversions.append(a[1:]) or convert_codes(*a))
    source = open_source(write_image(tmp_path / "still.png", gradient, "uint8"))
    frame = source.read(1)
    assert conversions == []
    rgb = frame.rgb
    assert frame.rgb is rgb and len(conversions) == 1 and rgb.dtype == np.float32
    assert np.array_equal(rgb, np.asarray(frame.compact_rgb()))


def write_sequence(folder, frames, size=(4, 6)):
    for number in frames:
        rgba = np.full(size + (4,), number / 1000.0, np.float32)
        rgba[..., 3] = 1.0
        write_exr(folder / f"plate.{number}.exr", rgba, colorspace="ACEScg")
    return str(folder / "plate.####.exr")


def test_sequence_lists_missing_frames(tmp_path):
    pattern = write_sequence(tmp_path, [1001, 1002, 1004, 1007])
    with pytest.raises(VfxkeyError, match=r"plate\.####\.exr: missing frames 1003,1005-1006 of 1001-1007"):
        open_source(pattern)
    # What exists where, and no option of a command the caller may not have (issue 23).
    with pytest.raises(DataError, match=r"missing frames 1005-1006,1008 of 1004-1008; \S*plate\.####\.exr has "
                                        r"frames 1001-1002,1004,1007$") as caught:
        open_source(pattern, FrameRange.parse("1004-1008"))
    assert caught.value.exit_code == 4
    with pytest.raises(DataError, match=r"none of frames 1010-1012 found; \S*plate\.####\.exr has frames "
                                        r"1001-1002,1004,1007$"):
        open_source(pattern, FrameRange.parse("1010-1012"))


def test_sequence_reads_frames_in_order_with_its_colour_space(tmp_path):
    pattern = write_sequence(tmp_path, range(1001, 1006))
    source = open_source(pattern, FrameRange.parse("1001-1005x2"))
    with pytest.raises(VfxkeyError, match=r"plate\.####\.exr \(frame 1006\): no such frame"):
        source.read(1006)
    assert source.info.kind == "sequence" and source.info.colorspace == "ACEScg"
    frames = list(source)
    assert [f.number for f in frames] == [1001, 1003, 1005] and len(source) == 3
    assert frames[0].rgb.flags.c_contiguous and frames[0].alpha.flags.c_contiguous
    assert frames[0].rgb.dtype == frames[0].alpha.dtype == np.float32
    assert frames[1].source == str(tmp_path / "plate.1003.exr")
    # ACEScg grey stays grey in Linear Rec.709 (same white point after adaptation).
    np.testing.assert_allclose(frames[1].rgb, np.float16(1.003), rtol=2e-3)


def test_missing_frames_held_or_black(tmp_path):
    pattern = write_sequence(tmp_path, [1001, 1002, 1005])
    held = open_source(pattern, missing="hold")
    assert held.info.missing == [1003, 1004] and held.info.frames == [1001, 1002, 1003, 1004, 1005]
    frames = {f.number: f for f in held}
    np.testing.assert_array_equal(frames[1004].rgb, frames[1002].rgb)
    black = open_source(pattern, FrameRange.parse("1000-1001"), missing="black")
    frame = black.read(1000)
    assert frame.number == 1000 and not frame.rgb.any() and not frame.alpha.any()
    # Holding before the first frame shows the first frame.
    early = open_source(pattern, FrameRange.parse("999-1001"), missing="hold")
    np.testing.assert_array_equal(early.read(999).rgb, frames[1001].rgb)
    with pytest.raises(VfxkeyError, match="none of frames 990-999 found"):
        open_source(pattern, FrameRange.parse("990-999"), missing="hold")


def test_mixed_resolutions_in_a_sequence(tmp_path):
    write_sequence(tmp_path, [1001, 1002])
    pattern = write_sequence(tmp_path, [1003], size=(5, 6))
    with pytest.raises(VfxkeyError, match=r"plate\.1003\.exr \(frame 1003\): display window \(0 0\) - \(5 4\), 6x5 differs "
                       r"from the sequence's \(0 0\) - \(5 3\), 6x4$"):
        open_source(pattern)


def test_folder_of_stills_is_numbered_in_name_order(tmp_path, gradient):
    for name in ["b.png", "a.png", "c.tif"]:
        write_image(tmp_path / name, gradient)
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(tmp_path)
    assert source.info.kind == "stills" and source.info.frames == [1, 2, 3]
    assert [f.source for f in source] == [str(tmp_path / n) for n in ["a.png", "b.png", "c.tif"]]


def test_nan_and_inf_are_counted_then_zeroed_or_refused(tmp_path):
    rgba = np.ones((3, 3, 4), np.float32)
    rgba[0, 0, 0] = np.nan
    rgba[1, 1, 1] = np.inf
    rgba[2, 2, 3] = -np.inf
    write_image(tmp_path / "bad.1001.exr", rgba, "half")  # vfxkey's own writer never writes NaN/Inf
    warnings = []
    frame = open_source(tmp_path / "bad.####.exr", warn=warnings.append).read(1001)
    assert warnings == [f"{tmp_path / 'bad.1001.exr'} (frame 1001): 3 NaN/Inf pixel values set to 0"]
    assert np.isfinite(frame.rgb).all() and frame.alpha[2, 2] == 0.0 and frame.rgb[0, 0, 0] == 0.0
    with pytest.raises(VfxkeyError, match=r"bad\.1001\.exr \(frame 1001\): 3 NaN/Inf pixel values"):
        open_source(tmp_path / "bad.####.exr", nan="error").read(1001)


def test_frame_alpha_conventions():
    from vfxkey.io.frame import Frame

    rgb = np.array([[[0.2, 0.4, 0.6], [0.2, 0.4, 0.6], [0.3, 0.0, 0.0]]], np.float32)
    alpha = np.array([[0.5, 1.0, 0.0]], np.float32)
    premultiplied = Frame(1, rgb, alpha, True, "x.exr")
    np.testing.assert_allclose(premultiplied.straight_rgba()[0], [[0.4, 0.8, 1.2, 0.5], [0.2, 0.4, 0.6, 1.0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(premultiplied.premultiplied_rgba()[..., :3], rgb)
    straight = Frame(1, rgb, alpha, False, "x.png")
    np.testing.assert_allclose(straight.premultiplied_rgba()[0], [[0.1, 0.2, 0.3, 0.5], [0.2, 0.4, 0.6, 1.0], [0, 0, 0, 0]])
    opaque = Frame(1, rgb, None, False, "x.jpg")
    np.testing.assert_array_equal(opaque.straight_rgba()[..., 3], 1.0)
    np.testing.assert_array_equal(rgb[0, 0], np.float32([0.2, 0.4, 0.6]))  # the frame's arrays are not modified
