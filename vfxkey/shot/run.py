"""Render a chunk of a shot: make the element, place it, comp it over the plate, write.

This is the one per-shot loop; ``vfxkey render``, ``vfxkey key``, ``vfxkey generate``,
the farm's tasks and the Nuke bridge all call :func:`render`. For each frame:

1. **Up to date?** A frame whose outputs exist, read back cleanly and carry this
   frame's settings hash (``vfxkey:settings_hash``) is skipped (``force`` redoes it).
   The element's hash covers every setting that changes its pixels; the comp's adds the
   plate and the placement at that frame, so moving one placement key redoes only the
   comps it moves.
2. **Element**: keyed from the green-screen input against the shot's screen (measured
   once by :func:`prepare`, stored beside the outputs), generated (TKG-DM) and keyed, or
   edited from the input (Tight Inversion, keyed again when the input is keyed).
   It is rounded to half float as the EXR stores it, so a comp made now and one made
   later from the EXR are the same bits.
3. **Placement**: the premultiplied element transformed onto the comp
   (:func:`vfxkey.comp.transform.place`, keyed linearly over the shot).
4. **Comp**: ``over`` the plate; outputs written atomically (temporary name + rename).

Nothing a frame's pixels depend on comes from another frame of the chunk, so any split
of the shot into chunks, processes or machines gives the same bits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np
import OpenImageIO as oiio
from threadpoolctl import threadpool_limits

from vfxkey.comp.over import checkerboard, over
from vfxkey.comp.transform import place
from vfxkey.errors import VfxkeyError, where
from vfxkey.io.companion import Companion
from vfxkey.io.files import atomic_output, remove_stale_temporaries
from vfxkey.io.frame import Frame
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange, frame_path, has_frame_token
from vfxkey.io.source import Source
from vfxkey.io.window import Window, reframe
from vfxkey.io.write import open_frame_writer, stored_pixels, write_preview_png
from vfxkey.shot import qc as qc_records
from vfxkey.shot.spec import EditElement, GenerateElement, KeyElement, ShotSpec
from vfxkey.shot.threads import frame_workers, ordered_map

logger = logging.getLogger(__name__)


@dataclass
class FrameDone:
    """One frame of a render: what was written (or found up to date) and its QC record."""

    frame: int
    seconds: float
    skipped: bool
    outputs: list[str]
    record: dict = field(default_factory=dict)  # the frame's QC record (qc.py)


@dataclass
class Rendered:
    """What :func:`render` did: the element's recorded settings and hash, the shot's screen
    (a ``matte.greenpost.Screen``; None when each frame has its own) and each frame."""

    settings: dict
    settings_hash: str
    screen: object | None
    frames: list[FrameDone]


class Progress(Protocol):
    """What :func:`render` reports to (a progress bar, a farm log)."""

    def start(self, total: int) -> None: ...

    def frame(self, done: FrameDone) -> None: ...


@dataclass
class _Made:
    """An element frame as it leaves the element stage."""

    frame: int
    rgba: np.ndarray  # (H, W, 4) premultiplied, scene-linear, exactly as the EXR stores it (_as_stored)
    qc: dict
    source: str
    data_window: Window  # what ``rgba`` covers, in the coordinates of
    display_window: Window  # the format


# --- 0. the shot's screen (per-shot state, measured once) ---------------------------
def screen_path(spec: ShotSpec) -> str:
    """Where the shot's screen is stored: beside the element, ``<element stem>.screen.json``."""
    return qc_records.beside(spec.outputs.element, "screen.json")


