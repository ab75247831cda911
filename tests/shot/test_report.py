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
    # 6 frames x source | alpha | comp: JPEG thumbnails, full size JPEG but the alpha's (PNG, lossless).
    assert text.count("<svg") == 1
    assert text.count("<img src='data:image/jpeg;base64,") == 18
    assert text.count("data-full='data:image/jpeg;base64,") == 12
    assert text.count("data-full='data:image/png;base64,") == 6
    assert not re.search(r"""(src|href)=['"]?(https?:|file:|/)""", text)  # nothing outside the file


def test_the_page_has_every_frame_its_numbers_render_facts_limits_words_and_a_sign_off(whole, tmp_path):
    import socket

    from vfxkey.io.images import read_header

    spec, _ = whole
    text = (spec.parent / "render" / "qc.html").read_text()  # written by the render's finalize
    for frame in range(1001, 1007):
        assert f"id=frame-{frame} " in text and f"id=row-{frame}>" in text
        for caption in ("source", "alpha", "comp over plate"):
            assert f"alt='{caption} {frame}'" in text
    header = read_header(str(spec.parent / "render" / "el.1001.exr")).attributes
    assert header["vfxkey:host"] == socket.gethostname()
    facts = text[text.index("<h2>Render facts</h2>"):text.index("<h2>Suspicious frames</h2>")]
    for fact in (socket.gethostname(), header["vfxkey:settings_hash"], header["vfxkey:version"], header["DateTime"]):
        assert fact in facts
    row = re.search(r"<tr id=row-1002>(.*?)</tr>", text)[1]
    assert re.findall(r"<td>([^<]*)</td>", row)[2] == f"{header_value(spec, 1002, 'screen_exposure'):.3f}"
    svg = text[text.index("<svg"):text.index("</svg>")]
    assert svg.count("stroke-dasharray") >= 7  # exposure 2, colour 1, soft band 2, flicker 1, spill 1
    assert "What the figures mean" in text and "GSG" in text and "lower is better" in text
    assert "<textarea id=notes" in text and "<input type=checkbox id=approved>" in text


def header_value(spec, frame, name):
    from vfxkey.io.images import read_header

    return float(read_header(str(spec.parent / "render" / f"el.{frame}.exr")).attributes[f"vfxkey:{name}"])


def test_frames_are_paged_for_long_shots(whole, tmp_path, monkeypatch):
    from vfxkey.shot import report
    from vfxkey.shot.spec import load_spec

    spec, _ = whole
    monkeypatch.setattr(report, "PAGE_FRAMES", 4)
    text = report.report_html(load_spec(spec))
    assert re.findall(r"id=frame-(\d+) data-page=(\d)", text) == [
        ("1001", "0"), ("1002", "0"), ("1003", "0"), ("1004", "0"), ("1005", "1"), ("1006", "1")]
    assert "page <span id=page>1</span> of 2" in text


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
