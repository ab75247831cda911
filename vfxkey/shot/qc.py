"""Per-frame QC records: in each element EXR's metadata, and the shot's JSON sidecar.

A record is a flat dict: ``frame``, ``source``, ``output`` and the element stage's figures
(the keyer's ``screen_rgb`` (scene-linear triple), ``gsg``, ``soft_fraction``, its
``warnings``; a generated element's ``gsg`` in 8-bit sRGB units, ``fg_region_at_frame``).
In the EXR each figure is ``vfxkey:<name>``: lists as space-separated numbers, warnings
joined with "; ", booleans as 0/1.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from vfxkey.io.files import atomic_output
from vfxkey.io.images import read_header

# Figures kept as lists of numbers in a record (space-separated text in the EXR).
_VECTORS = ("screen_rgb",)


def to_metadata(qc: dict) -> dict:
    """A record's figures as EXR metadata values (str/int/float); None values are left out."""
    metadata = {}
    for name, value in qc.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, (list, tuple)):
            value = "; ".join(value) if name == "warnings" else " ".join(f"{float(v):.6g}" for v in value)
        metadata[name] = value
    return metadata


def from_exr(path: str, frame: int) -> dict:
    """The QC record of an element EXR, read back from its ``vfxkey:*`` metadata."""
    attributes = {name[len("vfxkey:"):]: value for name, value in read_header(path, frame).attributes.items()
                  if name.startswith("vfxkey:")}
    record = {"frame": frame, "source": attributes.get("source", ""), "output": path}
    for name in ("screen_rgb", "gsg", "soft_fraction", "screen_fit", "screen_refit", "warnings",
                 "fg_region_at_frame"):
        if name not in attributes:
            continue
        value = attributes[name]
        if name in _VECTORS:
            value = [float(v) for v in str(value).split()]
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
