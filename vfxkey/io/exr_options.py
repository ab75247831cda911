"""The EXR options vfxkey writes, by name: compressions and channel data types.

Settings are checked against these when a shot spec or a command line is read, without
loading the writer (OpenImageIO).
"""

from __future__ import annotations

import numpy as np

from vfxkey.errors import VfxkeyError

# OpenEXR compressions we accept by name (OIIO silently falls back to zip for unknown
# names, so they are checked here). zip/zips/piz/rle/none are lossless; dwaa/dwab are lossy.
EXR_COMPRESSIONS = ("zip", "zips", "piz", "rle", "none", "dwaa", "dwab")
# EXR channel data types and the largest finite value each holds.
EXR_DATA_TYPES = {"half": 65504.0, "float": float(np.finfo(np.float32).max)}


def check_data_type(data_type: str) -> str:
    """Return ``data_type`` if it is an EXR data type vfxkey writes (half, float), else raise :class:`VfxkeyError`."""
    if data_type not in EXR_DATA_TYPES:
        raise VfxkeyError(f"unknown EXR data type {data_type!r}; choose one of {', '.join(EXR_DATA_TYPES)}")
    return data_type


def check_compression(compression: str) -> str:
    """Return ``compression`` if it is a known OpenEXR compression, else raise :class:`VfxkeyError`."""
    if compression not in EXR_COMPRESSIONS:
        raise VfxkeyError(
            f"unknown EXR compression {compression!r}; choose one of {', '.join(EXR_COMPRESSIONS)}"
        )
    return compression
