"""Shared fixtures for the I/O tests."""

import numpy as np
import pytest


@pytest.fixture
def gradient() -> np.ndarray:
    """(4, 6, 4) straight RGBA in 0..1: distinct values in every pixel and channel."""
    y, x = np.mgrid[0:4, 0:6].astype(np.float32)
    return np.stack([x / 5, y / 3, (x + y) / 8, 1 - x / 10], axis=-1)
