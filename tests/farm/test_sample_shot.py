"""The sample shot submitted as an OpenJD bundle and run for real with the README's `openjd run`; its QC report
rendered in headless Chromium shows the images and the plots."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
import yaml
from click.testing import CliRunner

from vfxkey.cli import main
from vfxkey.shot.report import PLOT_COLOUR

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "shot010"
VFXKEY = Path(sys.executable).parent / "vfxkey"
OPENJD = Path(sys.executable).parent / "openjd"
README = Path(__file__).resolve().parents[2] / "docs" / "reference.md"  # the openjd run line moved there (issue 23)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The sample shot (copied) submitted with --chunk 4 and run with `openjd run`."""
    root = tmp_path_factory.mktemp("sample")
    shot = root / "shot010"
    shutil.copytree(SAMPLE, shot, ignore=shutil.ignore_patterns("render"))
    result = CliRunner().invoke(main, ["submit", str(shot / "shot.toml"), "--engine", "openjd", "--chunk", "4",
                                       "-o", str(root / "job")])
    assert result.exit_code == 0, result.output
    command = re.search(r"`(openjd run JOBDIR/[^`]*)`", README.read_text())[1]  # the README's, as written
    environment = {**os.environ, "PATH": f"{VFXKEY.parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(shlex.split(command.replace("JOBDIR", shlex.quote(str(root / "job")))),
                         capture_output=True, text=True, timeout=900, cwd=root, env=environment)
    return shot, root / "job", run


def test_the_bundle_has_three_steps_with_a_task_per_chunk(ran):
    shot, job, _ = ran
    template = yaml.safe_load((job / "template.yaml").read_text())
    assert template["specificationVersion"] == "jobtemplate-2023-09"
    steps = {step["name"]: step for step in template["steps"]}
    assert list(steps) == ["Prepare", "Render", "Finalize"]
    frames = steps["Render"]["parameterSpace"]["taskParameterDefinitions"][0]
    assert frames["name"] == "Frames" and frames["range"] == ["1001-1004", "1005-1008", "1009-1010"]
    assert steps["Render"]["dependencies"] == [{"dependsOn": "Prepare"}]
    assert steps["Finalize"]["dependencies"] == [{"dependsOn": "Render"}]
    values = yaml.safe_load((job / "parameter_values.yaml").read_text())["parameterValues"]
    assert {"name": "Vfxkey", "value": "vfxkey"} in values
    assert {"name": "OutputFolder", "value": str(shot / "render")} in values
    check = subprocess.run([str(OPENJD), "check", str(job / "template.yaml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_openjd_run_renders_every_chunk_and_finalizes_the_sample_shot(ran):
    shot, _, run = ran
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    render = shot / "render"
    for kind in ("element", "comp"):
        assert sorted(p.name for p in render.glob(f"shot010_{kind}.*.exr")) == [
            f"shot010_{kind}.{f}.exr" for f in range(1001, 1011)]
    assert (render / "shot010_comp.mov").stat().st_size > 0
    assert (render / "shot010_qc.html").stat().st_size > 0
    assert (render / "shot010_element.screen.json").is_file()
    sidecar = json.loads((render / "shot010_element.qc.json").read_text())
    assert "cut_edge" not in sidecar["verdicts"]  # the torso's cut sits below the comp (issue 23)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(page: str, png: Path, profile: Path, height: int) -> np.ndarray:
    """``page`` (a URL) as headless Chromium shows it in a 1280 x ``height`` window: (h, w, 3) uint8 RGB."""
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={profile}", "--hide-scrollbars", f"--window-size=1280,{height}",
                    f"--screenshot={png}", page], check=True, capture_output=True, timeout=120)
    image = oiio.ImageInput.open(str(png))
    pixels = image.read_image("uint8")[..., :3]
    image.close()
    return pixels


@pytest.mark.skipif(_chromium() is None, reason="no chromium on this machine (.ci/run installs Debian's)")
def test_the_qc_report_renders_in_headless_chromium_with_images_and_plots(ran, tmp_path):
    shot, _, run = ran
    assert run.returncode == 0
    page = (shot / "render" / "shot010_qc.html").as_uri()
    pixels = _screenshot(page, tmp_path / "report.png", tmp_path / "profile", 6000).astype(int)

    def count(rgb, tolerance=3):
        return int(np.all(np.abs(pixels - np.array(rgb)) <= tolerance, axis=-1).sum())

    line = tuple(int(PLOT_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
    assert count(line, 10) > 2000, "the plots' lines are not on the page"
    assert count((255, 255, 255)) > 5000 and count((0, 0, 0)) > 50000, "no alpha thumbnails"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 3000  # photos and plots, not a blank page
    # Every frame's row shows on the first page: 10 rows of source | alpha | comp.
    dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    shown = re.findall(r'<div class="frame" id="frame-(\d+)" data-page="0">', dom)
    assert shown == [str(f) for f in range(1001, 1011)], dom[:2000]


@pytest.mark.skipif(_chromium() is None, reason="no chromium on this machine (.ci/run installs Debian's)")
def test_the_qc_report_opens_each_frame_full_size_in_chromium(ran, tmp_path):
    """The comp of the first and the last frame, opened full size (view 2: source, alpha, comp),
    is that frame's comp as the preview PNG shows it, pixel for pixel but for JPEG's loss."""
    shot, _, run = ran
    assert run.returncode == 0
    render = shot / "render"
    shown = {}
    for frame in (1001, 1010):
        pixels = _screenshot(f"{(render / 'shot010_qc.html').as_uri()}#full-{frame}-2", tmp_path / f"{frame}.png",
                             tmp_path / "profile", 800)
        shown[frame] = pixels[:360, :640].astype(float)  # the image sits at the window's top left, 1:1
        image = oiio.ImageInput.open(str(render / "preview" / f"shot010_comp.{frame}.png"))
        preview = image.read_image("uint8")[..., :3].astype(float)
        image.close()
        assert np.mean(np.abs(shown[frame] - preview)) < 1.5, frame
        assert np.percentile(np.abs(shown[frame] - preview), 99) < 12, frame
    assert np.mean(np.abs(shown[1001] - shown[1010])) > 3.0  # two frames, not one shown twice