def prepare(spec: ShotSpec, *, warn: Callable[[str], None] | None = None, source: Source | None = None):
    """The shot's screen: measured on its reference frames and stored, or read back; returned.

    The reference frames are the shot's (``[element] screen_frames``, default the shot's
    first frame, or the input's first when the shot is the whole input), never a chunk's,
    so tasks that start at once on different machines measure the same screen. It is
    stored beside the element output as ``<stem>.screen.json`` (``Screen.to_json``); a
    stored screen measured on the same frames with the same ``screen`` setting and
    working space is read back instead (delete it to measure again). ``screen_from`` names
    a stored screen to use as it is. Generated elements (each frame keyed on its own) and
    folders of unrelated stills have no shot screen: None. ``source`` is the shot's input
    when the caller has it open already (it is opened otherwise).
    """
    from vfxkey.matte.greenpost import Screen, measure_screen

    element = spec.element
    if not isinstance(element, KeyElement):
        return None
    if element.screen_from:
        return load_screen(element.screen_from, spec.working_space)
    source = source or open_input(spec, spec.frames, warn)
    if source.info.kind == "stills":
        return None
    reference = element.screen_frames or FrameRange.of([source.info.frames[0]])
    frames = f"frame {reference}" if len(reference) == 1 else f"frames {reference}"
    measured_on = f"{_relative(element.input, spec)} ({frames}), --screen {element.screen_text}"
    path = screen_path(spec)
    try:
        stored = Screen.from_json(Path(path).read_text())
        if stored.source == measured_on and stored.working_space == spec.working_space:
            return stored
    except (OSError, ValueError, TypeError):
        pass  # absent, not ours or from an older vfxkey: measured again (below) and replaced
    images = [frame.rgb for frame in open_input(spec, reference, warn)]
    try:
        with threadpool_limits(1):
            screen = measure_screen(images, element.keyer, working_space=spec.working_space, source=measured_on)
    except ValueError as exc:
        raise VfxkeyError(f"{where(element.input, reference.first)}: {exc}") from None
    with atomic_output(path) as tmp:
        Path(tmp).write_text(screen.to_json())
    return screen


def load_screen(path: str, working_space: str):
    """The Screen stored in ``path``; VfxkeyError naming the file when it is not one for this working space."""
    from vfxkey.matte.greenpost import Screen

    try:
        screen = Screen.from_json(Path(path).read_text())
    except (OSError, ValueError, TypeError) as exc:
        raise VfxkeyError(f"{path}: {exc}") from None
    if screen.working_space != working_space:
        raise VfxkeyError(f"{path}: the screen is in {screen.working_space}, the shot in {working_space} "
                          f"(set the working space to {screen.working_space!r})")
    return screen


