"""Render a chunk of a shot: make the element, place it, comp it over the plate, write.

This is the one per-shot loop; ``vfxkey render``, ``vfxkey key``, ``vfxkey generate``,
the farm's tasks and the Nuke bridge all call :func:`render`. For each frame:

1. **Up to date?** A frame whose outputs exist, read back cleanly and carry this
   frame's settings hash (``vfxkey:settings_hash``) is skipped (``force`` redoes it).
   The element's hash covers every setting that changes its pixels; the comp's adds the
   plate and the placement at that frame, so moving one placement key redoes only the
   comps it moves.
2. **Element**: made by the shot's element stage (:mod:`vfxkey.shot.elements`): keyed
   from the green-screen input against the shot's screen (:mod:`vfxkey.shot.screen`,
   measured once and stored beside the outputs), generated (TKG-DM) and keyed, or edited
   from the input (Tight Inversion). It is rounded to half float as the EXR stores it, so
   a comp made now and one made later from the EXR are the same bits.
3. **Placement**: the premultiplied element transformed onto the comp
   (:func:`vfxkey.comp.transform.place`, keyed linearly over the shot).
4. **Comp**: ``over`` the plate; outputs written atomically (temporary name + rename).
   An opaque edge of the element cut by its frame that lands inside the comp is the
   ``cut_edge`` verdict (:func:`vfxkey.shot.qc.cut_edge`), with a warning.

Nothing a frame's pixels depend on comes from another frame of the chunk, so any split
of the shot into chunks, processes or machines gives the same bits.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from fractions import Fraction
from typing import Protocol

import numpy as np

from vfxkey.comp.over import checkerboard, over
from vfxkey.comp.transform import place
from vfxkey.errors import VfxkeyError, where
from vfxkey.io.colour import check_colorspace, config_identity
from vfxkey.io.companion import Companion
from vfxkey.io.identity import inputs_hash
from vfxkey.io.files import remove_stale_temporaries
from vfxkey.io.images import read_header, read_stored, reads_whole
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange, frame_path, has_frame_token
from vfxkey.io.window import Window, reframe
from vfxkey.io.write import open_frame_writer, write_preview_png
from vfxkey.matte.greenpost import Screen
from vfxkey.shot import qc as qc_records
from vfxkey.shot.elements import element_stage
from vfxkey.shot.settings import relative, settings_hash, stored_as
from vfxkey.shot.spec import EditElement, GenerateElement, Plate, ShotSpec, shot_config
from vfxkey.shot.timecode import shot_timecode


@dataclass
class FrameDone:
    """One frame of a render: what was written (or found up to date) and its QC record."""

    frame: int
    seconds: float
    skipped: bool
    outputs: list[str]
    record: dict = field(default_factory=dict)  # the frame's QC record (qc.py)
    # qc.frame_flicker of the element's alpha as stored against the frame before it in this
    # render (None for the first, and for and after a frame found up to date)
    flicker: float | None = None


@dataclass
class Rendered:
    """What :func:`render` did: the element's recorded settings and hash, the shot's screen
    (None when each frame is keyed against its own) and each frame."""

    settings: dict
    settings_hash: str
    screen: Screen | None
    frames: list[FrameDone]


class Progress(Protocol):
    """What :func:`render` reports to (a progress bar, a farm log)."""

    def start(self, total: int) -> None: ...

    def frame(self, done: FrameDone) -> None: ...


@shot_config
def render(spec: ShotSpec, frames: FrameRange | None = None, *, force: bool = False, allow_mixed: bool = False,
           progress: Progress | None = None, warn: Callable[[str], None] | None = None) -> Rendered:
    """Render ``frames`` (a chunk; default the shot's) of ``spec``.

    Frames are processed in order; ``progress`` hears the total, then each frame as it is
    finished. A generated element refuses to add frames beside frames of the same output
    made with other settings outside this chunk (another device, precision, library
    version...: they would not match) unless ``allow_mixed``. Raises :class:`VfxkeyError`
    naming the file and frame on bad input.
    """
    outputs = spec.outputs
    for folder in outputs.folders():
        remove_stale_temporaries(folder)
    if frames is not None and spec.frames is not None and not set(frames) <= set(spec.frames):
        extra = FrameRange.of(set(frames) - set(spec.frames))
        raise VfxkeyError(f"frames {frames} asked: frames {extra} are outside the shot's {spec.frames}")
    element = element_stage(spec, warn)
    todo = list(frames) if frames is not None else element.frames
    if outputs.preview and len(todo) > 1 and not has_frame_token(outputs.preview):
        raise VfxkeyError(f"{outputs.preview}: preview of {len(todo)} frames needs a frame token, e.g. comp.####.png")
    settings = {**element.settings(), **config_identity()}  # the OCIO config is a setting too
    element_hash = settings_hash(settings)
    # Per-frame EXRs can be checked and skipped; a movie or a folder of stills is always redone.
    checkable = outputs.element.lower().endswith(".exr") and (has_frame_token(outputs.element) or len(todo) == 1)
    fps = spec.fps or element.fps or Fraction(24)
    plate = (Companion(spec.plate.path, spec.working_space, "plate", colorspace=spec.plate.colorspace, warn=warn)
             if spec.plate and (outputs.comp or outputs.preview) else None)

    # 1. Which frames are up to date, which need only their comp, which everything. Each
    #    frame's inputs are part of it: a file re-delivered under its name is seen.
    inputs = {frame: _Inputs(inputs_hash(element.input_files(frame)), plate and plate.file_of(frame))
              for frame in todo}
    status = {frame: _status(spec, frame, element_hash, inputs[frame], force or not checkable) for frame in todo}
    needed = [frame for frame in todo if status[frame] == "element"]
    if isinstance(spec.element, (GenerateElement, EditElement)) and needed and not allow_mixed:
        from vfxkey.generate.provenance import check_same_settings

        check_same_settings(outputs.element, {**settings, "settings_hash": element_hash}, replacing=needed)
    made = element.make(needed) if needed else iter(())
    done: list[FrameDone] = []
    previous_alpha = None  # the last frame's element alpha as stored, float32 (for FrameDone.flicker)
    if progress:
        progress.start(len(todo))
    writer_options = {"working_space": spec.working_space, "fps": fps, "compression": outputs.compression,
                      "data_type": outputs.data_type, "warn": warn,
                      "timecode": shot_timecode(spec, todo[0], fps) if todo else None}
    # The host is a render fact for the QC page, not a setting (it is not in the hash).
    with open_frame_writer(outputs.element, frame_count=len(todo), metadata={**settings,
                                                                           "settings_hash": element_hash,
                                                                           "host": socket.gethostname()},
                           **writer_options) as element_writer, \
            _comp_writer(spec, len(todo), writer_options) as comp_writer:
        for frame in todo:
            start = time.perf_counter()
            element_file = _output_file(outputs.element, frame)
            if status[frame] == "current":
                record = qc_records.from_exr(element_file, frame)
                if outputs.comp is not None:
                    qc_records.with_comp(record, frame_path(outputs.comp, frame), frame)
                done.append(FrameDone(frame, time.perf_counter() - start, True, [], record))
                previous_alpha = None
                if progress:
                    progress.frame(done[-1])
                continue
            if status[frame] == "element":
                # 2. The element.
                item = next(made)
                assert item.frame == frame, (item.frame, frame)
                rgba, record = item.rgba, {"frame": frame, "source": item.source, **item.qc}
                windows = item.data_window, item.display_window
                element_file = element_writer.write(frame, rgba, source_name=item.source,
                                                    metadata={**qc_records.to_metadata(item.qc),
                                                              "inputs_hash": inputs[frame].element},
                                                    data_window=windows[0], display_window=windows[1])
                written = [element_file]
            else:  # the element is current: the comp is made from it as stored
                rgba, *windows = _read_element(element_file)
                record, written = qc_records.from_exr(element_file, frame), []
            record["output"] = element_file
            alpha = rgba[..., 3].astype(np.float32)  # as a reader of the EXR gets it
            flicker, previous_alpha = qc_records.frame_flicker(alpha, previous_alpha), alpha
            # 3. Placement and 4. comp.
            comp_files, comp_qc = _comp(spec, frame, reframe(rgba, *windows), plate, element_hash, inputs[frame],
                                        comp_writer, source=record.get("source") or None)
            written += comp_files
            for verdict, message in comp_qc:
                record.setdefault("verdicts", []).append(verdict)
                record.setdefault("warnings", []).append(message)
                if warn:
                    warn(f"{where(record.get('source') or spec.name, frame)}: {message}")
            done.append(FrameDone(frame, time.perf_counter() - start, False, written, record, flicker))
            if progress:
                progress.frame(done[-1])
    return Rendered(settings, element_hash, element.screen, done)


def _comp_writer(spec: ShotSpec, count: int, options: dict):
    """A writer for the comp sequence, or a do-nothing context when the shot has no comp output."""
    if spec.outputs.comp is None:
        return nullcontext(None)
    return open_frame_writer(spec.outputs.comp, frame_count=count, movie_alpha=False, **options)  # opaque


@dataclass(frozen=True)
class _Inputs:
    """A frame's inputs: the hash of the element's files (:func:`inputs_hash`), the plate's file."""

    element: str
    plate: str | None


def comp_settings(spec: ShotSpec, frame: int, element_hash: str, inputs: _Inputs) -> dict:
    """Every setting that changes the comp of ``frame``: the element's hash and inputs, the
    plate (its file's content too) and the placement then."""
    transform = spec.placement.at(frame)
    plate = spec.plate
    return {"element_hash": element_hash, "inputs_hash": inputs_hash([inputs.plate]) + inputs.element,
            "plate": relative(plate.path, spec) if plate else "",
            "plate_colorspace": plate_colorspace(plate, spec.working_space) if plate else "",
            "plate_reformat": plate.reformat if plate else "",
            "position": "centre" if transform.position is None else " ".join(f"{v:.6g}" for v in transform.position),
            "scale": transform.scale, "rotation": transform.rotation, **stored_as(spec),
            **({"pivot": " ".join(f"{v:.6g}" for v in transform.pivot)} if transform.pivot is not None else {})}


@lru_cache(maxsize=8)
def plate_colorspace(plate: Plate, working_space: str) -> str:
    """The colour space the plate is read from: the spec's, else what its file records or
    its kind implies (as :func:`vfxkey.io.read.open_source` decides)."""
    if plate.colorspace:
        return check_colorspace(plate.colorspace)
    return open_source(plate.path, missing="black", working_space=working_space).info.colorspace


def _comp(spec: ShotSpec, frame: int, rgba: np.ndarray, plate: Companion | None, element_hash: str,
          inputs: _Inputs, writer, *, source: str | None) -> tuple[list[str], list[tuple[str, str]]]:
    """Place ``rgba`` (the element over its display window, the format) and comp it over the
    plate; write the comp EXR (its ``vfxkey:source``: the element's, the input frame it was
    made from) and the preview. Returns the files and the comp's QC verdicts with their
    warnings (``cut_edge``), which the comp EXR's metadata carries too."""
    outputs = spec.outputs
    if outputs.comp is None and outputs.preview is None:
        return [], []
    rgba = rgba.astype(np.float32, copy=False)  # a half element: its stored values, exactly
    if plate is not None and spec.plate.reformat == "none":
        canvas = plate.source.info.display_window.shape
        background = plate.image(frame, canvas)
    else:
        canvas = rgba.shape[:2]
        background = plate.image(frame, canvas) if plate is not None else None
    transform = spec.placement.at(frame)
    placed = place(rgba, canvas, transform.position, transform.scale, transform.rotation, transform.pivot)
    verdicts = qc_records.cut_edge(rgba[..., 3], canvas, transform.position, transform.scale, transform.rotation,
                                   transform.pivot)
    written = []
    if background is not None:
        comp_rgb = over(placed, background)
    if outputs.comp is not None:
        settings = comp_settings(spec, frame, element_hash, inputs)
        comp = np.concatenate([comp_rgb, np.ones((*canvas, 1), np.float32)], axis=-1)
        found = qc_records.to_metadata({"verdicts": [v for v, _ in verdicts], "warnings": [w for _, w in verdicts]}) \
            if verdicts else {}
        written.append(writer.write(frame, comp, source_name=source,
                                    metadata={**settings, "settings_hash": settings_hash(settings), **found}))
    if outputs.preview is not None:
        target = _output_file(outputs.preview, frame)
        shown = comp_rgb if background is not None else over(placed, checkerboard(*canvas))
        write_preview_png(target, shown, working_space=spec.working_space)
        written.append(target)
    return written, verdicts


def _status(spec: ShotSpec, frame: int, element_hash: str, inputs: _Inputs, force: bool) -> str:
    """``"current"`` (skip), ``"comp"`` (the element is current: comp only) or ``"element"`` (everything)."""
    outputs = spec.outputs
    if force or not _current(_output_file(outputs.element, frame), element_hash, inputs.element):
        return "element"
    comp_current = outputs.comp is None or _current(
        frame_path(outputs.comp, frame), settings_hash(comp_settings(spec, frame, element_hash, inputs)))
    preview_current = outputs.preview is None or reads_whole(_output_file(outputs.preview, frame))
    return "current" if comp_current and preview_current else "comp"


def _output_file(pattern: str, frame: int) -> str:
    """The file of ``frame``: the pattern's token filled, or the pattern itself (one frame)."""
    return frame_path(pattern, frame) if has_frame_token(pattern) else pattern


def _current(path: str, hash_: str, inputs: str | None = None) -> bool:
    """Whether the EXR at ``path`` exists, carries the settings hash ``hash_`` (and, given, the
    ``inputs`` hash of the files it was made from) and reads back whole."""
    try:
        attributes = read_header(path).attributes
        if attributes.get("vfxkey:settings_hash") != hash_:
            return False
        if inputs is not None and attributes.get("vfxkey:inputs_hash") != inputs:
            return False
    except VfxkeyError:
        return False
    return reads_whole(path)


def _read_element(path: str) -> tuple[np.ndarray, Window, Window]:
    """The premultiplied RGBA of an element EXR as float32 (exactly the stored values), its
    data window and its display window."""
    pixels, data_window, display_window = read_stored(path)
    if pixels.ndim != 3 or pixels.shape[2] != 4:
        raise VfxkeyError(f"{path}: the element does not read back as RGBA")
    return pixels, data_window, display_window
