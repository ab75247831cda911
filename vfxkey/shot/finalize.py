"""Finalize a rendered shot: what needs every frame, run once after all chunks.

1. refuse, naming them, when frames of the element or comp are missing;
2. the QC sidecar of the whole shot, from each element EXR's metadata, with the
   ``flicker`` verdict (which needs the frame before) added;
3. the ProRes 4444 movies, streamed from the EXRs: the comp as review media (the review
   display and view, as the PNG previews; no alpha: the comp is opaque), the element if
   asked as interchange (straight Camera Rec.709 colour and alpha); both with a timecode
   track from the plate's (or the keyed input's) movie timecode, else the shot's first
   frame at its fps;
4. the QC report (HTML).

The Nuke script is written after these by the caller (``vfxkey finalize`` and ``vfxkey
render``, :func:`vfxkey.cli.finalize.finalize_shot`): ``vfxkey.nuke`` builds on the shot,
not the other way round.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from vfxkey.errors import DataError
from vfxkey.io.files import remove_stale_temporaries
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange, frame_path, scan_frames
from vfxkey.io.write import ProResWriter
from vfxkey.shot import qc
from vfxkey.shot.spec import ShotSpec, shot_config
from vfxkey.shot.timecode import shot_timecode


def missing_frames(spec: ShotSpec) -> dict[str, FrameRange]:
    """Per output pattern (element, comp), the shot's frames not on disk."""
    missing = {}
    for pattern in (spec.outputs.element, spec.outputs.comp):
        if pattern:
            absent = set(spec.frames) - set(scan_frames(pattern))
            if absent:
                missing[pattern] = FrameRange.of(absent)
    return missing


@shot_config
def finalize(spec: ShotSpec) -> list[str]:
    """Write the shot's sidecar, movies and QC report; return the files written."""
    missing = missing_frames(spec)
    if missing:
        raise DataError(f"{spec.path or spec.name}: cannot finalize, frames are missing: "
                        + "; ".join(f"{pattern}: {frames}" for pattern, frames in missing.items()))
    outputs = spec.outputs
    for folder in outputs.folders():  # a killed finalize's temporary movie, report or sidecar
        remove_stale_temporaries(folder)
    records = [qc.from_exr(frame_path(outputs.element, frame), frame) for frame in spec.frames]
    if outputs.comp:  # the comp's verdicts (cut_edge)
        records = [qc.with_comp(record, frame_path(outputs.comp, record["frame"]), record["frame"])
                   for record in records]
    element = open_source(outputs.element, spec.frames, working_space=spec.working_space)
    qc.add_flicker(records, qc.flicker(frame.alpha if frame.alpha is not None else np.ones(frame.rgb.shape[:2], np.float32)
                                       for frame in element))
    written = [qc.write_sidecar(outputs.element, {"shot": spec.name, "spec": spec.path or "",
                                                   "output": outputs.element,
                                                   "verdicts": qc.verdict_frames(records)}, records)]
    fps = spec.fps or Fraction(24)
    start = shot_timecode(spec, spec.frames.first, fps)
    for movie, pattern, review in ((outputs.movie, outputs.comp, True), (outputs.element_movie, outputs.element, False)):
        if movie:
            written.append(_movie(spec, pattern, movie, fps, review=review, timecode=start))
    if outputs.qc_report:
        from vfxkey.shot.report import write_report

        written.append(write_report(spec, outputs.qc_report))
    return written


def _movie(spec: ShotSpec, pattern: str, movie: str, fps: Fraction, *, review: bool, timecode: str) -> str:
    """Stream the EXR sequence ``pattern`` (premultiplied, working space) into a ProRes 4444
    movie: review media (opaque, the review display/view) or interchange (with alpha)."""
    source = open_source(pattern, spec.frames, working_space=spec.working_space)
    info = source.info
    with ProResWriter(movie, info.width, info.height, fps, working_space=spec.working_space,
                      alpha=not review, review=review, timecode=timecode,
                      metadata={"shot": spec.name, "frames": str(spec.frames)}) as writer:
        for frame in source:
            writer.write(frame.premultiplied_rgba(), frame=frame.number)
    return movie
