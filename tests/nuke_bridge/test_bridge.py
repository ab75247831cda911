"""The Nuke-side code against the fake ``nuke`` module: menu, panels -> shot.toml and
command lines, background runs, pastes."""

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from fake_nuke import BRIDGE, FakeNode

sys.path.insert(0, str(Path(__file__).parents[1] / "nuke"))
from nuke_files import write_png  # noqa: E402


def test_menu_is_built(nuke):
    import menu

    vfxkey = nuke.menu("Nuke").find("vfxkey")
    commands = {label: item for kind, label, item in vfxkey.items if kind == "command"}
    assert commands == {
        "Key selected Read…": nuke.bridge.key_selected_read,
        "Generate element…": nuke.bridge.generate_element,
        "Import vfxkey shot…": nuke.bridge.import_shot,
        "Submit to farm…": nuke.bridge.submit_to_farm,
    }
    assert menu.menu is vfxkey


def test_bridge_imports_nothing_of_vfxkey_and_parses_as_python_37():
    for name in ("menu.py", "vfxkey_bridge.py", "vfxkey_toml.py"):
        source = Path(BRIDGE, name).read_text()
        tree = ast.parse(source, feature_version=(3, 7))  # Nuke 13's Python
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert imported <= {"__future__", "functools", "math", "os", "re", "shlex", "signal", "subprocess", "threading",
                            "time", "nuke", "vfxkey_bridge", "vfxkey_toml"}, (name, imported)


def test_toml_strings_round_trip(nuke):
    import vfxkey_toml

    tricky = 'a "quoted" [red] fox\\n\tC:\\shots\\sh 010\\plate.####.exr\n%04d $HOME \x01 \x7f é'
    spec = {"top": 1, "shot": {"name": tricky, "fps": "24000/1001", "seed": 42, "ok": True,
                               "scale": 1.5, "position": [10.0, -5.0], "nested": {"k y": "v"}}}
    assert tomllib.loads(vfxkey_toml.dumps(spec)) == spec


def generate_setup(nuke, tmp_path):
    plate_file = tmp_path / "plates" / "plate.png"
    write_png(plate_file, np.full((360, 640, 3), 0.5, np.float32))
    plate = FakeNode("Read", "Plate1", 640, 360, file=str(plate_file), first=1, last=1,
                     colorspace="default (sRGB Encoded Rec.709 (sRGB))")
    plate.setSelected(True)
    nuke.nodes.append(plate)
    nuke.panel_answers["vfxkey: generate element"] = {
        "prompt": 'a "red" [fox], 50% \\ done', "seed": "7", "key colour": "blue", "frames": "1001-1004",
        "model path": str(tmp_path / "models" / "no model"), "position": "12 -4", "scale": "0.5",
        "rotation": "15"}
    return plate


def test_generate_panel_values_become_the_shot_and_the_command_line(nuke, tmp_path):
    generate_setup(nuke, tmp_path)
    job = nuke.bridge.generate_element()
    job.thread.join(timeout=120)

    panel = nuke.panels[-1]
    assert set(panel.fields) == {"prompt", "seed", "key colour", "frames", "model path", "position", "scale",
                                 "rotation"}
    assert panel.fields["position"] == "320 180"  # the plate's centre
    assert panel.choices["key colour"] == ["green", "blue"]
    shot = tmp_path / "comps" / "vfxkey" / "Plate1_gen7" / "v001" / "shot.toml"
    assert job.args == [os.environ["VFXKEY"], "render", str(shot)]
    spec = tomllib.loads(shot.read_text())
    assert spec["shot"] == {"format": "vfxkey.shot/1", "name": "Plate1_gen7_v001", "frames": "1001-1004", "fps": "24",
                            "seed": 7, "ocio_config": "ocio://studio-config-v1.0.0_aces-v1.3_ocio-v2.1"}
    assert spec["plate"] == {"path": str(tmp_path / "plates" / "plate.png"),
                             "colorspace": "sRGB Encoded Rec.709 (sRGB)"}
    assert spec["element"] == {"mode": "generate", "prompt": 'a "red" [fox], 50% \\ done',
                               "model": str(tmp_path / "models" / "no model"), "key": "blue", "size": "640x360"}
    assert spec["placement"] == {"position": [12.0, -4.0], "scale": 0.5, "rotation": 15.0}
    # the command line is logged beside the shot
    log = (shot.parent / "vfxkey_bridge.log").read_text()
    assert f"$ {os.environ['VFXKEY']} render {shot}" in log and "exit 2" in log

    # vfxkey refuses the shot (there is no model): the artist gets its one-line error, the
    # command and the log
    assert job.returncode == 2
    (message,) = nuke.messages
    assert message == (f"vfxkey render failed: {job.last_line}\n\ncommand:\n{os.environ['VFXKEY']} render {shot}"
                       f"\n\nlog: {shot.parent / 'vfxkey_bridge.log'}")
    assert job.last_line.startswith("Error: ") and job.last_line in log
    assert nuke.pastes == [] and job.followed_by is None


