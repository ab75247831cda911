"""The element stages: key, generate and edit, behind one contract (:class:`ElementStage`).

The runner (:func:`vfxkey.shot.run.render`) asks a stage for the shot's frames and frame
rate, the settings that change the element's pixels (recorded in every element EXR and
hashed to tell an up-to-date frame), and the element of the frames to redo, in order:

- :class:`KeyStage` keys the green-screen input against the shot's screen
  (:func:`vfxkey.shot.screen.prepare`), with the keyer's temporal filter fed the shot's
  input frames before each frame, whichever chunk it is in;
- :class:`GenerateStage` generates each frame on its key colour (TKG-DM) and keys it;
- :class:`EditStage` edits each input frame with the edit prompt (Tight Inversion).

Each element frame leaves the stage as the EXR stores it (rounded to half float when the
EXRs are half), so a comp made now and one made later from the EXR are the same bits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from typing import Protocol

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from vfxkey.errors import VfxkeyError, where
from vfxkey.io.companion import Companion
from vfxkey.io.frame import CodedRGB, Frame
from vfxkey.io.sequence import frame_path
from vfxkey.io.source import Source
from vfxkey.io.window import Window
from vfxkey.io.write import stored_pixels, write_preview_png
from vfxkey.matte.greenpost import TEMPORAL_FRAMES, Keyer, Screen
from vfxkey.matte.failures import keying
from vfxkey.shot.inputs import chunk_of, open_input
from vfxkey.shot.mattes import Matte
from vfxkey.shot.screen import prepare
from vfxkey.shot.settings import relative, settings_hash, stored_as
from vfxkey.shot.spec import EditElement, GenerateElement, KeyElement, ShotSpec
from vfxkey.shot.threads import frame_workers, ordered_map

logger = logging.getLogger(__name__)


@dataclass
class ElementFrame:
    """An element frame as it leaves its stage."""

    frame: int
    rgba: np.ndarray  # (H, W, 4) premultiplied, scene-linear, exactly as the EXR stores it (_as_stored)
    qc: dict  # the stage's QC figures (shot/qc.py)
    source: str  # what it was made from, for the record: the input file, or "generated (seed N)"
    data_window: Window  # what ``rgba`` covers, in the coordinates of
    display_window: Window  # the format


class ElementStage(Protocol):
    """What every element stage gives the runner."""

    frames: list[int]  # the shot's frames (a key or edit shot without [shot] frames: the input's)
    fps: Fraction | None  # the input's frame rate (None: the spec's or 24)
    screen: Screen | None  # the shot's screen (key stage); None when each frame is keyed on its own

    def settings(self) -> dict[str, object]:
        """Every setting that changes the element's pixels, as recorded in its metadata."""
        ...

    def input_files(self, frame: int) -> list[str | None]:
        """The files the element of ``frame`` is made from (their content is part of its
        up-to-date check: :mod:`vfxkey.io.identity`)."""
        ...

    def make(self, frames: list[int]) -> Iterator[ElementFrame]:
        """The element of ``frames`` (in order, a subset of :attr:`frames`), one at a time."""
        ...


