"""What every farm job of a shot holds, whatever the engine: three steps.

1. **prepare** (one task): measure the shot's screen once (``vfxkey prepare``);
2. **render** (one task per chunk of frames): ``vfxkey render SHOT --frames ...`` (or
   ``--within A-B`` where the engine names a chunk only by its first and last frame);
3. **finalize** (one task, after every chunk): movie, QC report, Nuke script.

Each step is an argument list (never a shell line); each engine module writes them in
its own format and quotes them by that format's own rules. What a format cannot carry
(a line break in a ``Key=Value`` file, an engine's own token inside a path) is refused
when the job is written, naming the path and the engine's rule, never after the frames
have rendered (``vfxkey submit`` also checks the paths the shot's Nuke script names).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from vfxkey.errors import VfxkeyError
from vfxkey.farm.chunks import chunks
from vfxkey.io.sequence import FrameRange, has_frame_token
from vfxkey.shot.spec import ShotSpec

# No farm format carries these in a path: XML 1.0 cannot hold them, Key=Value files and
# command lines end at a line break.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Controls:
    """The wrangler's settings of a job; ``None`` leaves the engine's default.

    Each engine writes those it has (see ``docs/farm.md``): ``priority``, ``retries`` (per
    task), ``timeout`` (minutes per task), ``memory`` (GiB a task needs) for all;
    ``pool``, ``group``, ``limits`` for Deadline; ``show``, ``user``, ``uid`` and
    ``job_name`` for OpenCue.
    """

    priority: int | None = None
    retries: int | None = None
    timeout: int | None = None
    memory: float | None = None
    pool: str | None = None
    group: str | None = None
    limits: tuple[str, ...] = ()
    show: str | None = None
    user: str | None = None
    uid: int | None = None
    job_name: str | None = None


@dataclass(frozen=True)
class ShotJob:
    """A shot's farm job: the spec, its chunks and the command that runs vfxkey on a node."""

    name: str
    spec_path: str  # absolute
    frames: FrameRange
    chunk: int
    command: str = "vfxkey"  # the vfxkey executable as the nodes find it
    threads: int | None = None  # --threads of each render task; None: the farm's core count
    mode: str = "key"  # generate and edit run a diffusion model: they want a GPU host
    inputs: tuple[str, ...] = ()  # absolute files and folders the tasks read
    outputs: tuple[str, ...] = ()  # absolute files the tasks write (patterns for sequences)
    controls: Controls = field(default_factory=Controls)

    @classmethod
    def of(cls, spec: ShotSpec, chunk: int, *, command: str = "vfxkey", threads: int | None = None,
           controls: Controls | None = None) -> ShotJob:
        if spec.frames is None:
            raise VfxkeyError(f"{spec.path or spec.name}: [shot] frames is missing")
        return cls(spec.name, _text(os.path.abspath(spec.path)), spec.frames, chunk, _text(command), threads,
                   spec.element.mode, tuple(map(_text, shot_inputs(spec))), tuple(map(_text, shot_outputs(spec))),
                   controls or Controls())

    def __post_init__(self) -> None:
        self.refuse(_CONTROL, "(a control character) cannot be written in a farm job")

    @property
    def chunks(self) -> list[FrameRange]:
        return chunks(self.frames, self.chunk)

    @property
    def paths(self) -> list[str]:
        """Every path a task's command line or the job's files name."""
        return [self.spec_path, self.command, *self.inputs, *self.outputs]

    def refuse(self, characters: str | re.Pattern, why: str) -> None:
        """A VfxkeyError naming the first path holding one of ``characters`` (a string of
        characters or a pattern), and ``why`` (the engine rule it breaks)."""
        pattern = characters if isinstance(characters, re.Pattern) else re.compile(f"[{re.escape(characters)}]")
        for path in self.paths:
            found = pattern.search(path)
            if found:
                shown = repr(path) if _CONTROL.search(path) else path  # the error stays one line
                raise VfxkeyError(f"{shown}: {found[0]!r} {why}; rename the file or folder")

    # Each step's vfxkey arguments; ``spec`` is the spec path as the engine names it (the
    # path itself, or a job parameter that holds it).
    def prepare_args(self, spec: str) -> list[str]:
        return ["prepare", spec]

    def render_args(self, spec: str, frames: str, *, within: bool = False) -> list[str]:
        """The render task's arguments; ``frames`` is a range or the engine's chunk tokens,
        read as "the shot's frames from A to B" with ``within``."""
        threads = ["--threads", str(self.threads)] if self.threads else []
        return ["render", spec, "--within" if within else "--frames", frames, *threads]

    def finalize_args(self, spec: str) -> list[str]:
        return ["finalize", spec]


def _text(path: str) -> str:
    """``path`` as the text its bytes spell in UTF-8, the encoding job files are written in
    (under a C locale Python holds a path's non-ASCII bytes as surrogates)."""
    try:
        return os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise VfxkeyError(f"{path!r}: a farm job names paths in UTF-8, and this one is not UTF-8") from None


def shot_inputs(spec: ShotSpec) -> tuple[str, ...]:
    """What the shot's tasks read besides the spec: the plate, the element input (a
    sequence's folder, else the file), models, adapters and masks; absolute, in that order."""
    element = spec.element
    paths = [spec.plate.path if spec.plate else None]
    paths += [getattr(element, name, None) for name in (
        "input", "model", "model_config", "lora", "matte_head", "ip_adapter", "image_encoder", "mask",
        "screen_from", "hint")]
    found = []
    for path in filter(None, paths):
        path = os.path.dirname(path) if has_frame_token(path) else path
        if os.path.abspath(path) not in found:
            found.append(os.path.abspath(path))
    return tuple(found)


def shot_outputs(spec: ShotSpec) -> tuple[str, ...]:
    """Every output file or pattern of the shot, absolute."""
    outputs = spec.outputs
    return tuple(os.path.abspath(p) for p in (outputs.element, outputs.comp, outputs.preview, outputs.movie,
                                              outputs.element_movie, outputs.nuke, outputs.qc_report,
                                              outputs.save_screen) if p)


def output_folder(job: ShotJob) -> str:
    """The deepest folder holding every output (the folder a farm brings back)."""
    return os.path.commonpath([os.path.dirname(p) for p in job.outputs])
