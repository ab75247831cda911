"""`vfxkey render`: the same bits whatever the chunking or process; skips what is up to date,
redoes exactly what a settings change touches; finalize refuses missing frames."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from shots import exr_contents, read_exr

from vfxkey.cli import main
from vfxkey.shot.run import render
from vfxkey.shot.spec import load_spec

RUN = [sys.executable, "-c", "from vfxkey.cli import main; main()"]


def test_one_render_writes_elements_comps_previews_movie_and_report(whole):
    spec, output = whole
    render_dir = spec.parent / "render"
    assert sorted(p.name for p in render_dir.glob("el.*.exr")) == [f"el.{f}.exr" for f in range(1001, 1007)]
    assert len(list(render_dir.glob("comp.*.exr"))) == 6 and len(list(render_dir.glob("preview/*.png"))) == 6
    assert (render_dir / "comp.mov").stat().st_size > 0 and (render_dir / "qc.html").stat().st_size > 0
    assert "frame 1006" in output  # one line per frame off a terminal
    element, attributes = read_exr(render_dir / "el.1003.exr")
    # The alpha is the disc's coverage as the frame was drawn (shots.green_screen_frame, index 2).
    y, x = np.mgrid[0:80, 0:128].astype(np.float32)
    coverage = np.clip(80 / 4 - np.hypot(x - 128 / 3 - 2 * 128 / 40, y - 80 / 2) + 0.5, 0.0, 1.0)
    error = np.abs(element[..., 3] - coverage)
    assert error.mean() < 0.01 and error.max() < 0.5, (error.mean(), error.max())
    for name in ("despill", "despeckle", "plate_scale", "temporal", "denoise", "refine_radius", "input",
                 "input_colorspace", "settings_hash", "shot_screen"):
        assert f"vfxkey:{name}" in attributes, name
    comp, comp_attributes = read_exr(render_dir / "comp.1003.exr")
    assert comp.shape == (80, 128, 4) and np.all(comp[..., 3] == 1.0)
    assert comp_attributes["vfxkey:scale"] == pytest.approx(0.9)
    # The comp's corner is the plate (the element is scaled down, its border clear).
    plate_corner = ((np.array([2.5 / 128, 2.5 / 80, 0.3]) + 0.055) / 1.055) ** 2.4
    assert comp[2, 2, :3] == pytest.approx(plate_corner, abs=0.02)
    sidecar = json.loads((render_dir / "el.qc.json").read_text())
    assert [f["frame"] for f in sidecar["frames"]] == list(range(1001, 1007))
    screen = json.loads((render_dir / "el.screen.json").read_text())
    assert screen["channel"] == 1 and screen["source"] == "plate_in/gs.####.png (frame 1001), screen auto"


def test_two_chunks_plus_finalize_two_workers_and_three_threads_give_the_same_bits(whole, tmp_path):
    spec, _ = whole
    reference = exr_contents(spec.parent / "render")
    runs = {}
    for name, commands in (("chunks", [["render", "--frames", "1004-1006"], ["render", "--frames", "1001-1003"],
                                       ["finalize"]]),
                           ("workers", [["render", "--workers", "2"]]),  # one thread each: one frame at a time
                           ("threads", [["render", "--threads", "3"]])):  # three frames keyed at once
        copy = tmp_path / name
        shutil.copytree(spec.parent, copy, ignore=shutil.ignore_patterns("render"))
        for command in commands:
            subprocess.run(RUN + [command[0], str(copy / "shot.toml"), *command[1:]], check=True,
                           capture_output=True, timeout=600)
        runs[name] = exr_contents(copy / "render")
        assert (copy / "render" / "comp.mov").is_file()
    assert len(reference) == 12
    for name, files in runs.items():
        assert files.keys() == reference.keys(), name
        different = [path for path in reference if files[path] != reference[path]]
        assert not different, (name, different)


def test_a_rerun_skips_everything_and_a_moved_shot_folder_is_still_up_to_date(whole, tmp_path):
    spec, _ = whole
    moved = tmp_path / "moved"
    shutil.copytree(spec.parent, moved)
    rendered = render(load_spec(moved / "shot.toml"))
    assert all(done.skipped for done in rendered.frames) and len(rendered.frames) == 6


def test_a_settings_change_redoes_exactly_the_frames_it_changes(whole, tmp_path):
    spec, _ = whole
    shot = tmp_path / "shot"
    shutil.copytree(spec.parent, shot)
    times = {p.name: p.stat().st_mtime_ns for p in (shot / "render").glob("*.exr")}

    # Move the last placement key: comps 1004-1006 move (1003 is a key), elements stay.
    text = (shot / "shot.toml").read_text()
    (shot / "shot.toml").write_text(text.replace("rotation = 3.0", "rotation = -5.0"))
    rendered = render(load_spec(shot / "shot.toml"))
    redone = {done.frame: [p.split("/")[-1] for p in done.outputs] for done in rendered.frames if not done.skipped}
    assert redone == {f: [f"comp.{f}.exr", f"comp.{f}.png"] for f in (1004, 1005, 1006)}
    now = {p.name: p.stat().st_mtime_ns for p in (shot / "render").glob("*.exr")}
    assert [name for name in sorted(now) if now[name] != times[name]] == ["comp.1004.exr", "comp.1005.exr",
                                                                         "comp.1006.exr"]
    # A keyer setting changes every element and so every comp.
    (shot / "shot.toml").write_text((shot / "shot.toml").read_text().replace("despill = 1.0", "despill = 0.5"))
    rendered = render(load_spec(shot / "shot.toml"))
    assert not any(done.skipped for done in rendered.frames)
    assert read_exr(shot / "render" / "el.1002.exr")[1]["vfxkey:despill"] == 0.5


def test_force_redoes_and_finalize_refuses_missing_frames_naming_them(whole, tmp_path):
    spec, _ = whole
    shot = tmp_path / "shot"
    shutil.copytree(spec.parent, shot)
    (shot / "render" / "el.1002.exr").unlink()
    (shot / "render" / "comp.1005.exr").unlink()
    result = CliRunner().invoke(main, ["finalize", str(shot / "shot.toml")])
    assert result.exit_code == 4  # data: frames missing (docs/cli.md)
    assert "el.####.exr: 1002" in result.output and "comp.####.exr: 1005" in result.output
    rendered = render(load_spec(shot / "shot.toml"), force=True)
    assert not any(done.skipped for done in rendered.frames)
    assert exr_contents(shot / "render") == exr_contents(spec.parent / "render")


def test_two_tasks_rendering_overlapping_ranges_at_once_leave_whole_files(whole, tmp_path):
    spec, _ = whole
    shot = tmp_path / "race"
    shutil.copytree(spec.parent, shot, ignore=shutil.ignore_patterns("render"))
    tasks = [subprocess.Popen(RUN + ["render", str(shot / "shot.toml"), "--frames", frames],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for frames in ("1001-1005", "1002-1006")]
    for task in tasks:
        assert task.wait(timeout=600) == 0, task.stderr.read()
    assert not list((shot / "render").rglob(".*.tmp*"))
    assert exr_contents(shot / "render") == exr_contents(spec.parent / "render")


def test_a_frame_that_cannot_be_written_fails_the_render_naming_it_after_the_frames_before_it(whole, tmp_path):
    spec, _ = whole
    shot = tmp_path / "broken"
    shutil.copytree(spec.parent, shot, ignore=shutil.ignore_patterns("render"))
    (shot / "render" / "el.1003.exr").mkdir(parents=True)  # a folder where frame 1003's element goes
    result = CliRunner().invoke(main, ["render", str(shot / "shot.toml"), "--frames", "1001-1004"])
    assert result.exit_code == 4  # data: an output that cannot be written
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "el.1003.exr: cannot put the finished file in place" in error[0], result.output
    written = {p.name for p in (shot / "render").glob("el.*.exr") if p.is_file()}
    assert {"el.1001.exr", "el.1002.exr"} <= written and "el.1003.exr" not in written  # (1004 may be queued)
    assert not list((shot / "render").rglob(".*.tmp*"))