class KeyStage:
    """Keys the green-screen input against the shot's screen."""

    def __init__(self, spec: ShotSpec, warn: Callable[[str], None] | None) -> None:
        element: KeyElement = spec.element
        self.spec, self.warn = spec, warn
        self.source = open_input(spec, spec.frames, warn)
        self.frames = list(self.source.info.frames)
        self.fps = self.source.info.fps
        self.hints = Companion(element.hint, spec.working_space, "hint", warn=warn) if element.hint else None
        self.garbage = Matte(element.garbage_matte, element.garbage_shapes, spec.working_space, "garbage-matte", warn)
        self.core = Matte(element.core_matte, element.core_shapes, spec.working_space, "core-matte", warn)
        self.screen = prepare(spec, warn=warn, source=self.source)
        self.keyer = Keyer(element.keyer, self.screen)
        # The temporal filter reads the shot's input frames before each frame (never outputs),
        # so a chunk keys its first frame as a whole-shot run does. Stills are unrelated images.
        steady = self.source.info.kind != "stills" and element.keyer.temporal > 0
        self.previous_count = TEMPORAL_FRAMES if steady else 0

    def settings(self) -> dict[str, object]:
        """Every setting that changes the element's pixels, as recorded in its metadata."""
        element: KeyElement = self.spec.element
        keyer = {k: v for k, v in asdict(element.keyer).items() if k != "screen"}
        return {"command": "key", "input": relative(element.input, self.spec),
                "input_colorspace": self.source.info.colorspace, "screen": element.screen_text,
                "hint": relative(element.hint, self.spec) if element.hint else "",
                "working_space": self.spec.working_space, **stored_as(self.spec), **keyer,
                "shot_screen": _screen_hash(self.screen), **self._mattes()}

    def _mattes(self) -> dict[str, object]:
        """The garbage and core mattes' settings (only those given, so older hashes stand)."""
        e: KeyElement = self.spec.element
        given = {"garbage_matte": e.garbage_matte and relative(e.garbage_matte, self.spec),
                 "core_matte": e.core_matte and relative(e.core_matte, self.spec),
                 "garbage_shapes": e.garbage_shapes, "core_shapes": e.core_shapes}
        return {name: value for name, value in given.items() if value}

    def input_files(self, frame: int) -> list[str | None]:
        """Its input frame, the frames before it that the temporal filter reads, its hint."""
        files = [self.source.file_of(frame)]
        for number in range(frame - 1, frame - 1 - self.previous_count, -1):
            if number not in self.source.info.frames:
                break
            files.append(self.source.file_of(number))
        return files + ([self.hints.file_of(frame)] if self.hints else [])

    def make(self, frames: list[int]) -> Iterator[ElementFrame]:
        """The keyed element of ``frames``; warnings (a frame that does not fit the shot's screen...) as they come."""
        source = chunk_of(self.source, self.spec, frames, self.warn)
        previous = _PreviousFrames(self.source, self.previous_count)

        def inputs() -> Iterator[tuple]:  # read in order: _PreviousFrames keeps the frames it has seen
            for frame in source:
                windows = frame.number, frame.data_window, frame.display_window
                mask = self.hints.mask(*windows) if self.hints else None
                waiting = _Waiting(frame.number, frame.source, frame.data_window, frame.display_window,
                                   frame.compact_rgb())
                arguments = waiting, mask, previous.before(frame), self.garbage.at(*windows), self.core.at(*windows)
                del frame  # not held while the generator waits
                yield arguments

        threads = cv2.getNumThreads()  # the task's bound (frame_workers, below, shares it between the frames)

        def key(frame: _Waiting, mask: np.ndarray | None, before: list[np.ndarray | CodedRGB], garbage, core) -> tuple:
            name, stored_warnings = where(frame.source, frame.number), []
            size = frame.data_window.width, frame.data_window.height
            with keying(frame.source, frame.number, size, at_once=workers, threads=threads):  # workers: below
                result = self.keyer.key(frame.rgb, hint=mask, previous=before, garbage=garbage, core=core)
                rgba = _as_stored(result.premultiplied_rgba(), self.spec, name, stored_warnings.append)
            return frame, result.qc, rgba, stored_warnings  # not the float alpha and colour: frames wait in turn

        refitting = False
        # Frames are keyed side by side where there are cores for it (frame_workers; each depends
        # only on its inputs, so the bits are the same), with one BLAS thread: bitwise the same
        # whatever --threads says. Warnings
        # are told in frame order.
        with threadpool_limits(1), frame_workers() as workers:
            for frame, qc, rgba, stored_warnings in ordered_map(key, inputs(), workers):
                name, refit = where(frame.source, frame.number), qc["screen_refit"]
                if self.warn:  # a run of frames that do not fit the shot's screen is told where it starts and ends
                    for verdict, message in zip(qc["verdicts"], qc["warnings"]):
                        if verdict == "refit" and not refitting:
                            self.warn(f"{name}: {message} (and every following frame whose screen differs)")
                        elif verdict != "refit":
                            self.warn(f"{name}: {message}")
                    if refitting and not refit:
                        self.warn(f"{name}: fits the shot's screen again")
                for message in stored_warnings:
                    (self.warn or logger.warning)(message)
                refitting = refit
                yield ElementFrame(frame.number, rgba, qc, relative(frame.source, self.spec),
                                   frame.data_window, frame.display_window)


