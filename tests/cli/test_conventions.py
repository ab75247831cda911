"""The command line's conventions (docs/cli.md): exit codes, --json, --quiet, plain progress
lines off a terminal, a closed pipe, a missing extra, and no raw library lines on stderr.

Run as a user runs it: the ``vfxkey`` command in a subprocess whose stdout and stderr are
pipes (not a terminal), so what a farm log or ``| head`` sees is what is checked."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from vfxkey.io.write import write_exr

SAMPLE = "samples/shot010"


def vfxkey(*args, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from vfxkey.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, **kwargs)


@pytest.fixture
def plates(tmp_path):
    for number in (1001, 1002, 1003, 1005):
        rgba = np.full((4, 6, 4), 0.25, np.float32)
        rgba[..., 3] = 1.0
        write_exr(tmp_path / f"plate.{number}.exr", rgba, colorspace="Linear Rec.709 (sRGB)")
    return tmp_path / "plate.####.exr"


def test_exit_codes_tell_usage_from_data_errors(plates, tmp_path):
    bad_option = vfxkey("convert", plates, "--no-such-option")
    bad_setting = vfxkey("convert", plates, "-o", tmp_path / "o.####.exr", "--frames", "1001-1003",
                         "--input-colorspace", "No Such Space")
    missing = vfxkey("convert", plates, "-o", tmp_path / "o.####.exr", "--frames", "1001-1005")
    assert (bad_option.returncode, bad_setting.returncode, missing.returncode) == (2, 2, 4)
    # The missing frames' message says what exists where, and names no option of another command.
    assert missing.stderr.strip().splitlines()[-1].endswith(
        f"plate.####.exr: missing frames 1004 of 1001-1005; {plates} has frames 1001-1003,1005")
    assert "--missing" not in missing.stderr


def test_probe_json_holds_the_facts_as_values(plates):
    result = vfxkey("probe", plates, "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert (facts["kind"], facts["frames"], facts["frames_found"], facts["missing"]) == ("sequence", "1001-1005", 4, "1004")
    assert (facts["width"], facts["height"], facts["channel_names"]) == (6, 4, "R, G, B, A")
    assert facts["display_window"] == {"min": [0, 0], "max": [5, 3]}


def test_probe_names_the_sequence_a_numbered_still_belongs_to(plates, tmp_path):
    result = vfxkey("probe", tmp_path / "plate.1002.exr")
    assert result.returncode == 0, result.stderr
    assert f"a frame of {plates} (1001-1003,1005 on disk)" in result.stdout
    (tmp_path / "lone").mkdir()
    shutil.copy(tmp_path / "plate.1002.exr", tmp_path / "lone" / "plate.1002.exr")
    alone = vfxkey("probe", tmp_path / "lone" / "plate.1002.exr", "--json")
    assert json.loads(alone.stdout)["sequence"] is None


def test_probe_into_a_closed_pipe_exits_0(plates):
    # `vfxkey probe ... | head -1`: the reader goes away after one line.
    script = f"{sys.executable} -c 'from vfxkey.cli import main; main()' probe {plates} | head -1; " \
             "echo \"status ${PIPESTATUS[0]}\""
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert result.stdout.splitlines() == [f"path            {plates}", "status 0"], result.stdout
    assert "Error" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_convert_off_a_terminal_prints_one_plain_line_per_frame_and_quiet_none(plates, tmp_path):
    result = vfxkey("convert", plates, "-o", tmp_path / "out" / "o.####.exr", "--frames", "1001-1003")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"vfxkey convert: {i}/3 frame {1000 + i}" for i in (1, 2, 3)]
    assert not any(glyph in result.stderr for glyph in "━─█▏\x1b")
    quiet = vfxkey("convert", plates, "-o", tmp_path / "q" / "o.####.exr", "--frames", "1001-1003", "--quiet")
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert len(list((tmp_path / "q").glob("o.*.exr"))) == 3


def test_render_json_summarises_the_chunk(tmp_path):
    shot = tmp_path / "shot010"
    shutil.copytree(SAMPLE, shot)
    first = vfxkey("render", shot / "shot.toml", "--frames", "1001-1002", "--json", "-q")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # quiet: no per-frame lines, no list of files
    summary = json.loads(first.stdout)
    assert (summary["frames_written"], summary["frames_skipped"]) == ("1001-1002", "")
    assert str(shot / "render" / "shot010_comp.1002.exr") in summary["outputs"]
    again = json.loads(vfxkey("render", shot / "shot.toml", "--frames", "1001-1003", "--json", "-q").stdout)
    assert (again["frames_written"], again["frames_skipped"]) == ("1003", "1001-1002")


def test_a_command_of_a_missing_extra_says_which_to_install(tmp_path):
    # torch absent as in the core install: `import torch` fails as it would there
    # (CI's clean venv checks the real thing: tests/test_install.py).
    code = ("import sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "from vfxkey.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code, "generate", "--model", tmp_path, "--prompt", "x",
                             "--seed", "1", "--frames", "1001", "--size", "64x64", "-o", tmp_path / "e.####.exr"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: vfxkey generate needs torch, which the core install leaves out: "
        "pip install 'vfxkey[generate]' (README: Install)"]


def test_a_damaged_png_gives_vfxkey_s_line_only(tmp_path):
    """libpng printed its own raw `libpng error: ...` line before vfxkey's message."""
    import OpenImageIO as oiio

    data = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)
    oiio.ImageBuf(data).write(str(tmp_path / "gs.png"))
    whole = (tmp_path / "gs.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])  # in its pixels
    flipped = bytearray(whole)
    flipped[len(whole) // 2] ^= 0xFF
    (tmp_path / "flip.png").write_bytes(bytes(flipped))
    (tmp_path / "head.png").write_bytes(whole[:45])  # in its header
    cases = [(["convert", tmp_path / "cut.png", "-o", tmp_path / "o1.exr"],
              f"{tmp_path / 'cut.png'} (frame 1): truncated PNG: its IDAT chunk runs past the end of the file"),
             (["convert", tmp_path / "flip.png", "-o", tmp_path / "o2.exr"],
              f"{tmp_path / 'flip.png'} (frame 1): damaged PNG: its IDAT chunk fails its CRC check"),
             (["probe", tmp_path / "head.png"],
              f"{tmp_path / 'head.png'} (frame 1): truncated PNG: ")]
    for args, message in cases:
        result = vfxkey(*args)
        assert result.returncode == 4, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {message}"), result.stderr
