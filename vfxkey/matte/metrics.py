"""Matting and keying error measures.

The four alpha errors are the ones of the alphamatting.com benchmark, defined in
Rhemann et al., "A Perceptually Motivated Online Benchmark for Image Matting", CVPR 2009:
SAD, MSE, Gradient and Connectivity. Their scale follows the convention of the
Deep Image Matting evaluation code (Xu et al., CVPR 2017) used by most later papers:
alpha in 0..1, SAD / Gradient / Connectivity are sums divided by 1000, MSE is a mean.
The Gradient and Connectivity errors here are a scipy reading of those definitions;
like the other public Python ports they can differ by a few percent from the MATLAB
reference, so compare numbers measured with this module to each other, not to the
figures published on alphamatting.com.

Every alpha error takes an optional ``region`` mask (e.g. the trimap's unknown band);
without it the whole image is measured, which is what a keyer is judged on (a keyer
can fail in the background and the foreground, not only near edges).

``colour_error`` compares premultiplied scene-linear colour, and ``gsg`` is the
green-screen generation measure of DiffuMatting (arXiv 2403.06168, ECCV 2024).
"""

from __future__ import annotations

import cv2
import numpy as np

# scipy.ndimage (gradient and connectivity errors) is imported where it is used: it takes
# most of a second, and the keyer, which needs only gsg, runs as a farm task.

GRADIENT_SIGMA = 1.4  # Rhemann et al. 2009: first-order Gaussian derivative filters, sigma 1.4
CONNECTIVITY_STEP = 0.1  # threshold step between alpha levels
CONNECTIVITY_THETA = 0.15  # differences in connectivity below theta are ignored


def _region(shape: tuple[int, ...], region: np.ndarray | None) -> np.ndarray:
    if region is None:
        return np.ones(shape, dtype=bool)
    region = np.asarray(region, dtype=bool)
    if region.shape != shape:
        raise ValueError(f"region mask has shape {region.shape}, alpha has {shape}")
    return region