@dataclass(frozen=True)
class _Waiting:
    """An input frame waiting for a keying worker, its pixels held as compactly as the reader
    can (``Frame.compact_rgb``: 8-bit codes, a quarter of float32's memory)."""

    number: int
    source: str
    data_window: Window
    display_window: Window
    rgb: np.ndarray | CodedRGB


class _PreviousFrames:
    """The shot's input frames just before each keyed frame, for the keyer's temporal filter.

    The frames a run has read are kept; the ones before a chunk's first frame (another
    chunk's) are read from the shot, so every chunk gives the keyer the same frames.
    Only frames with consecutive numbers and the same data window count: a gap or a
    change of window ends the run of frames.
    """

    def __init__(self, shot: Source, count: int) -> None:
        self.shot, self.count = shot, count
        self.kept: dict[int, tuple[Window, np.ndarray | CodedRGB]] = {}  # data window, Frame.compact_rgb()

    def before(self, frame: Frame) -> list[np.ndarray | CodedRGB]:
        """(H, W, 3) linear frames ``frame.number - 1``, ``- 2``, ... (nearest first), as
        arrays or array-likes (8-bit codes NumPy converts on use); then keeps ``frame``."""
        frames = []
        for number in range(frame.number - 1, frame.number - 1 - self.count, -1):
            if number not in self.kept:
                if number not in self.shot.info.frames:
                    break
                read = self.shot.read(number)
                self.kept[number] = read.data_window, read.compact_rgb()
            window, rgb = self.kept[number]
            if window != frame.data_window:
                break
            frames.append(rgb)
        if self.count:
            self.kept = {n: kept for n, kept in self.kept.items() if n > frame.number - self.count}
            self.kept[frame.number] = frame.data_window, frame.compact_rgb()
        return frames


