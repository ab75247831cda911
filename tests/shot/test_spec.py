"""The shot spec: every kind of bad value is one line naming the file and the key; good specs read right."""

import contextlib
import os
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from shots import make_shot

from vfxkey.cli import main
from vfxkey.errors import VfxkeyError
from vfxkey.shot.spec import SPEC_FORMAT, Placement, Transform, load_spec

# (what to replace in the test shot's TOML, with what, words the error must hold)
BAD = {
    "unknown key": ('despill = 1.0', 'despill = 1.0\nbogus = 1', "[element] bogus: unknown key"),
    "unknown table": ('[outputs]', '[render]\nx = 1\n\n[outputs]', "[render]: unknown table"),
    "missing name": ('name = "testshot"', '', "[shot] name: required"),
    "another format": ('name = "testshot"', 'format = "vfxkey.shot/2"\nname = "testshot"',
                       "[shot] format: 'vfxkey.shot/2' is not a format this vfxkey reads (vfxkey.shot/1)"),
    "bad name": ('name = "testshot"', 'name = "test shot"', "[shot] name"),
    "missing frames": ('frames = "1001-1006"', '', "[shot] frames: required"),
    "backwards frames": ('frames = "1001-1006"', 'frames = "1006-1001"', "[shot] frames: bad frame range"),
    "decimal fps": ('fps = "24000/1001"', 'fps = "23.976"', "[shot] fps: '23.976' is a decimal"),
    "float fps": ('fps = "24000/1001"', 'fps = 23.976', "[shot] fps: must be a string or an integer"),
    "zero fps": ('fps = "24000/1001"', 'fps = 0', "[shot] fps: 0: a frame rate from 1 to 1000 frames per second"),
    "unknown working space": ('fps = "24000/1001"', 'fps = 24\nworking_space = "Linear Rec.2020 nonsense"',
                              "[shot] working_space"),
    "missing plate": ('path = "plate.png"', 'path = "nowhere.png"', "[plate] path:"),
    "unknown plate colour space": ('path = "plate.png"', 'path = "plate.png"\ncolorspace = "sRGBish"',
                                   "[plate] colorspace"),
    "bad reformat": ('path = "plate.png"', 'path = "plate.png"\nreformat = "stretch"', "[plate] reformat"),
    "unknown mode": ('mode = "key"', 'mode = "paint"', "[element] mode: 'paint' is not one of key, generate"),
    "missing input": ('input = "plate_in/gs.####.png"', '', "[element] input: required"),
    "despill out of range": ('despill = 1.0', 'despill = 2.0', "[element] despill: 2.0: must be within 0..1"),
    "despill not a number": ('despill = 1.0', 'despill = "lots"', "[element] despill: must be"),
    "negative despeckle": ('despill = 1.0', 'despeckle = -3', "[element] despeckle"),
    "bad screen": ('despill = 1.0', 'screen = "#12"', "[element] screen: bad screen '#12'"),
    "bad screen frames": ('despill = 1.0', 'screen_frames = "x"', "[element] screen_frames: bad frame range"),
    "zero scale": ('scale = 0.9', 'scale = 0', "[placement] scale: must be > 0"),
    "bad position": ('frame = 1001\nposition = [64.0, 40.0]', 'frame = 1001\nposition = [64.0]',
                     "[placement.keys[0]] position: give [x, y]"),
    "key without values": ('frame = 1001\nposition = [64.0, 40.0]', 'frame = 1001',
                           "[placement.keys[0]] frame: key 1001 sets none of"),
    "frame keyed twice": ('frame = 1003', 'frame = 1001', "[placement] keys: frame keyed twice"),
    "element not EXR": ('element = "render/el.####.exr"', 'element = "render/el.####.png"', "[outputs] element"),
    "comp without token": ('comp = "render/comp.####.exr"', 'comp = "render/comp.exr"', "[outputs] comp"),
    "preview not PNG": ('preview = "render/preview/comp.####.png"', 'preview = "render/comp.####.jpg"',
                        "[outputs] preview: must end in .png"),
    "movie with token": ('movie = "render/comp.mov"', 'movie = "render/comp.####.mov"',
                         "[outputs] movie: takes no frame token"),
    "report not HTML": ('qc_report = "render/qc.html"', 'qc_report = "render/qc.pdf"', "[outputs] qc_report"),
    "unknown compression": ('qc_report = "render/qc.html"', 'compression = "lzma"', "[outputs] compression"),
    "save_screen for a key": ('qc_report = "render/qc.html"', 'save_screen = "render/s.####.png"',
                              "[outputs] save_screen: only for"),
    "not TOML": ('[outputs]', '[outputs', "not valid TOML"),
    # Values that used to pass the reader and fail later, as a traceback or a huge allocation.
    "implausible fps": ('fps = "24000/1001"', 'fps = "1/1000000"', "[shot] fps: '1/1000000': a frame rate from 1"),
    "huge fps": ('fps = "24000/1001"', 'fps = 100000', "[shot] fps: 100000: a frame rate from 1 to 1000"),
    "64-bit despeckle": ('despill = 1.0', 'despeckle = 1000000000000',
                         "[element] despeckle: 1000000000000 does not fit a 32-bit integer"),
    "NaN despill": ('despill = 1.0', 'despill = nan', "[element] despill: must be a finite number, got nan"),
    "infinite position": ('frame = 1001\nposition = [64.0, 40.0]', 'frame = 1001\nposition = [inf, 40.0]',
                          "[placement.keys[0]] position: give [x, y]"),
    "64-bit key frame": ('frame = 1003', 'frame = 3000000000', "[placement.keys[1]] frame: 3000000000 does not fit"),
    "too many frames": ('frames = "1001-1006"', 'frames = "1001-201000"',
                        "[shot] frames: bad frame range '1001-201000': more than 100000 frames"),
    "64-bit frame number": ('frames = "1001-1006"', 'frames = "1001-1006,3000000000"',
                            "[shot] frames: bad frame range '1001-1006,3000000000': frame numbers are 32-bit"),
    # Outputs that would overwrite an input or each other (issue 20: the footage was replaced, exit 0).
    "preview over the input": ('preview = "render/preview/comp.####.png"', 'preview = "plate_in/gs.####.png"',
                               "plate_in/gs.####.png would overwrite the element's input"),
    "preview over the input, other case": ('preview = "render/preview/comp.####.png"',
                                           'preview = "PLATE_IN/GS.@@@@.PNG"', "would overwrite the element's input"),
    "preview over the plate": ('preview = "render/preview/comp.####.png"', 'preview = "plate.png"',
                               "plate.png would overwrite the plate"),
    "element and comp the same, #### and %04d": ('comp = "render/comp.####.exr"', 'comp = "render/el.%04d.exr"',
                                                 "names the same files as the comp output"),
    "movie is the element movie": ('movie = "render/comp.mov"',
                                   'movie = "render/comp.mov"\nelement_movie = "render/./comp.mov"',
                                   "names the same files as the element movie output"),
    "display-referred working space": ('fps = "24000/1001"',
                                       'fps = 24\nworking_space = "sRGB Encoded Rec.709 (sRGB)"',
                                       "[shot] working_space: 'sRGB Encoded Rec.709 (sRGB)' is not scene-linear"),
}


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    return make_shot(tmp_path_factory.mktemp("spec"))


