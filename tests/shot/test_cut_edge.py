"""The `cut_edge` QC verdict: an opaque element edge cut by its frame that lands inside the comp."""

import re
import shutil
from pathlib import Path

import numpy as np

from vfxkey.io.images import read_header
from vfxkey.io.sequence import FrameRange
from vfxkey.shot.qc import cut_edge
from vfxkey.shot.run import render
from vfxkey.shot.spec import load_spec

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "shot010"
# The sample's placement before issue 23: scaled about the element's centre, the torso's cut
# (the green-screen frame's bottom edge) landed at rows 348-350 of 360.
OLD_PLACEMENT = """[placement]
scale = 0.85
[[placement.keys]]
frame = 1001
position = [300.0, 196.0]
rotation = 0.0
[[placement.keys]]
frame = 1010
position = [348.0, 196.0]
rotation = 2.0

"""


def torso(height=60, width=80):
    alpha = np.zeros((height, width), np.float32)
    alpha[30:, 30:50] = 1.0  # opaque down to the frame's bottom edge
    return alpha


def test_a_cut_inside_the_comp_is_a_verdict_naming_where_and_one_at_or_below_its_border_is_not():
    alpha, canvas = torso(), (100, 120)
    ((verdict, warning),) = cut_edge(alpha, canvas, (60.0, 50.0), 0.85)
    assert verdict == "cut_edge"
    assert "20 px of its bottom edge at comp rows 76-76" in warning, warning  # 50 + 30 * 0.85 = 75.5
    assert cut_edge(alpha, canvas, (60.0, 100.0), 0.85, 2.0, pivot=(40.0, 60.0)) == []  # on the comp's bottom
    assert cut_edge(alpha, canvas, (60.0, 104.0), 1.5, -5.0, pivot=(40.0, 60.0)) == []  # below it
    assert cut_edge(alpha * 0.3, canvas, (60.0, 50.0), 0.85) == []  # not opaque: no hard line
    inside = np.zeros_like(alpha)
    inside[10:40, 10:40] = 1.0
    assert cut_edge(inside, canvas, (60.0, 50.0), 0.85) == []  # never touches its frame


def render_sample(tmp_path, placement: str | None, warnings: list[str]):
    shot = tmp_path / "shot010"
    shutil.copytree(SAMPLE, shot, ignore=shutil.ignore_patterns("render"))
    spec_file = shot / "shot.toml"
    if placement is not None:
        text = spec_file.read_text()
        spec_file.write_text(re.sub(r"\[placement\].*?(?=\[outputs\])", lambda _: placement, text, flags=re.S))
    spec = load_spec(spec_file)
    return spec, render(spec, FrameRange.of([1010]), warn=warnings.append)


def test_the_old_sample_placement_shows_the_cut_and_says_so_and_a_rerun_keeps_the_verdict(tmp_path):
    warnings = []
    spec, rendered = render_sample(tmp_path, OLD_PLACEMENT, warnings)
    (frame,) = rendered.frames
    assert "cut_edge" in frame.record["verdicts"]
    assert [w for w in warnings if "cut by its frame" in w and "bottom edge at comp rows 34" in w], warnings
    comp = read_header(str(tmp_path / "shot010" / "render" / "shot010_comp.1010.exr")).attributes
    assert comp["vfxkey:verdicts"] == "cut_edge"
    (again,) = render(spec, FrameRange.of([1010])).frames  # up to date: read back from the comp EXR
    assert again.skipped and "cut_edge" in again.record["verdicts"]


def test_the_sample_as_shipped_shows_no_cut(tmp_path):
    warnings = []
    _, rendered = render_sample(tmp_path, None, warnings)
    (frame,) = rendered.frames
    assert "cut_edge" not in frame.record.get("verdicts", []) and not warnings, warnings
