"""Per-frame QC records: in each element EXR's metadata, and the shot's JSON sidecar.

A record is a flat dict: ``frame``, ``source``, ``output`` and the element stage's figures
(the keyer's ``screen_rgb`` and ``frame_screen_rgb`` (scene-linear triples),
``screen_shift``, ``screen_exposure``, ``gsg``, ``soft_fraction``, its ``verdicts`` and
``warnings``; a generated element's ``gsg`` in 8-bit sRGB units, ``fg_region_at_frame``).
In the EXR each figure is ``vfxkey:<name>``: lists as space-separated numbers, verdicts
space-separated, warnings joined with "; ", booleans as 0/1.

**Verdicts** are what a farm post-task acts on: per frame a list of ``vfxkey.shot.verdicts.VERDICTS``. The keyer
gives ``refit``, ``blank_key``, ``full_key``, ``inverted_key`` and ``screen_residue``
(``vfxkey.matte.greenpost``); ``flicker`` needs the frame before, so it is added when the
whole shot's sidecar is written (``add_flicker``). ``failed`` turns chosen verdicts into
a :class:`vfxkey.errors.QcFailed` (the CLI's exit code 3).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from vfxkey.errors import QcFailed
from vfxkey.io.files import atomic_output
from vfxkey.io.images import read_header
from vfxkey.io.sequence import FrameRange

# Figures kept as lists of numbers in a record (space-separated text in the EXR).
_VECTORS = ("screen_rgb", "frame_screen_rgb")
_FIGURES = ("screen_rgb", "frame_screen_rgb", "screen_shift", "screen_exposure", "gsg", "soft_fraction",
            "screen_refit", "verdicts", "warnings", "fg_region_at_frame")
FLICKER_FLOOR, FLICKER_SHARE = 0.002, 3.0  # flicker: mean |alpha_t - alpha_t-1| above both this and 3x the shot's median


def to_metadata(qc: dict) -> dict:
    """A record's figures as EXR metadata values (str/int/float); None values are left out."""
    metadata = {}
    for name, value in qc.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif name == "verdicts":
            value = " ".join(value)
        elif isinstance(value, (list, tuple)):
            value = "; ".join(value) if name == "warnings" else " ".join(f"{float(v):.6g}" for v in value)
        metadata[name] = value
    return metadata


def from_exr(path: str, frame: int) -> dict:
    """The QC record of an element EXR, read back from its ``vfxkey:*`` metadata."""
    attributes = {name[len("vfxkey:"):]: value for name, value in read_header(path, frame).attributes.items()
                  if name.startswith("vfxkey:")}
    record = {"frame": frame, "source": attributes.get("source", ""), "output": path, "verdicts": []}
    for name in _FIGURES:
        if name not in attributes:
            continue
        value = attributes[name]
        if name in _VECTORS:
            value = [float(v) for v in str(value).split()]
        elif name == "verdicts":
            value = str(value).split()
        elif name == "warnings":
            value = [w for w in str(value).split("; ") if w]
        elif name == "screen_refit":
            value = bool(value)
        record[name] = value
    return record


def beside(output: str, suffix: str) -> str:
    """A file beside an output, named after its stem: ``out/key.####.exr`` + ``qc.json`` ->
    ``out/key.qc.json``; a folder ``out/`` -> ``out/vfxkey_qc.json``."""
    if output.endswith(("/", os.sep)) or os.path.isdir(output):
        return os.path.join(output, f"vfxkey_{suffix}")
    folder, name = os.path.split(output)
    stem = re.sub(r"[._]?(#+|%0?\d*d|@+)", "", os.path.splitext(name)[0])  # the file name's token only
    return os.path.join(folder, f"{stem}.{suffix}")


def sidecar_path(element_output: str) -> str:
    """The QC sidecar of an element output: ``OUTPUT-stem.qc.json``."""
    return beside(element_output, "qc.json")


def write_sidecar(element_output: str, header: dict, records: list[dict]) -> str:
    """Write the QC sidecar (``header`` + one record per frame, in frame order) atomically."""
    path = sidecar_path(element_output)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps({**header, "frames": sorted(records, key=lambda r: r["frame"])}, indent=1))
    return path


def flicker(alphas) -> list[float | None]:
    """``mean |alpha_t - alpha_t-1|`` of each frame of an iterable of (H, W) alphas, in
    frame order (None for the first, and where the size changes)."""
    figures, previous = [], None
    for alpha in alphas:
        same = previous is not None and previous.shape == alpha.shape
        figures.append(float(np.mean(np.abs(alpha - previous))) if same else None)
        previous = alpha
    return figures


def flickers(values: list[float | None]) -> list[bool]:
    """Which frames flicker: above FLICKER_FLOOR and FLICKER_SHARE times the shot's median."""
    known = [v for v in values if v is not None]
    limit = max(FLICKER_SHARE * float(np.median(known)) if known else 0.0, FLICKER_FLOOR)
    return [v is not None and v > limit for v in values]


def add_flicker(records: list[dict], alphas) -> None:
    """Add each record's ``flicker`` figure and, where it flickers, the ``flicker`` verdict
    and a warning; ``records`` and ``alphas`` (an iterable of (H, W) arrays) in frame order."""
    values = flicker(alphas)
    for record, value, flickering in zip(records, values, flickers(values)):
        record["flicker"] = value
        if flickering:
            record.setdefault("verdicts", []).append("flicker")
            record.setdefault("warnings", []).append(f"alpha flicker {value:.4f} (mean |alpha change| from the "
                                                     "frame before)")


def verdict_frames(records: list[dict]) -> dict[str, list[int]]:
    """Per verdict, the frames that carry it (only verdicts some frame carries)."""
    frames: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: r["frame"]):
        for verdict in record.get("verdicts", []):
            frames.setdefault(verdict, []).append(record["frame"])
    return frames


def failed(records: list[dict], fail_on: tuple[str, ...], where: str) -> None:
    """Raise QcFailed naming the frames of each verdict in ``fail_on`` that ``records`` carry."""
    found = {v: frames for v, frames in verdict_frames(records).items() if v in fail_on}
    if found:
        raise QcFailed(f"{where}: QC failed: " + "; ".join(f"{v} on frames {FrameRange.of(frames)}"
                                                           for v, frames in found.items()))


def check_sidecar(element_output: str, fail_on: tuple[str, ...], where: str) -> None:
    """``failed`` on the records of the shot's sidecar (written by finalize)."""
    if fail_on:
        failed(json.loads(Path(sidecar_path(element_output)).read_text())["frames"], fail_on, where)
