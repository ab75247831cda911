"""The timecode of a shot's movies: from its footage's movie timecode, else its frame numbers."""

from __future__ import annotations

from fractions import Fraction

from vfxkey.io.frame import MOVIE_EXTENSIONS
from vfxkey.io.read import open_source
from vfxkey.io.source import movie_timecode
from vfxkey.io.timecode import from_frames
from vfxkey.shot.spec import KeyElement, ShotSpec


def shot_timecode(spec: ShotSpec, frame: int, fps: Fraction) -> str:
    """``HH:MM:SS:FF`` of shot frame ``frame`` (a movie's first): the plate movie's own
    timecode, else the keyed input movie's, counted on to that frame; else the frame
    number itself at ``fps`` (frame 1001 at 24 fps is 00:00:41:17)."""
    inputs = [spec.plate.path] if spec.plate else []
    inputs += [spec.element.input] if isinstance(spec.element, KeyElement) else []
    for path in inputs:
        if path.lower().endswith(MOVIE_EXTENSIONS):
            info = open_source(path, working_space=spec.working_space, missing="black").info
            if info.timecode is not None:
                return movie_timecode(info, frame, fps)
    return from_frames(frame, fps)