# --- 1. the element stage ----------------------------------------------------------
class _KeyElement:
    """Keys the green-screen input against the shot's screen."""

    def __init__(self, spec: ShotSpec, warn) -> None:
        from vfxkey.matte.greenpost import TEMPORAL_FRAMES, Keyer

        element: KeyElement = spec.element
        self.spec, self.warn = spec, warn
        self.source = open_input(spec, spec.frames, warn)
        self.frames = list(self.source.info.frames)
        self.fps = self.source.info.fps
        self.hints = Companion(element.hint, spec.working_space, "hint", warn=warn) if element.hint else None
        self.screen = prepare(spec, warn=warn, source=self.source)
        self.keyer = Keyer(element.keyer, self.screen)
        # The temporal filter reads the shot's input frames before each frame (never outputs),
        # so a chunk keys its first frame as a whole-shot run does. Stills are unrelated images.
        steady = self.source.info.kind != "stills" and element.keyer.temporal > 0
        self.previous_count = TEMPORAL_FRAMES if steady else 0

    def settings(self) -> dict:
        """Every setting that changes the element's pixels, as recorded in its metadata."""
        element: KeyElement = self.spec.element
        keyer = {k: v for k, v in asdict(element.keyer).items() if k != "screen"}
        return {"command": "key", "input": _relative(element.input, self.spec),
                "input_colorspace": self.source.info.colorspace, "screen": element.screen_text,
                "hint": _relative(element.hint, self.spec) if element.hint else "",
                "working_space": self.spec.working_space, **_stored_as(self.spec), **keyer,
                "shot_screen": _screen_hash(self.screen)}

    def make(self, frames: list[int]) -> Iterator[_Made]:
        source = _chunk_of(self.source, self.spec, frames, self.warn)
        previous = _PreviousFrames(self.source, self.previous_count)

        def inputs() -> Iterator[tuple]:  # read in order: _PreviousFrames keeps the frames it has seen
            for frame in source:
                mask = self.hints.mask(frame.number, frame.data_window, frame.display_window) if self.hints else None
                yield frame, mask, previous.before(frame)

        def key(frame: Frame, mask: np.ndarray | None, before: list[np.ndarray]) -> tuple:
            name, stored_warnings = where(frame.source, frame.number), []
            try:
                result = self.keyer.key(frame.rgb, hint=mask, previous=before)
            except ValueError as exc:
                raise VfxkeyError(f"{name}: {exc}") from None
            rgba = _as_stored(result.premultiplied_rgba(), self.spec, name, stored_warnings.append)
            return frame, result, rgba, stored_warnings

        refitting = False
        # Frames are keyed side by side (each depends only on its inputs, so the bits are the
        # same), with one BLAS thread: bitwise the same whatever --threads says. Warnings
        # are told in frame order.
        with threadpool_limits(1), frame_workers() as workers:
            for frame, result, rgba, stored_warnings in ordered_map(key, inputs(), workers):
                name, refit = where(frame.source, frame.number), result.qc["screen_refit"]
                if self.warn:  # a run of frames that do not fit the shot's screen is told where it starts and ends
                    for message in result.qc["warnings"]:
                        if not (refit and refitting):
                            self.warn(f"{name}: {message}"
                                      + (" (and every following frame that does not fit)" if refit else ""))
                    if refitting and not refit:
                        self.warn(f"{name}: fits the shot's screen again")
                for message in stored_warnings:
                    (self.warn or logger.warning)(message)
                refitting = refit
                yield _Made(frame.number, rgba, result.qc, _relative(frame.source, self.spec), frame.data_window,
                            frame.display_window)


def open_input(spec: ShotSpec, frames: FrameRange | None, warn) -> Source:
    """The element input of a ``key`` or ``edit`` shot over ``frames``, linearised into the working space."""
    element = spec.element
    return open_source(element.input, frames, input_colorspace=element.input_colorspace,
                       working_space=spec.working_space, warn=warn)


def _chunk_of(shot: Source, spec: ShotSpec, frames: list[int], warn) -> Source:
    """The element input's ``frames``: the shot's open ``shot`` source when they are all of it."""
    if frames == list(shot.info.frames):
        return shot
    return open_input(spec, FrameRange.of(frames), warn)


class _PreviousFrames:
    """The shot's input frames just before each keyed frame, for the keyer's temporal filter.

    The frames a run has read are kept; the ones before a chunk's first frame (another
    chunk's) are read from the shot, so every chunk gives the keyer the same frames.
    Only frames with consecutive numbers and the same data window count: a gap or a
    change of window ends the run of frames.
    """

    def __init__(self, shot: Source, count: int) -> None:
        self.shot, self.count = shot, count
        self.kept: dict[int, Frame] = {}

    def before(self, frame: Frame) -> list[np.ndarray]:
        """(H, W, 3) linear frames ``frame.number - 1``, ``- 2``, ... (nearest first); then keeps ``frame``."""
        frames = []
        for number in range(frame.number - 1, frame.number - 1 - self.count, -1):
            if number not in self.kept:
                if number not in self.shot.info.frames:
                    break
                self.kept[number] = self.shot.read(number)
            if self.kept[number].data_window != frame.data_window:
                break
            frames.append(self.kept[number].rgb)
        if self.count:
            self.kept = {n: kept for n, kept in self.kept.items() if n > frame.number - self.count}
            self.kept[frame.number] = frame
        return frames