class GenerateStage:
    """Generates the element on its key colour (TKG-DM) and keys it, each frame on its own.

    The model is loaded on first use; its hash, family, scheduler, the device and precision
    are part of the settings (``generate.provenance.run_metadata``), read from its files,
    so a shot whose frames are all up to date never loads it.
    """

    def __init__(self, spec: ShotSpec, warn: Callable[[str], None] | None) -> None:
        from vfxkey.generate.noise import ForegroundPath, parse_key
        from vfxkey.generate.pipeline import GenerationSettings

        e: GenerateElement = spec.element
        self.spec, self.warn = spec, warn
        self.frames = list(spec.frames)
        self.fps = None
        self.screen = None  # each generated frame is keyed against its own screen
        self.key = parse_key(e.key)
        self.region = ForegroundPath.parse(e.fg_region)
        self.generation = GenerationSettings(
            prompt=e.prompt, negative_prompt=e.negative_prompt, width=e.size[0], height=e.size[1],
            steps=e.steps, guidance=e.guidance, key=self.key, key_direction=e.key_direction,
            target_shift=e.shift, region=self.region,
            temporal=e.temporal, drift_period=e.drift_period, subject=e.subject,
            working_space=spec.working_space,
        )
        self._generator = None

    def _load(self):
        """The KeyedGenerator (model, matting head and settings), loaded once."""
        if self._generator is None:
            from vfxkey.generate.model import load_model
            from vfxkey.generate.pipeline import KeyedGenerator

            e: GenerateElement = self.spec.element
            for message in e.options.cautions():
                (self.warn or logger.warning)(message)
            model = load_model(e.model, config=e.model_config, lora=e.lora, scheduler=e.scheduler,
                               allow_pickle=e.allow_pickle, precision=e.precision, options=e.options)
            head = None
            if e.matte_head:
                from vfxkey.generate.head import load_head

                head = load_head(e.matte_head, model.pipe.vae)
            self._generator = KeyedGenerator(model, self.generation, seed=self.spec.seed, head=head)
        return self._generator

    def settings(self) -> dict[str, object]:
        """Every setting that changes the element's pixels, as recorded in its metadata."""
        from vfxkey.generate.choices import DEFAULT_TARGET_SHIFT
        from vfxkey.generate.provenance import ModelRecord, run_metadata

        e: GenerateElement = self.spec.element
        model = ModelRecord.planned(e.model, config=e.model_config, lora=e.lora, scheduler=e.scheduler,
                                    precision=e.precision, options=e.options, allow_pickle=e.allow_pickle)
        metadata = run_metadata(
            model, self.generation, self.spec.seed, scheduler=e.scheduler,
            target_shift=e.shift if e.shift is not None else DEFAULT_TARGET_SHIFT[model.family],
            alpha_source=(f"matte-head:{os.path.basename(e.matte_head)}" if e.matte_head
                          else "attention" if e.attention_hint else "key"))
        del metadata["settings_hash"]  # the runner's covers these and the keyer's and the EXRs' settings
        if e.matte_head:  # a head retrained under the same name must not be mixed in
            from vfxkey.generate.model import model_hash

            metadata["matte_head_hash"] = model_hash(e.matte_head)
        keyer = {f"keyer_{k}": v for k, v in asdict(e.keyer).items() if k not in ("screen", "temporal")}
        return {**metadata, **stored_as(self.spec), **keyer}

    def input_files(self, frame: int) -> list[str | None]:
        """Nothing: a generated element reads no file per frame (the model is in the settings)."""
        return []

    def make(self, frames: list[int]) -> Iterator[ElementFrame]:
        from vfxkey.generate.keycolour import KeyColour, key_element
        from vfxkey.matte.metrics import gsg

        e: GenerateElement = self.spec.element
        generator = self._load()
        key_colour = KeyColour.of(self.key, self.spec.working_space)
        key_srgb = np.array(key_colour.srgb, dtype=np.float32)
        # The spec's keyer settings on the key colour, each frame measured on its own (no shot screen),
        # as an edited frame is keyed.
        keyer = Keyer(replace(e.keyer, screen=key_colour.screen))
        for frame in frames:
            result = generator(frame)
            if self.spec.outputs.save_screen:  # before keying, which can refuse the frame
                write_preview_png(frame_path(self.spec.outputs.save_screen, frame), result.rgb,
                                  working_space=self.spec.working_space)
            # The keyer's coarse subject mask: the matting head's, the attention hint if asked for, or none.
            coarse = result.head_mask if result.head_mask is not None else result.hint if e.attention_hint else None
            size = result.rgb.shape[1], result.rgb.shape[0]
            try:
                with keying(f"generated (seed {self.spec.seed})", frame, size):
                    keyed = key_element(keyer, result.rgb, key_colour, coarse, self.region.at(frame))
            except ValueError as exc:  # no key-colour background came out of this frame
                raise VfxkeyError(f"generated frame {frame} (seed {self.spec.seed}): {exc} "
                                  "(no key-colour background: a larger shift may help)") from None
            with threadpool_limits(limits=1):  # one thread: bitwise repeatable (threaded sums vary in the last bits)
                quality = gsg(result.screen * 255.0, key_srgb * 255.0)  # paper units: 8-bit sRGB distance
            # The keyer's figures, verdicts and warnings (a frame keyed blank, inverted...), with GSG in the
            # paper's units.
            qc = {"gsg": quality, "soft_fraction": keyed.qc["soft_fraction"], "verdicts": keyed.qc["verdicts"],
                  "warnings": keyed.qc["warnings"],
                  "fg_region_at_frame": ",".join(f"{v:g}" for v in vars(self.region.at(frame)).values())}
            for message in keyed.qc["warnings"]:
                (self.warn or logger.warning)(f"generated frame {frame}: {message}")
            rgba = _as_stored(keyed.premultiplied_rgba(), self.spec, f"generated frame {frame}", self.warn)
            yield ElementFrame(frame, rgba, qc, f"generated (seed {self.spec.seed})", Window.of(rgba),
                               Window.of(rgba))


