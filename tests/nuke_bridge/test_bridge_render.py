"""The bridge end to end: the fake ``nuke`` module, the real ``vfxkey`` command."""

import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner
from fake_nuke import FakeNode

sys.path.insert(0, str(Path(__file__).parents[1] / "nuke"))
from nk_reader import Node, read_nk  # noqa: E402
from nuke_files import make_key_shot  # noqa: E402

from vfxkey.cli import main  # noqa: E402

from vfxkey.shot.spec import load_spec  # noqa: E402


def test_key_selected_read_renders_and_pastes_the_snippet_over_the_plate(nuke, tmp_path):
    footage = make_key_shot(tmp_path / "footage dir").parent
    screen = FakeNode("Read", "GS", 64, 48, file=str(footage / "greenscreen" / "gs.####.png"), first=1001,
                      last=1003, colorspace="default (sRGB - Texture)")  # the open script's config's name
    plate = FakeNode("Read", "Plate", 64, 48, file=str(footage / "plate.png"), first=1, last=1,
                     colorspace="sRGB - Texture")
    nuke.nodes += [screen, plate]
    screen.setSelected(True)
    nuke.panel_answers["vfxkey: key selected Read"] = {"over plate": "Plate", "screen": "green"}

    render = nuke.bridge.key_selected_read()
    render.thread.join(timeout=300)
    assert render.returncode == 0, (tmp_path / "comps" / "vfxkey" / "GS_key" / "v001" / "vfxkey_bridge.log").read_text()
    snippet_job = render.followed_by
    snippet_job.thread.join(timeout=120)
    assert snippet_job.returncode == 0 and nuke.messages == []

    shot = tmp_path / "comps" / "vfxkey" / "GS_key" / "v001" / "shot.toml"
    spec = load_spec(shot)  # the bridge's TOML is a valid vfxkey shot
    assert (spec.element.input, spec.element.screen_text, str(spec.frames)) == (
        str(footage / "greenscreen" / "gs.####.png"), "green", "1001-1003")
    assert tomllib.loads(shot.read_text())["plate"]["path"] == str(footage / "plate.png")
    assert (shot.parent / "render" / "GS_key_v001.nk").exists()  # finalize wrote the whole comp too
    assert nuke.tasks[0].progress[-1] == 100

    # the pasted snippet is the one `vfxkey nuke --snippet` writes, pasted with the plate selected
    (pasted_path, pasted_text, selected), = nuke.pastes
    assert pasted_path == str(shot.parent / "nuke" / "snippet.nk") and selected == ["Plate"]
    again = tmp_path / "again.nk"
    assert snippet_job.args[-4:] == ["--ocio-config", "fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1",
                                     "--nuke-version", "15"]  # the open script's config and Nuke
    assert CliRunner().invoke(main, ["nuke", str(shot), "--snippet", "-o", str(again),
                                     *snippet_job.args[-4:]]).exit_code == 0
    assert pasted_text == again.read_text()
    b = Node("Read", {"name": "Plate"})
    merge = read_nk(pasted_text, selected=b)["Merge_over"]
    assert merge.inputs[0] is b and merge.inputs[1].inputs[0].knobs["file"] == str(
        shot.parent / "render" / "GS_key_v001_element.####.exr")


def test_submit_to_farm_writes_the_job_with_the_panel_values(nuke, tmp_path):
    shot = make_key_shot(tmp_path / "sh010")
    nuke.filenames.append(str(shot))
    nuke.panel_answers["vfxkey: submit to farm"] = {"engine": "deadline", "frames per task": "2"}
    job = nuke.bridge.submit_to_farm()
    job.thread.join(timeout=120)
    jobs = shot.parent / "farm"
    assert job.args == [nuke.bridge.vfxkey_command()[0], "submit", str(shot), "--engine", "deadline",
                        "--chunk", "2", "-o", str(jobs)]
    assert job.returncode == 0, Path(job.log_path).read_text()
    assert nuke.messages == [f"vfxkey: farm job written to {jobs}"]
    assert any(jobs.iterdir())
