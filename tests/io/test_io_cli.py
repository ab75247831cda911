"""``vfxkey probe`` and ``vfxkey convert`` on real files, and every bad input through the CLI:
exit code 2 (usage) or 4 (data), one line naming the file (and frame), no traceback, no output left behind."""

import re
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner
from io_files import read_exr, write_image, write_parts

from vfxkey.cli import main
from vfxkey.io.read import open_source
from vfxkey.io.write import write_exr


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write_plates(folder, frames, size=(4, 6), value=0.25):
    folder.mkdir(parents=True, exist_ok=True)
    for number in frames:
        rgba = np.full(size + (4,), value, np.float32)
        rgba[..., 3] = 1.0
        write_exr(folder / f"plate.{number}.exr", rgba, colorspace="Linear Rec.709 (sRGB)",
                  fps=Fraction(24))
    return folder / "plate.####.exr"


def test_probe_reports_a_sequence_with_holes(tmp_path):
    pattern = write_plates(tmp_path, [1001, 1002, 1005])
    result = run("probe", pattern)
    assert result.exit_code == 0, result.output
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.output.splitlines())
    assert lines["kind"] == "sequence"
    assert lines["frames found"] == "3"
    assert lines["range"] == "1001-1005"
    assert lines["missing"] == "1003-1004"
    assert lines["resolution"] == "6x4"
    assert lines["channels"] == "4 (R, G, B, A)"
    assert lines["bit depth"] == "half"
    assert lines["colour space"] == "Linear Rec.709 (sRGB)"
    assert lines["fps"] == "24"


def test_probe_says_which_channels_and_part_of_a_renderers_exr_are_read(tmp_path):
    depth, beauty = np.zeros((4, 6, 1), np.float32), np.ones((4, 6, 4), np.float32)
    aovs = np.zeros((4, 6, 9), np.float32)
    path = write_parts(tmp_path / "render.exr", [
        ("depth", ["Z"], depth),
        ("beauty", ["R", "G", "B", "A", *(f"aov{i}.{c}" for i in range(3) for c in "RGB")], np.dstack([beauty, aovs]))])
    result = run("probe", path)
    assert result.exit_code == 0, result.output
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.output.splitlines())
    assert lines["channels"] == ('4 (R, G, B, A of part 2 "beauty"; skipped: depth [Z]; also in it: aov0.R, aov0.G, '
                                 'aov0.B, aov1.R, aov1.G, aov1.B, aov2.R, aov2.G and 1 more)')


def test_convert_png_stills_to_exr_sequence_and_prores_and_back(tmp_path, gradient):
    write_image(tmp_path / "in" / "a.png", gradient, "uint16")
    write_image(tmp_path / "in" / "b.png", gradient[::-1], "uint16")

    result = run("convert", tmp_path / "in", "-o", tmp_path / "exr" / "el.####.exr", "--working-space", "ACEScg",
                 "--compression", "piz")
    assert result.exit_code == 0, result.output
    pixels, spec = read_exr(tmp_path / "exr" / "el.0002.exr")
    assert spec.getattribute("vfxkey:colorspace") == "ACEScg" and spec.getattribute("compression") == "piz"
    assert spec.getattribute("vfxkey:source") == str(tmp_path / "in" / "b.png")
    straight = open_source(tmp_path / "in" / "b.png", working_space="ACEScg").read(1)
    np.testing.assert_allclose(pixels, straight.premultiplied_rgba(), rtol=1e-3, atol=1e-4)  # half precision

    result = run("convert", tmp_path / "exr" / "el.####.exr", "-o", tmp_path / "el.mov", "--fps", "25")
    assert result.exit_code == 0, result.output
    movie = open_source(tmp_path / "el.mov", first=1)
    assert movie.info.frames == [1, 2] and movie.info.fps == Fraction(25)

    result = run("convert", tmp_path / "el.mov", "-o", f"{tmp_path / 'back'}/")
    assert result.exit_code == 2 and "folder output takes stills" in result.stderr
    assert not (tmp_path / "back").exists()
    result = run("convert", tmp_path / "el.mov", "-o", tmp_path / "back.exr", "--frames", "1002")
    assert result.exit_code == 0, result.output
    back = open_source(tmp_path / "back.exr").read(1)
    np.testing.assert_allclose(back.straight_rgba()[..., 3], straight.alpha, atol=2 / 1023)


def test_nan_zero_warns_with_the_count_and_writes(tmp_path):
    rgb = np.ones((2, 2, 3), np.float32)
    rgb[0, :, 0] = np.nan
    write_image(tmp_path / "nan.exr", rgb, "half")  # vfxkey's own writer never writes NaN
    result = run("convert", tmp_path / "nan.exr", "-o", tmp_path / "out.exr")
    assert result.exit_code == 0
    assert "nan.exr (frame 1): 2 NaN/Inf pixel values set to 0" in " ".join(result.stderr.split())  # rich wraps
    assert read_exr(tmp_path / "out.exr")[0][0, 0, 0] == 0.0


