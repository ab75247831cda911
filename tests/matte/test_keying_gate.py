"""The keying quality gate (issue 25 item 4): real photos with measured alpha, against a
checked-in baseline of each case's figures (bench/keying/gate.py; numbers only).

Before this gate a change that made SAD on one photo 30 % worse passed CI as long as the
synthetic ramps stayed in tolerance. Needs ../shared/data (skipped without it).
"""

import json

import pytest

from bench.keying.build_set import available_sets
from bench.keying.gate import BASELINE, GREENSCREEN_FRAMES, FRAME_SLACK, METRICS, SETS, case_figures, frame_figures, worse

pytestmark = pytest.mark.shared_data


def baseline() -> dict:
    return json.loads(BASELINE.read_text())


@pytest.mark.parametrize("name", SETS)
def test_every_case_keys_no_worse_than_its_baseline(name):
    if name not in available_sets() or not (GREENSCREEN_FRAMES.parent / "alphamatting_dev").is_dir():
        pytest.skip(f"shared evaluation data for {name} not found")
    expected = baseline()["sets"][name]
    measured = dict(case_figures(name))
    assert sorted(measured) == sorted(expected)  # the same cases: the set's build has not changed
    regressions = [f"{case} {metric}: {figures[metric]:.4g} > baseline {expected[case][metric]:.4g}"
                   for case, figures in measured.items() for metric in METRICS
                   if worse(figures[metric], expected[case][metric], metric)]
    assert not regressions, "; ".join(regressions)


@pytest.mark.parametrize("frame", ["business_man.png", "keyer_sample_woman.png", "scientists.png"])
def test_the_real_green_screen_frames_key_as_blessed(frame):
    if not (GREENSCREEN_FRAMES / frame).exists():
        pytest.skip(f"{GREENSCREEN_FRAMES / frame} not found")
    expected = baseline()["greenscreen_frames"][frame]
    measured = frame_figures(GREENSCREEN_FRAMES / frame)
    off = {name: (measured[name], value) for name, value in expected.items() if abs(measured[name] - value) > FRAME_SLACK}
    assert not off, off
