"""Media as a compositor and a reviewer meet it (issue 23): files with some of R, G, B read
as Nuke reads them; the review movie has no alpha when the comp has none, a timecode
track, and the same display/view as the PNG previews; comp EXRs say where they came from.

Checked with readers vfxkey does not use: ffprobe/ffmpeg for movies, oiiotool and
OpenImageIO's own ImageInput for EXR metadata and PNGs; EXRs to read written by oiiotool."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner

from vfxkey.cli import main
from vfxkey.io.read import open_source

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "shot010"
FFMPEG, FFPROBE = shutil.which("ffmpeg"), shutil.which("ffprobe")
# OpenImageIO's wheel puts oiiotool beside this interpreter, on PATH only in an activated venv.
OIIOTOOL = shutil.which("oiiotool", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="ffmpeg/ffprobe command line not installed")
needs_oiiotool = pytest.mark.skipif(OIIOTOOL is None, reason="oiiotool not found")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def probe_streams(path) -> list[dict]:
    out = subprocess.run([FFPROBE, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def exr_attributes(path) -> dict:
    image = oiio.ImageInput.open(str(path))
    attributes = {a.name: a.value for a in image.spec().extra_attribs}
    image.close()
    return attributes


@needs_oiiotool
@pytest.mark.parametrize("names, values, expected", [
    # OpenEXR's WideFloatRange.exr is one half channel named G.
    ("G", "0.75", [0.0, 0.75, 0.0, 1.0]),
    ("R,G,A", "0.5,0.25,0.5", [0.5, 0.25, 0.0, 0.5]),
])
def test_an_exr_with_some_of_r_g_b_reads_the_others_as_0(tmp_path, names, values, expected):
    path = tmp_path / "partial.exr"
    count = len(names.split(","))
    subprocess.run([OIIOTOOL, "--pattern", f"constant:color={values}", "6x4", str(count), "--chnames", names,
                    "-d", "half", "-o", str(path)], check=True)
    source = open_source(str(path), working_space="Linear Rec.709 (sRGB)", input_colorspace="Linear Rec.709 (sRGB)")
    rgba = source.read(source.info.frames[0]).premultiplied_rgba()
    np.testing.assert_allclose(rgba[0, 0], expected, atol=1e-3)
    described = run("probe", path).output
    absent = [c for c in "RGB" if c not in names.split(",")]
    assert f"({', '.join(absent)} absent: read as 0)" in described
    assert "no colour channels" not in described


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    shot = tmp_path_factory.mktemp("media") / "shot010"
    shutil.copytree(SAMPLE, shot, ignore=shutil.ignore_patterns("render"))
    run("render", shot / "shot.toml")
    return shot / "render"


@needs_ffmpeg
def test_the_comp_movie_is_opaque_with_a_timecode_and_the_review_display(sample):
    facts = probe_streams(sample / "shot010_comp.mov")
    video, timecode = facts["streams"]
    assert video["pix_fmt"] == "yuv444p12le"  # ProRes 4444 without an alpha plane: the comp is opaque
    assert video["color_transfer"] == "iec61966-2-1" and video["color_primaries"] == "bt709"
    assert timecode["codec_tag_string"] == "tmcd"
    assert timecode["tags"]["timecode"] == "00:00:41:17"  # frame 1001 at 24 fps
    tags = facts["format"]["tags"]
    assert (tags["vfxkey:display"], tags["vfxkey:view"], tags["vfxkey:alpha"]) == ("sRGB - Display",
                                                                                  "Un-tone-mapped", "none")


@needs_ffmpeg
def test_the_comp_movie_and_the_png_previews_show_the_same_levels(sample):
    decoded = subprocess.run([FFMPEG, "-v", "error", "-i", str(sample / "shot010_comp.mov"), "-frames:v", "1",
                              "-f", "rawvideo", "-pix_fmt", "rgb48le", "-"], capture_output=True, check=True).stdout
    movie = np.frombuffer(decoded, np.uint16).reshape(360, 640, 3) / 65535.0
    image = oiio.ImageInput.open(str(sample / "preview" / "shot010_comp.1001.png"))
    preview = image.read_image("uint8")[..., :3] / 255.0
    display = image.spec().get_string_attribute("vfxkey:display")
    image.close()
    difference = np.abs(movie - preview)
    # Before: Camera Rec.709 against sRGB, 0.051 on average. Now the same display/view:
    # 8-bit rounding and ProRes' lossy chroma at edges only.
    assert difference.mean() < 0.004, difference.mean()
    assert np.percentile(difference, 99) < 0.03
    assert display == "sRGB - Display"  # and the preview says which


@needs_oiiotool
def test_comp_exrs_name_their_source_and_the_plate_s_colour_space(sample):
    comp = exr_attributes(sample / "shot010_comp.1003.exr")
    element = exr_attributes(sample / "shot010_element.1003.exr")
    assert comp["vfxkey:source"] == element["vfxkey:source"]  # the frame both were made from
    assert comp["vfxkey:source"].endswith("greenscreen/gs.1003.png")
    assert comp["vfxkey:plate_colorspace"] == "sRGB Encoded Rec.709 (sRGB)"  # plate.png records none: by kind


@needs_ffmpeg
def test_a_movie_made_from_a_movie_keeps_its_timecode_and_alpha_only_when_it_has_alpha(tmp_path):
    source = tmp_path / "plate.mov"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x32:rate=25:duration=0.2",
                    "-c:v", "prores_ks", "-profile:v", "3", "-timecode", "01:00:10:05", str(source)], check=True)
    run("convert", source, "-o", tmp_path / "opaque.mov", "--frames", "1002-1004")
    streams = probe_streams(tmp_path / "opaque.mov")["streams"]
    assert streams[0]["pix_fmt"] == "yuv444p12le"  # no alpha in, none out
    assert streams[1]["tags"]["timecode"] == "01:00:10:06"  # the source's, counted on to frame 1002
    run("convert", SAMPLE / "greenscreen" / "gs.####.png", "-o", tmp_path / "keyed.####.exr", "--frames",
        "1001-1002")
    run("key", tmp_path / "keyed.####.exr", "-o", tmp_path / "element.mov")
    keyed = probe_streams(tmp_path / "element.mov")["streams"]
    assert keyed[0]["pix_fmt"] == "yuva444p12le"  # a keyed element keeps its alpha
    assert keyed[1]["tags"]["timecode"] == "00:00:41:17"  # no source timecode: frame 1001 at 24 fps
