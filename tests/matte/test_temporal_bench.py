"""bench/keying/temporal.py builds its two shots from the bundled sample (it failed at import
once the sample moved to samples/shot010, so boil went unmeasured)."""

import numpy as np

from bench.keying.temporal import boil, moving_shot, static_shot


def test_the_boil_bench_builds_its_static_and_moving_shots_from_the_sample():
    frames, truths = static_shot(2)
    assert len(frames) == 2 and frames[0].dtype == np.uint8 and frames[0].shape == (360, 640, 3)
    assert not np.array_equal(frames[0], frames[1])  # new sensor noise each frame
    assert truths[0].shape == (360, 640) and 0.05 < float(truths[0].mean()) < 0.6
    frames, truths = moving_shot()
    assert len(frames) == len(truths) == 10 and frames[0].shape == (360, 640, 3)
    assert not np.array_equal(truths[0], truths[-1])  # the figure moves


def test_boil_is_the_mean_change_between_frames_after_the_filters_window():
    alphas = [np.full((4, 4), value, np.float32) for value in (0.0, 0.0, 0.0, 0.0, 0.2, 0.5, 0.5)]
    assert abs(boil(alphas) - (0.3 + 0.0) / 2) < 1e-6