def _pair(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim != 2:
        raise ValueError(f"alphas must be two (H, W) arrays of one shape, got {pred.shape} and {truth.shape}")
    return pred, truth


def sad(pred: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None) -> float:
    """Sum of absolute alpha differences over ``region``, divided by 1000.

    Alphas are (H, W) in 0..1. The /1000 scale is the usual convention of matting papers
    (a whole-image error of 0.01 on a 1000x1000 image gives SAD 10).
    """
    pred, truth = _pair(pred, truth)
    inside = _region(truth.shape, region)
    return float(np.abs(pred - truth)[inside].sum() / 1000.0)


def mse(pred: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean squared alpha difference over the pixels of ``region`` (alphas in 0..1)."""
    pred, truth = _pair(pred, truth)
    inside = _region(truth.shape, region)
    if not inside.any():
        return 0.0
    return float(np.square(pred - truth)[inside].mean())


def _gradient_magnitude(alpha: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage

    # Convolve with the first-order derivative of a Gaussian along each axis.
    d_rows = ndimage.gaussian_filter(alpha, sigma, order=(1, 0), mode="nearest")
    d_cols = ndimage.gaussian_filter(alpha, sigma, order=(0, 1), mode="nearest")
    return np.hypot(d_rows, d_cols)


def gradient_error(
    pred: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None, sigma: float = GRADIENT_SIGMA
) -> float:
    """Gradient error of Rhemann et al. 2009, divided by 1000.

    ``sum over region of (|grad pred| - |grad truth|)^2``, where the gradients are the
    image convolved with first-order Gaussian derivative filters of standard deviation
    ``sigma`` pixels (1.4 in the benchmark). Alphas are (H, W) in 0..1.
    The filters keep their true scale (the gradient of a ramp is its slope); the Deep Image
    Matting MATLAB code normalises them to unit L2 norm instead, which for sigma 1.4 makes
    its figures about 96 times these.
    """
    pred, truth = _pair(pred, truth)
    inside = _region(truth.shape, region)
    difference = _gradient_magnitude(pred, sigma) - _gradient_magnitude(truth, sigma)
    return float(np.square(difference)[inside].sum() / 1000.0)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    labels, count = ndimage.label(mask)  # 4-connectivity (scipy's default structure)
    if count == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == sizes.argmax()


def connectivity_error(
    pred: np.ndarray,
    truth: np.ndarray,
    region: np.ndarray | None = None,
    step: float = CONNECTIVITY_STEP,
    theta: float = CONNECTIVITY_THETA,
) -> float:
    """Connectivity error of Rhemann et al. 2009, divided by 1000.

    1. For each threshold ``t = step, 2*step, ..., 1`` the source region Omega_t is the
       largest 4-connected component of pixels whose alpha is >= t in BOTH mattes.
    2. ``l_i`` is the highest threshold level at which pixel i is still in Omega
       (the level just before it first falls out; 1 if it never does).
    3. ``d_i = alpha_i - l_i`` and ``phi_i = 1 - d_i * [d_i >= theta]``: a pixel whose alpha
       exceeds its connected level by at least ``theta`` is "disconnected" by that much.
    4. The error is ``sum over region of |phi_pred - phi_truth|``.

    Alphas are (H, W) in 0..1; ``step`` 0.1 and ``theta`` 0.15 are the benchmark's values.
    """
    pred, truth = _pair(pred, truth)
    inside = _region(truth.shape, region)
    levels = np.round(step * np.arange(1, round(1.0 / step) + 1), 10)  # step, 2*step, ..., 1
    connected_level = np.full(truth.shape, np.nan)
    previous = 0.0
    for threshold in levels:
        omega = _largest_component((pred >= threshold) & (truth >= threshold))
        newly_disconnected = np.isnan(connected_level) & ~omega
        connected_level[newly_disconnected] = previous
        previous = threshold
    connected_level[np.isnan(connected_level)] = 1.0

    def phi(alpha: np.ndarray) -> np.ndarray:
        d = alpha - connected_level
        return 1.0 - d * (d >= theta)

    return float(np.abs(phi(pred) - phi(truth))[inside].sum() / 1000.0)


def colour_error(
    pred_premultiplied: np.ndarray,
    truth_premultiplied: np.ndarray,
    truth_alpha: np.ndarray,
    region: np.ndarray | None = None,
) -> float:
    """Mean absolute error of premultiplied scene-linear RGB, over the subject.

    Both colours are (H, W, 3) premultiplied by their own alpha, linear light. The mean is
    over the three channels and over the pixels where ``truth_alpha > 0`` (restricted to
    ``region`` when given), so the figure is independent of how much screen the shot has.
    Errors in the background (where the truth is 0) are left to the alpha errors.
    """
    pred = np.asarray(pred_premultiplied, dtype=np.float64)
    truth = np.asarray(truth_premultiplied, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"colours must be two (H, W, 3) arrays of one shape, got {pred.shape} and {truth.shape}")
    inside = _region(truth.shape[:2], region) & (np.asarray(truth_alpha) > 0)
    if not inside.any():
        return 0.0
    return float(np.abs(pred - truth)[inside].mean())


def gsg(
    rgb: np.ndarray,
    screen_rgb: np.ndarray | tuple[float, float, float],
    clusters: int = 3,
    max_pixels: int = 50_000,
    seed: int = 0,
) -> float:
    """Green-screen generation quality (GSG) of DiffuMatting: lower is better.

    K-Means (``kmeans``) on the image's colours, take the centre of the most populated
    cluster (the dominant colour), return its Euclidean distance to ``screen_rgb``, the
    ideal screen colour. The distance is in the units of the inputs: pass both in the same
    encoding (e.g. 8-bit sRGB 0..255 as in the paper, or scene-linear 0..1).
    At most ``max_pixels`` pixels, drawn with ``seed``, are clustered, so the result is
    deterministic and fast on large frames.
    """
    colours = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    if len(colours) > max_pixels:
        colours = colours[np.random.default_rng(seed).choice(len(colours), max_pixels, replace=False)]
    centres, labels = kmeans(colours, clusters, attempts=3, seed=seed)
    dominant = centres[np.bincount(labels).argmax()]
    return float(np.linalg.norm(dominant - np.asarray(screen_rgb, dtype=np.float64)))


def kmeans(points: np.ndarray, clusters: int, *, attempts: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """K-Means (Lloyd, k-means++ seeding; OpenCV's) of (N, D) points: (k, D) float64 centres, (N,) labels.

    ``k`` is ``clusters``, or the number of distinct points when fewer (a flat synthetic
    image); each centre is the mean of its points. The best of ``attempts`` seedings is kept. OpenCV's random generator is set to
    ``seed`` first, so the result depends only on the points (and OpenCV imports in a
    fraction of scikit-learn's second).
    """
    data = np.ascontiguousarray(points, dtype=np.float32)
    k = count_distinct(data, clusters)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 300, 1e-10)
    labels = cv2.kmeans(data, k, None, criteria, attempts, cv2.KMEANS_PP_CENTERS)[1].ravel()
    # Centres as the exact mean of their points (OpenCV's are float32 and a step behind).
    points = np.asarray(points, dtype=np.float64)
    counts = np.maximum(np.bincount(labels, minlength=k), 1)[:, None]
    centres = np.stack([np.bincount(labels, weights=points[:, d], minlength=k) for d in range(points.shape[1])], 1)
    return centres / counts, labels


def count_distinct(points: np.ndarray, at_most: int) -> int:
    """The number of distinct rows of (N, D) ``points``, counted up to ``at_most``.

    One pass per distinct row found: for a few clusters far cheaper than sorting the rows
    (``np.unique(axis=0)``), which a 1080p frame's K-Means paid on every frame."""
    remaining = points
    for found in range(at_most):
        if not len(remaining):
            return found
        remaining = remaining[np.any(remaining != remaining[0], axis=1)]
    return at_most
