"""The sRGB transfer curve (IEC 61966-2-1), the encoding of the benchmark's 8-bit images.

It is the curve of OCIO's "sRGB Encoded Rec.709 (sRGB)", so an image the benchmark
linearises here matches what `vfxkey.io` gives the keyer for the same PNG.
"""

import numpy as np


def to_linear(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded 0..1 -> scene-linear Rec.709, float32."""
    encoded = np.asarray(encoded, dtype=np.float32)
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4).astype(np.float32)


def to_encoded(linear: np.ndarray) -> np.ndarray:
    """Scene-linear Rec.709 -> sRGB-encoded (values outside 0..1 are clipped first), float32."""
    linear = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def quantise8(linear: np.ndarray) -> np.ndarray:
    """Scene-linear -> 8-bit sRGB, as a camera or a PNG export stores it."""
    return np.round(to_encoded(linear) * 255.0).astype(np.uint8)


def from8(image: np.ndarray) -> np.ndarray:
    """8-bit sRGB -> scene-linear float32."""
    return to_linear(np.asarray(image, dtype=np.float32) / 255.0)
