"""What every farm job of a shot holds, whatever the engine: three steps.

1. **prepare** (one task): measure the shot's screen once (``vfxkey prepare``);
2. **render** (one task per chunk of frames): ``vfxkey render SHOT --frames A-B``;
3. **finalize** (one task, after every chunk): movie, QC report, Nuke script.

Each step is an argument list (never a shell line); each engine module writes them in
its own format and quotes them by that format's own rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vfxkey.farm.chunks import chunks
from vfxkey.io.sequence import FrameRange
from vfxkey.shot.spec import ShotSpec


@dataclass(frozen=True)
class ShotJob:
    """A shot's farm job: the spec, its chunks and the command that runs vfxkey on a node."""

    name: str
    spec_path: str  # absolute
    frames: FrameRange
    chunk: int
    command: str = "vfxkey"  # the vfxkey executable as the nodes find it
    threads: int | None = None  # --threads of each render task; None: the farm's core count

    @classmethod
    def of(cls, spec: ShotSpec, chunk: int, *, command: str = "vfxkey", threads: int | None = None) -> ShotJob:
        return cls(spec.name, os.path.abspath(spec.path), spec.frames, chunk, command, threads)

    @property
    def chunks(self) -> list[FrameRange]:
        return chunks(self.frames, self.chunk)

    # Each step's vfxkey arguments; ``spec`` is the spec path as the engine names it (the
    # path itself, or a job parameter that holds it).
    def prepare_args(self, spec: str) -> list[str]:
        return ["prepare", spec]

    def render_args(self, spec: str, frames: str) -> list[str]:
        """The render task's arguments; ``frames`` is a range or the engine's chunk tokens."""
        threads = ["--threads", str(self.threads)] if self.threads else []
        return ["render", spec, "--frames", frames, *threads]

    def finalize_args(self, spec: str) -> list[str]:
        return ["finalize", spec]
