"""bench/generate_quality.py's `follow` measure places the element, not what the keyer leaves on
the background (issue 24 §3: the alpha centroid counted the background's soft alpha, which pulls
it to the frame's centre whatever the element does)."""

import numpy as np

from bench.generate_quality import centroid, element_centre


def _disc(cx: float, cy: float, radius: float, size: int = 64) -> np.ndarray:
    ys, xs = np.mgrid[:size, :size] + 0.5
    return (np.hypot(xs - cx, ys - cy) <= radius).astype(np.float32)


def test_the_element_centre_ignores_soft_background_alpha_and_specks_that_the_centroid_counts():
    alpha = np.maximum(_disc(20.0, 30.0, 10.0), 0.3)  # a solid disc over a soft background of 0.3
    alpha[2:5, 58:61] = 1.0                           # and an opaque speck of 9 pixels
    assert np.allclose(element_centre(alpha), (20.0, 30.0), atol=0.2)
    assert abs(centroid(alpha)[0] - 20.0) > 5         # pulled towards the middle (x = 32)


def test_no_element_when_no_solid_piece_covers_a_hundredth_of_the_frame():
    assert np.isnan(element_centre(np.full((64, 64), 0.4, np.float32))).all()    # soft throughout
    assert np.isnan(element_centre(_disc(30.0, 30.0, 3.0))).all()                 # 32 pixels < 41
    assert np.allclose(element_centre(_disc(30.0, 30.0, 4.0)), (30.0, 30.0), atol=0.2)  # 52 pixels