@pytest.mark.parametrize("case", list(BAD))
def test_every_bad_spec_is_one_line_naming_the_file_and_key(shot, case):
    old, new, words = BAD[case]
    text = shot.read_text()
    assert old in text, case
    bad = shot.parent / f"bad_{case.replace(' ', '_')}.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(VfxkeyError) as error:
        load_spec(bad)
    message = str(error.value)
    assert message.startswith(str(bad)) and words in message, message
    assert "\n" not in message


@pytest.mark.parametrize("old, new, words", [
    ('mode = "key"\ninput = "plate_in/gs.####.png"\ndespill = 1.0',
     'mode = "generate"\nmodel = "m"\nprompt = "a lantern"\nkey = "chartreuse"', "[element] key: 'chartreuse'"),
    ('mode = "key"\ninput = "plate_in/gs.####.png"\ndespill = 1.0',
     'mode = "generate"\nmodel = "m"\nprompt = "a lantern"\nsize = "64by64"', "[element] size: '64by64'"),
    ('mode = "key"\ninput = "plate_in/gs.####.png"\ndespill = 1.0',
     'mode = "generate"\nmodel = "m"\nprompt = "a lantern"\nsize = "40000x512"',
     "[element] size: '40000x512': at most 16384 pixels a side"),
    ('mode = "key"\ninput = "plate_in/gs.####.png"\ndespill = 1.0',
     'mode = "generate"\nmodel = "m"\nprompt = "a lantern"\ntemporal = "wobble"', "[element] temporal"),
    ('mode = "key"\ninput = "plate_in/gs.####.png"\ndespill = 1.0',
     'mode = "generate"\nmodel = "m"', "[element] prompt: required"),
])
def test_generate_settings_are_checked_by_name(shot, old, new, words):
    bad = shot.parent / "bad_generate.toml"
    bad.write_text(shot.read_text().replace(old, new))
    with pytest.raises(VfxkeyError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load_spec(bad)


def test_a_missing_spec_and_a_bad_one_exit_2_with_one_line_through_the_cli(shot, tmp_path):
    for spec, words in ((tmp_path / "nowhere.toml", "shot spec does not exist"),
                        (shot.parent / "bad_despill_out_of_range.toml", "[element] despill")):
        if not spec.exists() and "despill" in words:
            spec.write_text(shot.read_text().replace("despill = 1.0", "despill = 2.0"))
        result = CliRunner().invoke(main, ["render", str(spec)])
        assert result.exit_code == 2, result.output
        assert result.output.count("Error:") == 1 and words in result.output and "Traceback" not in result.output


def test_a_spec_that_is_a_fifo_is_refused_not_read_forever(tmp_path):
    fifo = tmp_path / "shot.toml"
    os.mkfifo(fifo)  # reading it waits for a writer: forever, on a farm

    def writer():  # so that a reader that waits does not hang this test: the FIFO gives it nothing
        time.sleep(2.0)
        with contextlib.suppress(OSError):  # nobody reading: the spec was refused
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=writer, daemon=True).start()
    with pytest.raises(VfxkeyError, match=r"shot\.toml: the shot spec is not a regular file"):
        load_spec(fifo)