class EditStage:
    """Edits each input frame with the edit prompt (Tight Inversion), ``vfxkey edit`` and
    ``render`` alike; a keyed input keeps its background (``hold_background``) and is keyed
    again with the spec's keyer settings, its QC verdicts and warnings recorded and said.

    The model, the adapter and its image encoder are loaded on first use: their hashes
    come from their files, so a shot whose frames are all up to date loads none of them.
    """

    def __init__(self, spec: ShotSpec, warn: Callable[[str], None] | None) -> None:
        element: EditElement = spec.element
        self.spec, self.warn = spec, warn
        self.source = open_input(spec, spec.frames, warn)
        self.frames = list(self.source.info.frames)
        self.fps = self.source.info.fps
        self.screen = None  # a keyed input is keyed on its key colour, each frame on its own
        self.masks = Companion(element.mask, spec.working_space, "mask", warn=warn) if element.mask else None
        self._editor = None

    def _load(self):
        """The Editor (model with the adapter attached), loaded once."""
        if self._editor is None:
            from vfxkey.generate.adapter import IPAdapter
            from vfxkey.generate.edit import load_editor
            from vfxkey.generate.noise import parse_key

            e: EditElement = self.spec.element
            for message in e.options.cautions():
                (self.warn or logger.warning)(message)
            adapter = IPAdapter.read(e.ip_adapter, e.image_encoder, allow_pickle=e.allow_pickle)
            self._editor = load_editor(e.settings, parse_key(e.key), e.model, e.model_config, adapter,
                                       e.allow_pickle, precision=e.precision, lora=e.lora, options=e.options,
                                       keyer=e.keyer)
        return self._editor

    def settings(self) -> dict[str, object]:
        """Every setting that changes the element's pixels, as recorded in its metadata."""
        from vfxkey.generate.adapter import adapter_metadata
        from vfxkey.generate.provenance import planned_model_metadata

        e: EditElement = self.spec.element
        keyer = {f"keyer_{k}": v for k, v in asdict(e.keyer).items() if k not in ("screen", "temporal")}
        return {"command": "edit", "input": relative(e.input, self.spec),
                "input_colorspace": self.source.info.colorspace, **e.settings.metadata(), "seed": self.spec.seed,
                "mask": relative(e.mask, self.spec) if e.mask else "", "key": e.key,
                "reconstruct": int(e.reconstruct), **adapter_metadata(e.ip_adapter, e.image_encoder),
                **planned_model_metadata(e.model, lora=e.lora, precision=e.precision, options=e.options,
                                         allow_pickle=e.allow_pickle), **stored_as(self.spec), **keyer}

    def input_files(self, frame: int) -> list[str | None]:
        """Its input frame and its mask."""
        return [self.source.file_of(frame)] + ([self.masks.file_of(frame)] if self.masks else [])

    def make(self, frames: list[int]) -> Iterator[ElementFrame]:
        """The edited element of ``frames``; in reconstruct mode each records how faithfully it came back."""
        editor = self._load()
        source = chunk_of(self.source, self.spec, frames, self.warn)
        for frame in source:
            mask = self.masks.mask(frame.number, frame.data_window, frame.display_window) if self.masks else None
            result = editor(frame, mask)
            rgba = _as_stored(result.rgba, self.spec, where(frame.source, frame.number), self.warn)
            # A keyed input's QC: the keyer's verdicts and warnings on the edited frame, and the hold's.
            qc = dict(result.qc)
            for message in qc.get("warnings", []):
                (self.warn or logger.warning)(f"{where(frame.source, frame.number)}: edited: {message}")
            if self.spec.element.reconstruct:
                qc.update(latent_error=result.latent_error, psnr=result.psnr)
            yield ElementFrame(frame.number, rgba, qc, relative(frame.source, self.spec), frame.data_window,
                               frame.display_window)


def element_stage(spec: ShotSpec, warn: Callable[[str], None] | None = None) -> ElementStage:
    """The element stage of the spec's mode."""
    stages: dict[str, type[ElementStage]] = {"key": KeyStage, "generate": GenerateStage, "edit": EditStage}
    return stages[spec.element.mode](spec, warn)


def _as_stored(rgba: np.ndarray, spec: ShotSpec, name: str, warn) -> np.ndarray:
    """``rgba`` as the element EXR stores it: NaN 0, clamped to the data type's range (with a
    warning naming ``name``); float16 when the EXRs are half (the writer writes it as it
    is, and a comp converts it), else float32."""
    return stored_pixels(rgba, spec.outputs.data_type, name, warn)


def _screen_hash(screen: Screen | None) -> str:
    """The hash of what a stored screen holds that changes pixels (its ``source`` is for people)."""
    if screen is None:
        return "per-frame"
    return settings_hash({k: v for k, v in asdict(screen).items() if k != "source"})
