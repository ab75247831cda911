"""Matting metrics on small arrays whose answers can be worked out by hand."""

import warnings

import numpy as np
import pytest

from vfxkey.matte.metrics import colour_error, connectivity_error, gradient_error, gsg, mse, sad


def soft_matte(shape=(20, 30), seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.5, 0.4, shape), 0.0, 1.0)


@pytest.mark.parametrize("metric", [sad, mse, gradient_error, connectivity_error])
def test_identical_mattes_score_zero(metric):
    alpha = soft_matte()
    assert metric(alpha, alpha.copy()) == 0.0


def test_constant_offset_gives_closed_form_sad_and_mse():
    truth = np.full((20, 30), 0.25)
    pred = truth + 0.1
    assert sad(pred, truth) == pytest.approx(0.1 * 600 / 1000)
    assert mse(pred, truth) == pytest.approx(0.01)
    # A constant offset does not change any gradient.
    assert gradient_error(pred, truth) == pytest.approx(0.0, abs=1e-12)


def test_region_restricts_sad_and_mse():
    truth = np.zeros((10, 10))
    pred = truth.copy()
    pred[:, :5] = 0.5  # wrong on the left half only
    left = np.zeros((10, 10), dtype=bool)
    left[:, :5] = True
    assert sad(pred, truth, region=left) == pytest.approx(50 * 0.5 / 1000)
    assert sad(pred, truth, region=~left) == 0.0
    assert mse(pred, truth, region=left) == pytest.approx(0.25)
    assert mse(pred, truth) == pytest.approx(0.125)


def test_gradient_error_of_a_ramp_is_its_squared_slope():
    # The Gaussian-derivative gradient of a linear ramp is its slope; the truth is flat.
    slope = 0.02
    pred = np.tile(np.arange(40) * slope, (30, 1))
    truth = np.zeros_like(pred)
    interior = np.zeros(pred.shape, dtype=bool)
    interior[8:-8, 8:-8] = True  # away from the borders by more than the filter radius
    expected = interior.sum() * slope**2 / 1000
    assert gradient_error(pred, truth, region=interior) == pytest.approx(expected, rel=1e-3)


def two_column_body():
    alpha = np.zeros((5, 5))
    alpha[:, :2] = 1.0
    return alpha


def test_connectivity_ignores_an_extra_island_weaker_than_theta():
    truth = two_column_body()
    pred = truth.copy()
    pred[2, 4] = 0.1  # disconnected, but 0.1 above its connected level 0 is < theta 0.15
    assert connectivity_error(pred, truth) == 0.0


def test_connectivity_counts_a_disconnected_island_by_its_alpha():
    truth = two_column_body()
    pred = truth.copy()
    pred[2, 4] = 0.2  # phi = 1 - 0.2 in pred, 1 in truth
    assert connectivity_error(pred, truth) == pytest.approx(0.2 / 1000)
    pred[2, 4] = 1.0  # phi = 0 in pred
    assert connectivity_error(pred, truth) == pytest.approx(1.0 / 1000)


def test_connectivity_level_is_where_both_mattes_stay_connected():
    # Pixel (2, 2) touches the body; both mattes keep it connected up to alpha 0.5,
    # so l = 0.5: pred d = 0.9 - 0.5 = 0.4 -> phi 0.6; truth d = 0 -> phi 1.
    truth = two_column_body()
    truth[2, 2] = 0.5
    pred = two_column_body()
    pred[2, 2] = 0.9
    assert connectivity_error(pred, truth) == pytest.approx(0.4 / 1000)


def test_colour_error_is_mean_absolute_over_the_subject():
    truth_alpha = np.zeros((4, 4))
    truth_alpha[:2] = 0.5
    truth = np.zeros((4, 4, 3))
    truth[:2] = 0.2
    pred = truth + 0.05  # off by 0.05 everywhere, also where the truth is empty
    assert colour_error(pred, truth, truth_alpha) == pytest.approx(0.05)
    top_left = np.zeros((4, 4), dtype=bool)
    top_left[0, 0] = True
    pred[0, 0] = truth[0, 0] + [0.3, 0.0, 0.0]
    assert colour_error(pred, truth, truth_alpha, region=top_left) == pytest.approx(0.1)


def test_gsg_is_distance_of_dominant_colour_to_screen():
    image = np.zeros((10, 10, 3))
    image[:6] = (8, 162, 24)  # dominant: 60 % of the pixels
    image[6:9] = (200, 50, 50)
    image[9:] = (20, 20, 200)
    assert gsg(image, (11, 166, 24)) == pytest.approx(5.0)
    assert gsg(image, (8, 162, 24)) == pytest.approx(0.0, abs=1e-9)


def test_gsg_of_a_two_colour_image_needs_no_third_cluster():
    image = np.zeros((10, 10, 3))
    image[:7] = (8, 162, 24)
    image[7:] = (200, 50, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning, no error: two clusters for two colours
        assert gsg(image, (11, 166, 24)) == pytest.approx(5.0)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError):
        sad(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError):
        mse(np.zeros((4, 4)), np.zeros((4, 4)), region=np.ones((3, 3), dtype=bool))


def test_kmeans_finds_separated_clusters_and_repeats_exactly():
    import cv2

    from vfxkey.matte.metrics import kmeans

    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.1, (200, 2)), rng.normal(5, 0.1, (100, 2))])
    centres, labels = kmeans(points, 2)
    low, high = np.argsort(centres[:, 0])
    assert np.array_equal(labels == low, np.arange(300) < 200)
    assert np.allclose(centres[low], points[:200].mean(axis=0), rtol=0, atol=1e-12)
    cv2.randu(np.zeros((4, 4)), 0, 1)  # OpenCV's generator used in between
    assert np.array_equal(kmeans(points, 2)[1], labels)


@pytest.mark.parametrize("rows", [[], [[1, 2]], [[1, 2]] * 5, [[1, 2], [1, 3], [1, 2]], [[0, 0], [0, 1], [1, 0], [1, 1]]])
def test_count_distinct_counts_rows_up_to_its_limit(rows):
    from vfxkey.matte.metrics import count_distinct

    points = np.asarray(rows, dtype=np.float32).reshape(-1, 2)
    distinct = len(np.unique(points, axis=0))
    for at_most in (1, 2, 3, 5):
        assert count_distinct(points, at_most) == min(at_most, distinct)


def test_kmeans_on_fewer_distinct_points_than_clusters_gives_one_cluster_per_point():
    from vfxkey.matte.metrics import kmeans

    points = np.array([[0.2, 0.7]] * 30 + [[0.5, 0.1]] * 10)
    centres, labels = kmeans(points, 3)
    assert len(centres) == 2
    assert np.bincount(labels).tolist() in ([30, 10], [10, 30])
