"""The element input of a ``key`` or ``edit`` shot, as every part of the runner opens it."""

from __future__ import annotations

from collections.abc import Callable

from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange
from vfxkey.io.source import Source
from vfxkey.shot.spec import ShotSpec


def open_input(spec: ShotSpec, frames: FrameRange | None, warn: Callable[[str], None] | None) -> Source:
    """The element input of a ``key`` or ``edit`` shot over ``frames``, linearised into the working space."""
    element = spec.element
    return open_source(element.input, frames, input_colorspace=element.input_colorspace,
                       working_space=spec.working_space, warn=warn)


def chunk_of(shot: Source, spec: ShotSpec, frames: list[int], warn: Callable[[str], None] | None) -> Source:
    """The element input's ``frames``: the shot's open ``shot`` source when they are all of it."""
    if frames == list(shot.info.frames):
        return shot
    return open_input(spec, FrameRange.of(frames), warn)