class _GenerateElement:
    """Generates the element on its key colour (TKG-DM) and keys it, each frame on its own.

    The model is loaded on first use: its hash, device, precision and scheduler are part
    of the settings (``generate.provenance.run_metadata``).
    """

    def __init__(self, spec: ShotSpec, warn) -> None:
        from vfxkey.generate.noise import ForegroundPath, parse_key

        element: GenerateElement = spec.element
        self.spec, self.warn = spec, warn
        self.frames = list(spec.frames)
        self.fps = None
        self.screen = None  # each generated frame is keyed against its own screen
        self.key = parse_key(element.key)
        self.region = ForegroundPath.parse(element.fg_region)
        self._generator = None

    def _load(self):
        """The KeyedGenerator (model, matting head and settings), loaded once."""
        if self._generator is None:
            from vfxkey.generate.model import load_model
            from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator

            e: GenerateElement = self.spec.element
            model = load_model(e.model, config=e.model_config, lora=e.lora, scheduler=e.scheduler,
                               allow_pickle=e.allow_pickle, precision=e.precision)
            head = None
            if e.matte_head:
                from vfxkey.generate.head import load_head

                head = load_head(e.matte_head, model.pipe.vae)
            settings = GenerationSettings(
                prompt=e.prompt, negative_prompt=e.negative_prompt, width=e.size[0], height=e.size[1],
                steps=e.steps, guidance=e.guidance, key=self.key, key_direction=e.key_direction,
                target_shift=e.shift, region=self.region,
                temporal=e.temporal, drift_period=e.drift_period, subject=e.subject,
                working_space=self.spec.working_space,
            )
            self._generator = KeyedGenerator(model, settings, seed=self.spec.seed, head=head)
        return self._generator

    def settings(self) -> dict:
        from vfxkey.generate.provenance import run_metadata

        e: GenerateElement = self.spec.element
        generator = self._load()
        metadata = run_metadata(
            generator.model, generator.settings, self.spec.seed, scheduler=e.scheduler,
            target_shift=generator.noise_settings.target_shift,
            alpha_source=(f"matte-head:{os.path.basename(e.matte_head)}" if e.matte_head
                          else "attention" if e.attention_hint else "key"))
        del metadata["settings_hash"]  # the runner's covers these and the keyer's and the EXRs' settings
        if e.matte_head:  # a head retrained under the same name must not be mixed in
            from vfxkey.generate.model import model_hash

            metadata["matte_head_hash"] = model_hash(e.matte_head)
        keyer = {f"keyer_{k}": v for k, v in asdict(e.keyer).items() if k not in ("screen", "temporal")}
        return {**metadata, **_stored_as(self.spec), **keyer}

    def make(self, frames: list[int]) -> Iterator[_Made]:
        from vfxkey.generate.keycolour import KeyColour
        from vfxkey.matte.greenpost import Keyer
        from vfxkey.matte.metrics import gsg

        e: GenerateElement = self.spec.element
        generator = self._load()
        key_colour = KeyColour.of(self.key, self.spec.working_space)
        key_srgb = np.array(key_colour.srgb, dtype=np.float32)
        # The spec's keyer settings on the key colour: each frame measured on its own (no shot screen).
        keyer = Keyer(replace(e.keyer, screen=key_colour.screen))
        for frame in frames:
            result = generator(frame)
            # The keyer's coarse subject mask: the matting head's, the attention hint if asked for, or none.
            coarse = result.head_mask if result.head_mask is not None else result.hint if e.attention_hint else None
            # One thread keeps the keyer and GSG bitwise repeatable (threaded sums vary in the last bits).
            with threadpool_limits(limits=1):
                try:
                    keyed = keyer.key(result.rgb, hint=coarse)
                except ValueError as exc:  # no key-colour background came out of this frame
                    raise VfxkeyError(f"generated frame {frame} (seed {self.spec.seed}): {exc} "
                                      "(no key-colour background: a larger shift may help)") from None
                quality = gsg(result.screen * 255.0, key_srgb * 255.0)  # paper units: 8-bit sRGB distance
            if self.spec.outputs.save_screen:
                write_preview_png(frame_path(self.spec.outputs.save_screen, frame), result.rgb,
                                  working_space=self.spec.working_space)
            qc = {"gsg": quality, "soft_fraction": keyed.qc["soft_fraction"],
                  "fg_region_at_frame": ",".join(f"{v:g}" for v in vars(self.region.at(frame)).values())}
            rgba = _as_stored(keyed.premultiplied_rgba(), self.spec, f"generated frame {frame}", self.warn)
            yield _Made(frame, rgba, qc, f"generated (seed {self.spec.seed})", Window.of(rgba), Window.of(rgba))


