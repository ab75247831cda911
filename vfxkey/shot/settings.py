"""What a shot's outputs record about how they were made, and its hash.

Every output EXR carries the settings that changed its pixels (``vfxkey:<name>``) and their
hash (``vfxkey:settings_hash``), by which a later run tells an up-to-date frame from one to
redo. Paths are recorded relative to the spec's folder, so the hashes stay the same when
the shot folder moves.
"""

from __future__ import annotations

import hashlib
import json
import os

from vfxkey.shot.spec import ShotSpec


def settings_hash(settings: dict) -> str:
    """16 hex digits of sha256 over the settings as canonical JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def relative(path: str, spec: ShotSpec) -> str:
    """``path`` relative to the spec's folder when it lies inside it, so metadata and settings
    hashes stay the same when the shot folder moves; else as it is."""
    folder = os.path.abspath(spec.folder)
    absolute = os.path.abspath(path)
    return os.path.relpath(absolute, folder) if absolute.startswith(folder + os.sep) else path


def stored_as(spec: ShotSpec) -> dict:
    """How the EXRs store pixels (a lossy compression or the data type changes them)."""
    return {"data_type": spec.outputs.data_type, "compression": spec.outputs.compression}