def test_cancel_stops_the_command_quietly(nuke, tmp_path):
    generate_setup(nuke, tmp_path)
    nuke.cancel = True  # the artist presses cancel on the progress bar at once
    job = nuke.bridge.generate_element()
    job.thread.join(timeout=120)
    assert job.cancelled and job.returncode != 0
    assert nuke.messages == [] and nuke.pastes == []
    assert (Path(job.log_path).read_text().splitlines()[-1]).endswith(" cancelled")


def test_artist_errors_become_messages(nuke, tmp_path):
    assert nuke.bridge.generate_element() is None
    assert nuke.messages == ["vfxkey: select one Read node"]
    nuke.root().name = lambda: "Root"  # never saved
    generate_setup(nuke, tmp_path)
    assert nuke.bridge.generate_element() is None
    assert "save the Nuke script first" in nuke.messages[-1]


def test_frame_ranges_for_progress(nuke):
    assert nuke.bridge._frames("1001-1004,1010") == [1001, 1002, 1003, 1004, 1010]
    assert nuke.bridge._frames("1001-1007x3") == [1001, 1004, 1007]
    with pytest.raises(ValueError, match="bad frame range"):
        nuke.bridge._frames("1001 to 1004")


def test_fps_as_rational(nuke):
    assert [nuke.bridge._fps_text(f) for f in (24.0, 23.976023976, 29.97002997, 25.0, 12.5)] == \
        ["24", "24000/1001", "30000/1001", "25", "12.5"]


def test_the_bridge_runs_without_vfxkey_or_numpy(tmp_path):
    code = ("import sys; sys.modules['numpy'] = sys.modules['vfxkey'] = None\n"
            "import fake_nuke; sys.modules['nuke'] = fake_nuke.make_module('x.nk')\n"
            "import menu; print('ok')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([BRIDGE, str(Path(__file__).parent)]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("knob, colorspace", [("default (sRGB Encoded Rec.709 (sRGB))", "sRGB Encoded Rec.709 (sRGB)"),
                                              ("default", None), ("ACEScg", "ACEScg")])
def test_read_colour_space_as_the_spec_wants_it(nuke, knob, colorspace):
    read = FakeNode("Read", "R", file="/p/a.####.exr", first=1001, last=1010, colorspace=knob)
    info = nuke.bridge.read_info(read)
    assert (info["colorspace"], info["frames"], info["file"]) == (colorspace, "1001-1010", "/p/a.####.exr")
    # a colour space Nuke leaves to its default is left out of the shot, for vfxkey to decide
    text = nuke.bridge.vfxkey_toml.dumps(nuke.bridge.key_spec("n", info, info, {
        "frames": "1001-1010", "screen": "auto", "despill": "1"}))
    assert ("input_colorspace" in text) == (colorspace is not None)


def test_vfxkey_command_from_the_environment(nuke, monkeypatch, tmp_path):
    exe = tmp_path / "with space" / "vfxkey.exe"
    exe.parent.mkdir()
    exe.write_text("")
    monkeypatch.setenv("VFXKEY", str(exe))
    assert nuke.bridge.render_args("/s/shot.toml") == [str(exe), "render", "/s/shot.toml"]
    monkeypatch.setenv("VFXKEY", "/usr/bin/python3 -m vfxkey.cli")
    assert nuke.bridge.vfxkey_command() == ["/usr/bin/python3", "-m", "vfxkey.cli"]