class _EditElement:
    """Edits each input frame with the edit prompt (Tight Inversion, ``vfxkey edit``'s editor).

    The model is loaded on first use: its and the adapter's hashes, the device, precision
    and library versions are part of the settings, as ``vfxkey edit`` records them.
    """

    def __init__(self, spec: ShotSpec, warn) -> None:
        from vfxkey.generate.adapter import IPAdapter

        element: EditElement = spec.element
        self.spec, self.warn = spec, warn
        self.source = open_input(spec, spec.frames, warn)
        self.frames = list(self.source.info.frames)
        self.fps = self.source.info.fps
        self.screen = None  # a keyed input is keyed on its key colour, each frame on its own
        self.masks = Companion(element.mask, spec.working_space, "mask", warn=warn) if element.mask else None
        self.adapter = IPAdapter.read(element.ip_adapter, element.image_encoder, allow_pickle=element.allow_pickle)
        self._editor = None
        self._model_metadata: dict = {}

    def _load(self):
        """The Editor (model with the adapter attached), loaded once."""
        if self._editor is None:
            from vfxkey.generate.edit import load_editor
            from vfxkey.generate.noise import parse_key

            e: EditElement = self.spec.element
            self._editor, self._model_metadata = load_editor(e.settings, parse_key(e.key), e.model, e.model_config,
                                                             self.adapter, e.allow_pickle)
        return self._editor

    def settings(self) -> dict:
        """Every setting that changes the element's pixels, as recorded in its metadata."""
        e: EditElement = self.spec.element
        self._load()
        return {"command": "edit", "input": _relative(e.input, self.spec),
                "input_colorspace": self.source.info.colorspace, **e.settings.metadata(), "seed": self.spec.seed,
                "mask": _relative(e.mask, self.spec) if e.mask else "", "key": e.key, **self.adapter.metadata(),
                **self._model_metadata, **_stored_as(self.spec)}

    def make(self, frames: list[int]) -> Iterator[_Made]:
        editor = self._load()
        source = _chunk_of(self.source, self.spec, frames, self.warn)
        for frame in source:
            mask = self.masks.mask(frame.number, frame.data_window, frame.display_window) if self.masks else None
            result = editor(frame, mask)
            rgba = _as_stored(result.rgba, self.spec, where(frame.source, frame.number), self.warn)
            yield _Made(frame.number, rgba, {}, _relative(frame.source, self.spec), frame.data_window,
                        frame.display_window)


def element_stage(spec: ShotSpec, warn=None) -> _KeyElement | _GenerateElement | _EditElement:
    """The element maker of the spec's mode."""
    stages = {"key": _KeyElement, "generate": _GenerateElement, "edit": _EditElement}
    return stages[spec.element.mode](spec, warn)