def test_paths_resolve_against_the_spec_folder_and_fps_is_exact(shot, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the spec's folder
    spec = load_spec(shot)
    assert spec.element.input == str(shot.parent / "plate_in" / "gs.####.png")
    assert spec.outputs.element == str(shot.parent / "render" / "el.####.exr")
    assert spec.fps == Fraction(24000, 1001) and list(spec.frames) == list(range(1001, 1007))
    assert spec.element.keyer.despill == 1.0 and spec.element.keyer.plate_scale == 8  # keyer defaults


def test_placement_keys_interpolate_linearly_each_value_on_its_own_keys():
    placement = Placement(base=Transform(scale=0.5), keys=(
        (1001, {"position": (10.0, 20.0), "rotation": 0.0}),
        (1005, {"position": (30.0, 0.0)}),
        (1011, {"rotation": 10.0}),
    ))
    assert placement.at(990) == Transform(position=(10.0, 20.0), scale=0.5, rotation=0.0)  # held before
    assert placement.at(1002) == Transform(position=(15.0, 15.0), scale=0.5, rotation=1.0)
    assert placement.at(1008) == Transform(position=(30.0, 0.0), scale=0.5, rotation=7.0)  # position held after
    assert placement.at(1020).rotation == 10.0


def test_a_plate_or_hint_given_as_a_frame_pattern_is_read_as_a_sequence(shot):
    good = shot.parent / "pattern.toml"
    # The green-screen frames stand in for a plate sequence and a hint sequence.
    good.write_text(shot.read_text().replace('path = "plate.png"', 'path = "plate_in/gs.####.png"')
                    .replace('despill = 1.0', 'despill = 1.0\nhint = "plate_in/gs.####.png"'))
    spec = load_spec(good)
    assert spec.plate.path == spec.element.hint == str(shot.parent / "plate_in" / "gs.####.png")


def test_the_format_version_is_read_and_the_bridge_and_sample_write_this_one(shot):
    import ast

    versioned = shot.parent / "versioned.toml"
    versioned.write_text(shot.read_text().replace('name = "testshot"', f'format = "{SPEC_FORMAT}"\nname = "testshot"'))
    assert load_spec(versioned).name == "testshot"
    repo = Path(__file__).parents[2]
    bridge = ast.parse((repo / "nuke_bridge" / "vfxkey_bridge.py").read_text())
    written = {node.targets[0].id: node.value.value for node in bridge.body
               if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
               and isinstance(node.value, ast.Constant)}
    assert written["SPEC_FORMAT"] == SPEC_FORMAT
    assert load_spec(repo / "samples" / "shot010" / "shot.toml") is not None
    assert f'format = "{SPEC_FORMAT}"' in (repo / "samples" / "shot010" / "shot.toml").read_text()


def test_a_pivot_is_read_from_the_placement_table_and_held_on_every_frame(shot):
    spec = shot.parent / "pivot.toml"
    spec.write_text(shot.read_text().replace("[placement]\n", "[placement]\npivot = [64, 80.0]\n"))
    placement = load_spec(spec).placement
    assert placement.base.pivot == (64.0, 80.0)
    assert placement.at(1001).pivot == placement.at(1004).pivot == (64.0, 80.0)
    assert load_spec(shot).placement.at(1001).pivot is None  # default: the element's centre


@pytest.mark.parametrize("old, new, words", [
    ("[placement]\n", '[placement]\npivot = [64, "bottom"]\n', "[placement] pivot: give [x, y] in element pixels"),
    ("[placement]\n", "[placement]\npivot = [64]\n", "[placement] pivot: give [x, y] in element pixels"),
    ("frame = 1003\n", "frame = 1003\npivot = [1.0, 2.0]\n", "pivot"),  # not keyed
])
def test_a_bad_pivot_is_refused_naming_it(shot, old, new, words):
    bad = shot.parent / "bad_pivot.toml"
    bad.write_text(shot.read_text().replace(old, new, 1))
    with pytest.raises(VfxkeyError) as error:
        load_spec(bad)
    assert words in str(error.value) and "\n" not in str(error.value), error.value