def truncated(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def audio_only_movie(path):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def noisy_exr(path):
    rgba = np.random.default_rng(1).uniform(0, 1, (64, 64, 4)).astype(np.float32)
    write_exr(path, rgba, colorspace="ACEScg", compression="none")
    return path


def bad_inputs(tmp_path):
    """(name, input, extra args, message pattern) for each bad input."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "empty.exr").write_bytes(b"")
    (src / "junk.png").write_bytes(b"this is not a png" * 10)
    (src / "junk.mov").write_bytes(b"this is not a movie" * 10)
    write_image(src / "big.png", np.random.default_rng(0).uniform(0, 1, (64, 64, 3)))
    truncated(src / "big.png")
    truncated(noisy_exr(src / "cut.exr"))
    audio_only_movie(src / "sound.mov")
    holes = write_plates(src / "holes", [1001, 1003])
    mixed = write_plates(src / "mixed", [1001, 1002])
    write_plates(src / "mixed", [1003], size=(5, 6))
    nan = tmp_path / "src" / "nan.exr"
    write_image(nan, np.full((2, 2, 4), np.inf, np.float32), "half")  # vfxkey's own writer never writes Inf
    depth = np.zeros((4, 6, 1), np.float32)
    aovs = write_parts(src / "aovs.exr", [("depth", ["Z"], depth), ("motion", ["MV.x", "MV.y"], np.dstack([depth] * 2))])
    good = write_plates(src / "good", [1001, 1002])
    (tmp_path / "a_file").write_text("not a folder")
    return [
        ("missing path", src / "nowhere.exr", [], r"nowhere\.exr: no such file or folder"),
        ("empty file", src / "empty.exr", [], r"empty\.exr: empty file"),
        ("corrupt png", src / "junk.png", [], r"junk\.png \(frame 1\): cannot read image: Not a PNG file"),
        ("truncated png", src / "big.png", [], r"big\.png \(frame 1\): truncated PNG: its IDAT chunk runs past the end"),
        ("truncated exr", src / "cut.exr", [], r"cut\.exr \(frame 1\): cannot read pixels"),
        ("no video stream", src / "sound.mov", [], r"sound\.mov: movie has no video stream"),
        ("corrupt movie", src / "junk.mov", [], r"junk\.mov: cannot read movie: .*Invalid data"),
        ("holes", holes, [], r"plate\.####\.exr: missing frames 1002 of 1001-1003"),
        ("mixed resolutions", mixed, [], r"plate\.1003\.exr \(frame 1003\): display window \(0 0\) - \(5 4\), 6x5 differs"),
        ("nan error", nan, ["--nan", "error"], r"nan\.exr \(frame 1\): 16 NaN/Inf pixel values"),
        ("no colour channels", aovs, [], r"aovs\.exr \(frame 1\): no colour channels \(R, G, B or Y\) in any part: "
                                         r"depth \[Z\]; motion \[MV\.x, MV\.y\]"),
        ("unknown colour space", good, ["--input-colorspace", "sRGB Encoded Rec.709"],
         r"unknown colour space 'sRGB Encoded Rec\.709'; did you mean 'sRGB Encoded Rec\.709 \(sRGB\)'"),
        ("unwritable folder", good, ["-o", tmp_path / "a_file" / "out.####.exr"],
         r"out\.1001\.exr: cannot write to folder .*a_file"),
        ("no frame token", good, ["-o", tmp_path / "out" / "single.exr"],
         r"single\.exr: output pattern has no frame token for 2 frames"),
    ]


BAD_INPUTS = ["missing path", "empty file", "corrupt png", "truncated png", "truncated exr", "no video stream",
              "corrupt movie", "holes", "mixed resolutions", "nan error", "no colour channels", "unknown colour space",
              "unwritable folder", "no frame token"]


# A request that cannot run is a usage error (exit 2); data missing, unreadable or
# unusable, or an output that cannot be written, is a data error (exit 4): docs/cli.md.
USAGE_ERRORS = {"unknown colour space", "no frame token"}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_or_4_and_leaves_no_output(tmp_path, case):
    cases = {name: (name, path, extra, pattern) for name, path, extra, pattern in bad_inputs(tmp_path)}
    assert sorted(cases) == sorted(BAD_INPUTS)
    name, path, extra, pattern = cases[case]
    args = ["convert", path, *extra]
    if "-o" not in extra:
        args += ["-o", tmp_path / "out" / "result.####.exr"]
    result = run(*args)

    assert result.exit_code == (2 if case in USAGE_ERRORS else 4), (name, result.output)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, (name, result.stderr)
    assert errors[0] == result.stderr.strip().splitlines()[-1]
    assert re.search(pattern, errors[0]), (name, errors[0])
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == [], (name, list(out.iterdir()))
    assert not list(tmp_path.glob("**/.*.tmp*")), name


def test_probe_reports_a_movie_with_an_exact_rate(tmp_path):
    from vfxkey.io.write import ProResWriter

    with ProResWriter(tmp_path / "el.mov", 10, 6, Fraction(24000, 1001)) as writer:
        for _ in range(3):
            writer.write(np.ones((6, 10, 4), np.float32))
    result = run("probe", tmp_path / "el.mov", "--first", "1")
    assert result.exit_code == 0, result.output
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.output.splitlines())
    assert (lines["kind"], lines["range"], lines["resolution"]) == ("movie", "1-3", "10x6")
    assert lines["channels"] == "4 (R, G, B, A from yuva444p12le)"
    assert lines["colour space"] == "Camera Rec.709" and lines["fps"] == "24000/1001 (23.976)"
