"""The QC report: the frames that look wrong are flagged with why; the HTML stands alone."""

import re

import numpy as np
import pytest
from click.testing import CliRunner

from vfxkey.cli import main
from vfxkey.shot.report import _spill_residue, suspicious_frames


def figures(changes=None):
    """Eight steady frames; ``changes`` maps frame -> figures that differ."""
    changes = changes or {}
    steady = {"screen_rgb": [0.05, 0.4, 0.08], "gsg": 0.01, "soft_fraction": 0.08, "flicker": 0.004,
              "spill": 0.002, "warnings": []}
    return [{"frame": f, **steady, **({"flicker": None} if f == 1001 else {}), **changes.get(f, {})}
            for f in range(1001, 1009)]


def test_steady_frames_are_not_flagged_and_each_kind_of_fault_is_flagged_with_why():
    assert suspicious_frames(figures()) == {}
    flagged = suspicious_frames(figures({
        1003: {"flicker": 0.05},
        1004: {"screen_rgb": [0.05, 0.25, 0.2]},
        1005: {"soft_fraction": 0.4},
        1006: {"spill": 0.08},
        1007: {"warnings": ["keyed almost all transparent"]},
    }))
    assert sorted(flagged) == [1003, 1004, 1005, 1006, 1007]
    assert "alpha flicker 0.0500" in flagged[1003][0]
    assert "screen colour" in flagged[1004][0]
    assert "soft alpha on 40.0%" in flagged[1005][0]
    assert "spill residue 0.080" in flagged[1006][0]
    assert flagged[1007] == ["keyer: keyed almost all transparent"]


def test_spill_residue_is_how_far_green_leads_in_the_opaque_straight_colour():
    alpha = np.array([[1.0, 1.0, 0.5, 0.0]], np.float32)
    straight = np.array([[[0.2, 0.5, 0.3], [0.4, 0.3, 0.2], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]], np.float32)
    # Opaque pixels only: (0.5 - 0.3) and 0 -> mean 0.1.
    assert _spill_residue(straight * alpha[..., None], alpha, 1) == pytest.approx(0.1, abs=1e-6)


def test_vfxkey_qc_writes_one_self_contained_html_file(whole, tmp_path):
    spec, _ = whole
    result = CliRunner().invoke(main, ["qc", str(spec), "-o", str(tmp_path / "report.html")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "report.html").read_text()
    assert text.count("<svg") == 1 and text.count("data:image/png;base64,") == 18  # 6 frames x 3 images
    assert not re.search(r"""(src|href)=['"]?(https?:|file:|/)""", text)  # nothing outside the file


def test_a_rerun_of_a_finished_shot_changes_no_file(whole, tmp_path):
    import shutil

    spec, _ = whole
    copy = tmp_path / "copy"
    shutil.copytree(spec.parent, copy)
    snapshots = []
    for _ in range(2):  # the first run finalizes the moved shot (its sidecar names the spec's path)
        result = CliRunner().invoke(main, ["render", str(copy / "shot.toml")])
        assert result.exit_code == 0, result.output
        snapshots.append({p: p.read_bytes() for p in copy.rglob("*") if p.is_file()})
    before, after = snapshots
    assert after.keys() == before.keys()
    assert [p.name for p in before if before[p] != after[p]] == []


def test_qc_files_sit_beside_their_output_with_folders_kept_whole():
    from vfxkey.shot.qc import beside

    assert beside("/jobs/user@studio/v#2/out/key.####.exr", "qc.json") == "/jobs/user@studio/v#2/out/key.qc.json"
    assert beside("/shots/%04d/key_%04d.exr", "screen.json") == "/shots/%04d/key.screen.json"
    assert beside("out/key.@@@@.exr", "qc.json") == "out/key.qc.json"
