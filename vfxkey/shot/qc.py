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
whole shot's sidecar is written (``add_flicker``). ``cut_edge`` is the comp's: an
opaque edge of the element touching its frame border (a body cut by the green-screen
frame) lands inside the comp (``cut_edge``); the runner records it in the comp EXR's
metadata and ``with_comp`` adds it to the element's record. ``failed`` turns chosen verdicts into
a :class:`vfxkey.errors.QcFailed` (the CLI's exit code 3).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from vfxkey.comp.transform import to_comp
from vfxkey.errors import QcFailed
from vfxkey.io.files import atomic_output
from vfxkey.io.images import read_header
from vfxkey.io.sequence import FrameRange

# Figures kept as lists of numbers in a record (space-separated text in the EXR).
_VECTORS = ("screen_rgb", "frame_screen_rgb")
_FIGURES = ("screen_rgb", "frame_screen_rgb", "screen_shift", "screen_exposure", "gsg", "soft_fraction",
            "screen_refit", "verdicts", "warnings", "fg_region_at_frame")
CUT_EDGE_ALPHA, CUT_EDGE_PIXELS = 0.5, 4  # cut_edge: at least 4 border pixels of alpha >= 0.5 land inside the comp
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


def frame_flicker(alpha: np.ndarray, previous: np.ndarray | None) -> float | None:
    """``mean |alpha_t - alpha_t-1|`` of one (H, W) alpha against the frame before it (None
    for the first frame, and where the size changes)."""
    if previous is None or previous.shape != alpha.shape:
        return None
    return float(np.mean(np.abs(alpha - previous)))


def flicker(alphas) -> list[float | None]:
    """:func:`frame_flicker` of each frame of an iterable of (H, W) alphas, in frame order."""
    figures, previous = [], None
    for alpha in alphas:
        figures.append(frame_flicker(alpha, previous))
        previous = alpha
    return figures


def flicker_limit(values: list[float | None]) -> float:
    """The flicker figure above which a frame flickers: FLICKER_SHARE times the shot's
    median, and at least FLICKER_FLOOR."""
    known = [v for v in values if v is not None]
    return max(FLICKER_SHARE * float(np.median(known)) if known else 0.0, FLICKER_FLOOR)


def flickers(values: list[float | None]) -> list[bool]:
    """Which frames flicker: above :func:`flicker_limit`."""
    limit = flicker_limit(values)
    return [v is not None and v > limit for v in values]


def add_flicker(records: list[dict], values: list[float | None]) -> None:
    """Add each record's ``flicker`` figure (``values``, :func:`flicker`'s, in the same
    frame order) and, where it flickers, the ``flicker`` verdict and a warning."""
    for record, value, flickering in zip(records, values, flickers(values)):
        record["flicker"] = value
        if flickering:
            record.setdefault("verdicts", []).append("flicker")
            record.setdefault("warnings", []).append(f"alpha flicker {value:.4f} (mean |alpha change| from the "
                                                     "frame before)")


def cut_edge(alpha: np.ndarray, canvas: tuple[int, int], position: tuple[float, float] | None = None,
             scale: float = 1.0, rotation: float = 0.0, pivot: tuple[float, float] | None = None
             ) -> list[tuple[str, str]]:
    """The ``cut_edge`` verdict and its warning, or nothing.

    The element's frame border cuts whatever is opaque along it (alpha >= CUT_EDGE_ALPHA
    in its outermost rows and columns); placed by :func:`vfxkey.comp.transform.place`
    (same arguments), that cut must sit on or outside the comp's border, or the comp shows
    a hard line. The verdict is given when at least CUT_EDGE_PIXELS of those border pixels'
    outer edges land more than a pixel inside the comp.

    Args:
        alpha: ``(h, w)`` alpha of the element over its display window (its frame).
        canvas: ``(H, W)`` of the comp.
    """
    h, w = alpha.shape
    opaque = alpha >= CUT_EDGE_ALPHA
    sides = {"top": [(x + 0.5, 0.0) for x in np.flatnonzero(opaque[0])],
             "bottom": [(x + 0.5, float(h)) for x in np.flatnonzero(opaque[-1])],
             "left": [(0.0, y + 0.5) for y in np.flatnonzero(opaque[:, 0])],
             "right": [(float(w), y + 0.5) for y in np.flatnonzero(opaque[:, -1])]}
    height, width = canvas
    inside = {}
    for side, points in sides.items():
        if points:
            x, y = to_comp(np.array(points), (h, w), canvas, position, scale, rotation, pivot).T
            landed = (x > 1.0) & (x < width - 1.0) & (y > 1.0) & (y < height - 1.0)
            if landed.any():
                inside[side] = (int(landed.sum()), y[landed], x[landed])
    if sum(count for count, _, _ in inside.values()) < CUT_EDGE_PIXELS:
        return []
    where = ", ".join(f"{count} px of its {side} edge at comp rows {ys.min():.0f}-{ys.max():.0f}, "
                      f"columns {xs.min():.0f}-{xs.max():.0f}" for side, (count, ys, xs) in inside.items())
    return [("cut_edge", f"the element is cut by its frame and the cut shows in the comp ({where}): "
                         "place it so the cut sits at or beyond the comp's border")]


def with_comp(record: dict, comp_file: str, frame: int) -> dict:
    """``record`` with the verdicts and warnings the comp EXR ``comp_file`` carries (``cut_edge``) added."""
    comp = from_exr(comp_file, frame)
    record["verdicts"] = record.get("verdicts", []) + [v for v in comp["verdicts"] if v not in record.get("verdicts", [])]
    record["warnings"] = record.get("warnings", []) + [w for w in comp.get("warnings", [])
                                                       if w not in record.get("warnings", [])]
    return record


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
