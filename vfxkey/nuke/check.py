"""The Read-side check: do the files a comp script points at exist, and are they vfxkey's?

Every frame a Read covers is looked for on disk; the files vfxkey is meant to have
written (the element) must also carry its metadata (``vfxkey:version``, read from the
header with OpenImageIO, pixels untouched). Problems come back as one line per Read,
naming the pattern and the frames, so a script is never handed over pointing at nothing.
"""

from __future__ import annotations

import os

from vfxkey.errors import VfxkeyError
from vfxkey.io.images import read_header
from vfxkey.io.sequence import FrameRange, frame_path
from vfxkey.nuke.comp import Footage, NukeComp

VFXKEY_TAG = "vfxkey:version"


def footage_problems(role: str, footage: Footage) -> list[str]:
    """What is wrong with ``footage``'s files, one line per kind of problem (empty: none).

    ``role`` names the Read in the messages (``plate``, ``element``).
    """
    files = (
        {frame: frame_path(footage.path, frame) for frame in footage.frames}
        if footage.kind == "sequence" else {footage.frames.first: footage.path}
    )
    missing, foreign, unreadable = [], [], []
    for frame, path in files.items():
        if not os.path.isfile(path):
            missing.append(frame)
        elif footage.vfxkey and footage.kind != "movie":
            try:
                attributes = read_header(path, frame).attributes
            except VfxkeyError:
                unreadable.append(frame)
                continue
            if VFXKEY_TAG not in attributes:
                foreign.append(frame)

    problems = []
    for frames, what in ((missing, "missing"), (unreadable, "unreadable"),
                         (foreign, f"not written by vfxkey (no {VFXKEY_TAG})")):
        if frames:
            span = f"frames {FrameRange.of(frames)} " if footage.kind == "sequence" else ""
            problems.append(f"{role} {footage.path}: {span}{what}")
    return problems


def comp_problems(comp: NukeComp) -> list[str]:
    """:func:`footage_problems` of the plate and the element."""
    plate = footage_problems("plate", comp.plate) if comp.plate is not None else []
    return plate + footage_problems("element", comp.element)


def require_footage(comp: NukeComp) -> None:
    """Raise one :class:`VfxkeyError` listing every problem of :func:`comp_problems`."""
    problems = comp_problems(comp)
    if problems:
        raise VfxkeyError(f"shot {comp.shot}: the comp's Reads need files that are not right: "
                          + "; ".join(problems))