# --- the chunk loop ------------------------------------------------------------------
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
    for pattern in (outputs.element, outputs.comp, outputs.preview, outputs.save_screen):
        if pattern:
            remove_stale_temporaries(os.path.dirname(pattern) or ".")
    if frames is not None and spec.frames is not None and not set(frames) <= set(spec.frames):
        extra = FrameRange.of(set(frames) - set(spec.frames))
        raise VfxkeyError(f"--frames {frames}: frames {extra} are outside the shot's {spec.frames}")
    element = element_stage(spec, warn)
    todo = list(frames) if frames is not None else element.frames
    if outputs.preview and len(todo) > 1 and not has_frame_token(outputs.preview):
        raise VfxkeyError(f"{outputs.preview}: preview of {len(todo)} frames needs a frame token, e.g. comp.####.png")
    settings = element.settings()
    element_hash = _hash(settings)
    # Per-frame EXRs can be checked and skipped; a movie or a folder of stills is always redone.
    checkable = outputs.element.lower().endswith(".exr") and (has_frame_token(outputs.element) or len(todo) == 1)
    fps = spec.fps or element.fps or Fraction(24)
    plate = (Companion(spec.plate.path, spec.working_space, "plate", colorspace=spec.plate.colorspace, warn=warn)
             if spec.plate and (outputs.comp or outputs.preview) else None)

    # 1. Which frames are up to date, which need only their comp, which everything.
    status = {frame: _status(spec, frame, element_hash, force or not checkable) for frame in todo}
    needed = [frame for frame in todo if status[frame] == "element"]
    if isinstance(spec.element, (GenerateElement, EditElement)) and needed and not allow_mixed:
        from vfxkey.generate.provenance import check_same_settings

        check_same_settings(outputs.element, {**settings, "settings_hash": element_hash}, replacing=needed)
    made = element.make(needed) if needed else iter(())
    done: list[FrameDone] = []
    if progress:
        progress.start(len(todo))
    writer_options = {"working_space": spec.working_space, "fps": fps, "compression": outputs.compression,
                      "data_type": outputs.data_type, "warn": warn}
    with open_frame_writer(outputs.element, frame_count=len(todo), metadata={**settings,
                                                                           "settings_hash": element_hash},
                           **writer_options) as element_writer, \
            _comp_writer(spec, len(todo), writer_options) as comp_writer:
        for frame in todo:
            start = time.perf_counter()
            element_file = _output_file(outputs.element, frame)
            if status[frame] == "current":
                record = qc_records.from_exr(element_file, frame)
                done.append(FrameDone(frame, time.perf_counter() - start, True, [], record))
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
                                                    metadata=qc_records.to_metadata(item.qc),
                                                    data_window=windows[0], display_window=windows[1])
                written = [element_file]
            else:  # the element is current: the comp is made from it as stored
                rgba, *windows = _read_element(element_file)
                record, written = qc_records.from_exr(element_file, frame), []
            record["output"] = element_file
            # 3. Placement and 4. comp.
            written += _comp(spec, frame, reframe(rgba, *windows), plate, element_hash, comp_writer)
            done.append(FrameDone(frame, time.perf_counter() - start, False, written, record))
            if progress:
                progress.frame(done[-1])
    return Rendered(settings, element_hash, element.screen, done)


def _comp_writer(spec: ShotSpec, count: int, options: dict):
    """A writer for the comp sequence, or a do-nothing context when the shot has no comp output."""
    if spec.outputs.comp is None:
        return nullcontext(None)
    return open_frame_writer(spec.outputs.comp, frame_count=count, **options)


def comp_settings(spec: ShotSpec, frame: int, element_hash: str) -> dict:
    """Every setting that changes the comp of ``frame``: the element's hash, the plate and the placement then."""
    transform = spec.placement.at(frame)
    plate = spec.plate
    return {"element_hash": element_hash,
            "plate": _relative(plate.path, spec) if plate else "",
            "plate_colorspace": (plate.colorspace or "file") if plate else "",
            "plate_reformat": plate.reformat if plate else "",
            "position": "centre" if transform.position is None else " ".join(f"{v:.6g}" for v in transform.position),
            "scale": transform.scale, "rotation": transform.rotation, **_stored_as(spec)}


def _comp(spec: ShotSpec, frame: int, rgba: np.ndarray, plate: Companion | None, element_hash: str,
          writer) -> list[str]:
    """Place ``rgba`` (the element over its display window, the format) and comp it over the
    plate; write the comp EXR and the preview. Returns the files."""
    outputs = spec.outputs
    if outputs.comp is None and outputs.preview is None:
        return []
    rgba = rgba.astype(np.float32, copy=False)  # a half element: its stored values, exactly
    if plate is not None and spec.plate.reformat == "none":
        canvas = plate.source.info.display_window.shape
        background = plate.image(frame, canvas)
    else:
        canvas = rgba.shape[:2]
        background = plate.image(frame, canvas) if plate is not None else None
    transform = spec.placement.at(frame)
    placed = place(rgba, canvas, transform.position, transform.scale, transform.rotation)
    written = []
    if background is not None:
        comp_rgb = over(placed, background)
    if outputs.comp is not None:
        settings = comp_settings(spec, frame, element_hash)
        comp = np.concatenate([comp_rgb, np.ones((*canvas, 1), np.float32)], axis=-1)
        written.append(writer.write(frame, comp, metadata={**settings, "settings_hash": _hash(settings)}))
    if outputs.preview is not None:
        target = _output_file(outputs.preview, frame)
        shown = comp_rgb if background is not None else over(placed, checkerboard(*canvas))
        write_preview_png(target, shown, working_space=spec.working_space)
        written.append(target)
    return written


def _status(spec: ShotSpec, frame: int, element_hash: str, force: bool) -> str:
    """``"current"`` (skip), ``"comp"`` (the element is current: comp only) or ``"element"`` (everything)."""
    outputs = spec.outputs
    if force or not _current(_output_file(outputs.element, frame), element_hash):
        return "element"
    comp_current = outputs.comp is None or _current(
        frame_path(outputs.comp, frame), _hash(comp_settings(spec, frame, element_hash)))
    preview_current = outputs.preview is None or os.path.exists(_output_file(outputs.preview, frame))
    return "current" if comp_current and preview_current else "comp"


def _output_file(pattern: str, frame: int) -> str:
    """The file of ``frame``: the pattern's token filled, or the pattern itself (one frame)."""
    return frame_path(pattern, frame) if has_frame_token(pattern) else pattern


def _current(path: str, settings_hash: str) -> bool:
    """Whether the EXR at ``path`` exists, reads back whole and carries ``settings_hash``."""
    image = oiio.ImageInput.open(path)
    if image is None:
        oiio.geterror()  # clear it
        return False
    try:
        if image.spec().get_string_attribute("vfxkey:settings_hash") != settings_hash:
            return False
        return image.read_image("half") is not None
    finally:
        image.close()


def _read_element(path: str) -> tuple[np.ndarray, Window, Window]:
    """The premultiplied RGBA of an element EXR as float32 (exactly the stored values), its
    data window and its display window."""
    image = oiio.ImageInput.open(path)
    if image is None:
        raise VfxkeyError(f"{path}: cannot read the element: {oiio.geterror()}")
    try:
        spec = image.spec()
        pixels = image.read_image("float")
    finally:
        image.close()
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] != 4:
        raise VfxkeyError(f"{path}: the element does not read back as RGBA")
    return (np.ascontiguousarray(pixels, dtype=np.float32), Window(spec.x, spec.y, spec.width, spec.height),
            Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height))


def _as_stored(rgba: np.ndarray, spec: ShotSpec, name: str, warn) -> np.ndarray:
    """``rgba`` as the element EXR stores it: NaN 0, clamped to the data type's range (with a
    warning naming ``name``); float16 when the EXRs are half (the writer writes it as it
    is, and a comp converts it), else float32."""
    return stored_pixels(rgba, spec.outputs.data_type, name, warn)


def _stored_as(spec: ShotSpec) -> dict:
    """How the EXRs store pixels (a lossy compression or the data type changes them)."""
    return {"data_type": spec.outputs.data_type, "compression": spec.outputs.compression}


def _relative(path: str, spec: ShotSpec) -> str:
    """``path`` relative to the spec's folder when it lies inside it, so metadata and settings
    hashes stay the same when the shot folder moves; else as it is."""
    folder = os.path.abspath(spec.folder)
    absolute = os.path.abspath(path)
    return os.path.relpath(absolute, folder) if absolute.startswith(folder + os.sep) else path


def _screen_hash(screen) -> str:
    """The hash of what a stored screen holds that changes pixels (its ``source`` is for people)."""
    if screen is None:
        return "per-frame"
    return _hash({k: v for k, v in asdict(screen).items() if k != "source"})


def _hash(settings: dict) -> str:
    """16 hex digits of sha256 over the settings as canonical JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
