"""The shot spec: one validated TOML file that says what a shot renders.

A shot is the unit a compositor hands to the farm: what the element is (a green-screen
source to key, or a prompt to generate), where it sits over the plate, and what comes
out. ``vfxkey render shot.toml`` renders it; ``vfxkey key`` and ``vfxkey generate`` build
the same spec from their options (the settings have the same names, ``--despill`` is
``despill``), so a TD can go from a command line to a spec and back.

Schema (every table and key; anything else is an error naming it)::

    [shot]
    format = "vfxkey.shot/1"          # the spec's format version (absent: this one); others are refused
    name = "shot010"                  # required; names the farm job
    frames = "1001-1010"              # required; FrameRange text (1001-1010, 1001-1010x2, 1001,1005)
    fps = "24"                        # exact rational: 24, "25", "24000/1001" (floats are refused)
    seed = 0                          # the shot's seed (generate)
    working_space = "Linear Rec.709 (sRGB)"   # scene-linear space of every EXR (or "ACEScg")
    ocio_config = "/show/config.ocio" # optional OCIO config for reading, working space, writing (a file
                                      # or ocio:// URI); default: `vfxkey --ocio`, $OCIO, the pinned built-in

    [plate]                           # optional; the background the element is comped over
    path = "plate.png"                # still (serves every frame), sequence pattern or movie
    colorspace = "..."                # optional; default: what the file records, else by kind
    reformat = "none"                 # "none": the plate is the comp's format; "element": resized to the element

    [element]
    mode = "key"                      # "key" | "generate" | "edit"
    # mode "key": the options of `vfxkey key`
    input = "greenscreen/gs.####.png" # required
    input_colorspace = "..."          # optional
    hint = "..."                      # optional coarse mask
    screen = "auto"                   # auto | green | blue | "#RRGGBB" (sRGB)
    despill, despeckle, plate_scale, temporal, denoise, refine_radius   # the keyer's KeySettings
    screen_frames = "1001"            # frames the shot's screen is measured on (default: the first)
    screen_from = "..."               # optional: a stored screen (name.screen.json) instead of measuring
    clip_black = 0.0                  # alpha at or below reads 0 (0..0.5); clip_white = 0.95 reads 1 (0.5..1)
    garbage_matte = "..."             # optional matte (still, sequence, movie): white is never the subject
    core_matte = "..."                # optional matte: white is surely the subject (opaque)
    garbage_shapes = [[[0, 0], [80, 0], [80, 360], [0, 360]]]   # optional polygons, input pixels (x right, y down)
    core_shapes = [...]               # the same for the core
    # mode "generate": the options of `vfxkey generate`
    model, model_config, allow_pickle, prompt, negative_prompt, size = "512x512", steps,
    guidance, scheduler, precision, key, key_direction, shift, fg_region, temporal, drift_period, subject,
    lora, matte_head, attention_hint = false
    lora_scale = 1.0, offload = false, vae_tiling = false, deterministic = false
    attention_slicing = false         # deprecated: it costs memory (warned)
    despill, despeckle, plate_scale, denoise, refine_radius, clip_black, clip_white   # the keyer that pulls its alpha
    # mode "edit": the options of `vfxkey edit` (Tight Inversion of each input frame)
    input, input_colorspace, model, ip_adapter, prompt     # required: input, model, ip_adapter, prompt
    model_config, allow_pickle, image_encoder, source_prompt, negative_prompt, ip_scale = 0.4,
    edit_ip_scale = 0.4, steps = 50, guidance = 7.5, strength = 1.0, inversion_iters = 3, mask, feather = 8,
    key = "green"                     # the key colour a keyed (RGBA) input is edited on and keyed off
    hold_background = true            # a keyed input's background stays the input's: only its subject changes
    precision, lora, lora_scale, offload, vae_tiling, attention_slicing, deterministic   # as for generate
    despill, despeckle, plate_scale, denoise, refine_radius, clip_black, clip_white   # the keyer that keys it off again
    reconstruct = false               # denoise with the inversion's own prompt and scale: measures fidelity

    [placement]                       # optional; the element's transform onto the comp
    position = [320.0, 180.0]         # where the element's pivot goes, comp pixels from the top left
    scale = 1.0                       # uniform, about the pivot
    rotation = 0.0                    # degrees, counter-clockwise as seen, about the pivot
    pivot = [320.0, 360.0]            # optional: element pixels from its top left; default its centre (not keyed)
    [[placement.keys]]                # optional keyframes; linear in between, held outside
    frame = 1001
    position = [300.0, 180.0]         # any of position / scale / rotation; the rest from the table

    [outputs]
    element = "render/el.####.exr"    # required; premultiplied EXR per frame
    comp = "render/comp.####.exr"     # optional (needs a plate): the element placed over the plate
    preview = "render/comp.####.png"  # optional 8-bit sRGB PNG of the comp (over a checkerboard without a plate)
    movie = "render/comp.mov"         # optional ProRes 4444 of the comp (finalize)
    element_movie = "render/el.mov"   # optional ProRes 4444 of the element (finalize)
    nuke = "render/shot010.nk"        # optional Nuke script (finalize)
    qc_report = "render/qc.html"      # optional HTML QC report (finalize)
    save_screen = "render/gen.####.png"   # optional (generate): the raw generated frame
    compression = "zip"               # EXR compression
    data_type = "half"                # EXR channel type: half or float

    [qc]                              # optional
    fail_on = ["blank_key", "inverted_key"]   # verdicts that fail the task (exit code 3), or ["all"]

    [nuke]                            # optional; the Nuke script `vfxkey nuke` and finalize write
    version = 14                      # Nuke version it is for: 14 (default; opens in 14-16), 15, 16, 17
    root = "[getenv SHOT_ROOT]"       # Nuke-side prefix of this spec's folder: a folder, [getenv NAME]/..., or
                                      # [file dirname [value root.name]] (paths relative to the script)
    path_map = { "/mnt/show" = "Z:/show" }   # other local folders -> Nuke-side prefixes (studio path maps)

Relative paths resolve against the spec file's folder, so a shot folder can move.
Every error is one line naming the file and the key: ``shot.toml: [element] despill: ...``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from vfxkey.errors import SettingError, VfxkeyError
from vfxkey.fields import setting, setting_fields
from vfxkey.generate.choices import (DEFAULT_TARGET_SHIFT, KEY_DIRECTIONS, PRECISION_NAMES, SCHEDULER_NAMES,
                                     TEMPORAL_MODES, keyable)
from vfxkey.generate.edit_settings import EditSettings, check_steps
from vfxkey.generate.run_options import RunOptions
from vfxkey.io.colour import (DISPLAY_SPACE, WORKING_SPACE, check_colorspace, check_config, check_working_space,
                              config_in_use, convert)
from vfxkey.io.pathmap import map_path
from vfxkey.io.exr_options import check_compression, check_data_type
from vfxkey.io.sequence import FrameRange, has_frame_token, overwritten
from vfxkey.io.window import MAX_SIDE
from vfxkey.matte.greenpost import KeySettings
from vfxkey.shot.verdicts import check_verdicts

T = TypeVar("T")

# The keyer's settings by name and default, straight from KeySettings, so a setting the
# keyer gains is a spec key, in the metadata and in the settings hash without a change here.
KEYER_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(KeySettings)}
# Integers are 32-bit (EXR metadata stores them so), numbers finite; frame rates plausible.
INT32_MAX = 2**31 - 1
FPS_RANGE = (Fraction(1), Fraction(1000))


@dataclass(frozen=True)
class Transform:
    """Where the element sits on the comp at one frame.

    ``position`` is where the element's ``pivot`` goes, in comp pixels from the top-left
    corner (x right, y down); ``scale`` is uniform about the pivot; ``rotation`` is in
    degrees, counter-clockwise as seen on screen, about the pivot. ``pivot`` is in element
    pixels from its top-left corner (None: the element's centre).
    """

    position: tuple[float, float] | None = None  # None: the comp's centre
    scale: float = 1.0
    rotation: float = 0.0
    pivot: tuple[float, float] | None = None  # None: the element's centre


@dataclass(frozen=True)
class Placement:
    """The element's transform over the shot: a base and optional keyframes.

    ``keys`` are ``(frame, {"position"|"scale"|"rotation": value})``; each value is
    interpolated linearly between the keys that set it and held before the first and after
    the last; a value no key sets is the base's. The ``pivot`` is the base's on every frame.
    """

    base: Transform = Transform()
    keys: tuple[tuple[int, Mapping[str, Any]], ...] = ()

    def at(self, frame: int) -> Transform:
        """The transform at ``frame``."""
        values = {}
        for name in ("position", "scale", "rotation"):
            keyed = [(f, v[name]) for f, v in self.keys if name in v]
            values[name] = _interpolate(keyed, frame) if keyed else getattr(self.base, name)
        if values["position"] is not None:
            values["position"] = tuple(float(v) for v in values["position"])
        return Transform(**values, pivot=self.base.pivot)


def _interpolate(keys: list[tuple[int, Any]], frame: int) -> Any:
    """Linear interpolation of scalars or pairs between sorted ``(frame, value)`` keys; held outside."""
    if frame <= keys[0][0]:
        return keys[0][1]
    if frame >= keys[-1][0]:
        return keys[-1][1]
    for (f0, v0), (f1, v1) in zip(keys, keys[1:]):
        if f0 <= frame <= f1:
            t = (frame - f0) / (f1 - f0)
            value = (1.0 - t) * np.asarray(v0, np.float64) + t * np.asarray(v1, np.float64)
            return tuple(value.tolist()) if value.ndim else float(value)
    raise AssertionError("keys are sorted")


@dataclass(frozen=True)
class Plate:
    """The background plate: a still, a sequence pattern or a movie."""

    path: str
    colorspace: str | None = None  # None: what the file records, else by kind (io.read)
    reformat: str = "none"  # "none": the plate sets the comp's format; "element": resized to the element


@dataclass(frozen=True)
class KeyElement:
    """``mode = "key"``: pull the element from green/blue-screen footage (``vfxkey key``).

    ``keyer`` holds the KeySettings with ``screen`` already linearised (a ``#RRGGBB`` is
    sRGB-encoded in the spec); ``screen_text`` is the screen as written, for metadata.
    """

    input: str
    keyer: KeySettings
    screen_text: str = "auto"
    input_colorspace: str | None = None
    hint: str | None = None
    screen_frames: FrameRange | None = None  # None: the shot's first frame
    screen_from: str | None = None  # a stored Screen (name.screen.json) to key against instead of measuring
    garbage_matte: str | None = None  # white: never the subject (alpha 0)
    core_matte: str | None = None  # white: surely the subject (alpha 1)
    garbage_shapes: tuple[tuple[tuple[float, float], ...], ...] = ()  # polygons in input pixels, like garbage_matte
    core_shapes: tuple[tuple[tuple[float, float], ...], ...] = ()
    mode: str = "key"


PRECISION_HELP = (
    "Weights and arithmetic: fp16 by default on CUDA, fp32 on the CPU. Frames are reproducible bit for bit only on "
    "the same kind of device (on the CPU: the same thread count), in the same precision, with the same torch and "
    "diffusers (all recorded in the EXRs). A VAE that overflows in fp16 (SDXL's) encodes and decodes in fp32; a "
    "frame that still overflows stops, named.")


@dataclass(frozen=True)
class GenerateElement:
    """``mode = "generate"``: an element on a key colour from Stable Diffusion (``vfxkey generate``)."""

    model: str
    prompt: str
    size: tuple[int, int]  # width, height in pixels
    keyer: KeySettings  # how its alpha is refined; screen is set from ``key`` by the runner
    negative_prompt: str = setting("", "What to avoid.")
    model_config: str | None = None
    allow_pickle: bool = False
    steps: int = setting(30, "Denoising steps.", minimum=1)
    guidance: float = setting(7.5, "Classifier-free guidance scale.", minimum=0.0)
    scheduler: str = setting("ddim", "Sampler. euler_a adds fresh (seeded) noise each step, so its frames flicker "
                                     "more than the others'.", choices=SCHEDULER_NAMES)
    key: str = setting("green", "Key colour: green, blue, cyan, purple or #RRGGBB (sRGB) whose green or blue is its "
                                "largest channel (the keyer keys green- and blue-dominant screens).")
    key_direction: str = setting(
        "vae", "TKG-DM's latent direction of the key colour: measured with the model's VAE (a plate of the colour "
        "encoded, minus mid grey; fits any VAE), or the published one (the paper's SD1.5 sign pattern for a named "
        "key, SD1.5/SDXL preview factors otherwise; only fits SD's own VAEs).", choices=KEY_DIRECTIONS)
    shift: float | None = setting(None, "TKG-DM target shift: fraction of positive noise values added in the keyed "
                                        f"channels (default {DEFAULT_TARGET_SHIFT['sd15']:g} for SD1.5, "
                                        f"{DEFAULT_TARGET_SHIFT['sdxl']:g} for SDXL).", metavar="AMOUNT")
    fg_region: str = setting("0.5,0.5,0.25,0.25", "Foreground ellipse cx,cy,rx,ry as fractions of the image, or "
                                                  "keyframes 'FRAME:cx,cy,rx,ry;FRAME:cx,cy,rx,ry' (linear in between).")
    temporal: str = setting("locked", "Noise across frames: one noise for the shot, slowly drifting noise, or noise "
                                      "that moves with the foreground region's centre.", choices=TEMPORAL_MODES)
    drift_period: int = setting(24, "Frames between drift's keyframe noises: the noise moves from one to the next "
                                    "along a great circle, so frames a period apart share no noise only at keyframes "
                                    "(in between they share some, correlation up to ~0.5).", minimum=1)
    subject: str | None = setting(None, "Prompt words whose cross-attention gives the alpha hint (default: the "
                                        "whole prompt).")
    lora: str | None = None
    matte_head: str | None = None
    attention_hint: bool = False   # the cross-attention hint as the keyer's coarse mask (without a matte head)
    precision: str | None = setting(None, PRECISION_HELP, choices=PRECISION_NAMES)
    options: RunOptions = RunOptions()  # LoRA scale, memory savers, determinism
    mode: str = "generate"


@dataclass(frozen=True)
class EditElement:
    """``mode = "edit"``: each input frame changed by an edit prompt (``vfxkey edit``, Tight Inversion)."""

    input: str
    model: str
    ip_adapter: str
    # The prompts, scales, steps, strength, inversion iterations, feather, hold_background, working space: its
    # setting fields (vfxkey.fields) are this mode's [element] keys and `vfxkey edit`'s options.
    settings: EditSettings
    input_colorspace: str | None = None
    model_config: str | None = None
    allow_pickle: bool = False
    image_encoder: str | None = None  # None: image_encoder/ beside the adapter
    mask: str | None = None
    key: str = setting("green", "Key colour a keyed (RGBA) input is put on for the model and keyed off again: green, "
                                "blue, cyan, purple or #RRGGBB (sRGB) whose green or blue is its largest channel.")
    keyer: KeySettings = KeySettings()  # how a keyed input is keyed again; screen is set from ``key``
    reconstruct: bool = False  # settings are EditSettings.reconstruction(): to measure fidelity
    precision: str | None = setting(None, PRECISION_HELP, choices=PRECISION_NAMES)
    lora: str | None = None
    options: RunOptions = RunOptions()  # LoRA scale, memory savers, determinism
    mode: str = "edit"


@dataclass(frozen=True)
class Outputs:
    """What a render writes (paths resolved); see the module docstring."""

    element: str
    comp: str | None = None
    preview: str | None = None
    movie: str | None = None
    element_movie: str | None = None
    nuke: str | None = None
    qc_report: str | None = None
    save_screen: str | None = None
    compression: str = "zip"
    data_type: str = "half"

    def named(self) -> dict[str, str]:
        """Every output the spec names, by setting (patterns as given, paths resolved)."""
        names = ("element", "comp", "preview", "movie", "element_movie", "nuke", "qc_report", "save_screen")
        return {name: getattr(self, name) for name in names if getattr(self, name)}

    def folders(self) -> list[str]:
        """The folders the outputs go to (their sidecars and stored screen go beside the element)."""
        return sorted({os.path.dirname(path) or "." for path in self.named().values()})


@dataclass(frozen=True)
class NukePaths:
    """``[nuke]``: the Nuke version the script is for, and where Nuke finds the shot's files
    (see ``vfxkey.nuke.paths``). ``root`` replaces the spec's folder; ``path_map`` pairs are
    (local folder, resolved; Nuke prefix)."""

    root: str | None = None
    path_map: tuple[tuple[str, str], ...] = ()
    version: int | None = None


@dataclass(frozen=True)
class ShotSpec:
    """One shot, validated. ``frames`` None means every frame of a key element's input
    (only the ``vfxkey key`` command leaves it open)."""

    name: str
    frames: FrameRange | None
    element: KeyElement | GenerateElement | EditElement
    outputs: Outputs
    fps: Fraction | None = None  # None: the input's (key) or 24
    seed: int = 0
    working_space: str = WORKING_SPACE
    plate: Plate | None = None
    placement: Placement = Placement()
    path: str | None = None  # the spec file, when read from one
    nuke: NukePaths = NukePaths()
    ocio_config: str | None = None  # the spec's [shot] ocio_config (in use while the shot is processed: shot_config)
    fail_on: tuple[str, ...] = ()  # [qc] fail_on: QC verdicts (vfxkey.shot.qc.VERDICTS) that fail the task

    @property
    def folder(self) -> Path:
        """The folder relative paths resolved against."""
        return Path(self.path).parent if self.path else Path.cwd()


def shot_config(process: Callable[..., T]) -> Callable[..., T]:
    """Decorator: ``process(spec, ...)`` runs with the shot's OCIO config in use (its ``[shot]
    ocio_config``; without one, the config the process chose), and leaves the one before.
    Every part that reads, converts or names colour for a shot is decorated; reading a spec
    puts nothing in use."""

    @functools.wraps(process)
    def in_shot_config(spec: ShotSpec, *args: Any, **kwargs: Any) -> T:
        with config_in_use(spec.ocio_config):
            return process(spec, *args, **kwargs)

    return in_shot_config


# --- reading ------------------------------------------------------------------------
Label = Callable[[str, str], str]  # (table, key) -> how an error names the setting


def file_label(path: str) -> Label:
    """Errors of a spec file name it and the key: ``shot.toml: [element] despill``."""
    return lambda table, key: f"{path}: [{table}] {key}" if key else f"{path}: [{table}]"


SPEC_FORMAT = "vfxkey.shot/1"  # [shot] format: the spec format this vfxkey reads and writes

# The keys of each table but [element] (which holds the element's and the keyer's settings).
TABLE_KEYS = {"shot": ("format", "name", "frames", "fps", "seed", "working_space"),
              "plate": ("path", "colorspace", "reformat"),
              "outputs": ("comp", "preview", "movie", "element_movie", "nuke", "qc_report", "save_screen",
                          "compression", "data_type"), "nuke": ("root", "path_map")}


def setting_table(setting: str) -> str:
    """The table of the spec that holds ``setting`` (``despill`` -> ``element``)."""
    return next((table for table, keys in TABLE_KEYS.items() if setting in keys), "element")


def load_spec(path: str | Path) -> ShotSpec:
    """Read and validate a ``shot.toml``; :class:`VfxkeyError` naming the file and key otherwise."""
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would never end reading
            raise VfxkeyError(f"{path}: the shot spec is not a regular file")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VfxkeyError(f"{path}: shot spec does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VfxkeyError(f"{path}: cannot read the shot spec: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise VfxkeyError(f"{path}: not valid TOML: {exc}") from None
    return build_spec(data, base=path.parent.resolve(), label=file_label(str(path)), path=str(path.resolve()))


def build_spec(data: Mapping[str, Any], *, base: Path, label: Label, path: str | None = None,
               sequence_outputs: bool = True) -> ShotSpec:
    """Validate spec ``data`` (TOML tables as dicts) into a :class:`ShotSpec`.

    Args:
        base: folder relative paths resolve against (the spec's folder, or the cwd).
        label: how errors name a setting (:func:`file_label` or :func:`option_label`).
        sequence_outputs: require ``outputs.element`` to be an EXR sequence pattern (a
            shot); ``vfxkey key`` also writes a movie, one EXR or a folder.
    """
    tables = _Tables(data, base, label)
    shot = tables.table("shot", required=True)
    spec_format = shot.get("format", str, default=SPEC_FORMAT)
    if spec_format != SPEC_FORMAT:
        raise VfxkeyError(f"{label('shot', 'format')}: {spec_format!r} is not a format this vfxkey reads "
                          f"({SPEC_FORMAT}); it was written for another vfxkey version")
    name = shot.get("name", str, required=True)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise VfxkeyError(f"{label('shot', 'name')}: {name!r} must be letters, digits, '_', '-' or '.'")
    frames = shot.get("frames", str, required=path is not None)
    frames = shot.parsed("frames", FrameRange.parse, frames) if frames is not None else None
    fps = shot.parsed("fps", _rational, shot.get("fps", (str, int)))
    seed = shot.get("seed", int, default=0)
    ocio_config = shot.get("ocio_config", str)
    if ocio_config is not None:
        if not ocio_config.startswith("ocio://"):
            ocio_config = str(base / Path(ocio_config).expanduser())
        shot.parsed("ocio_config", check_config, ocio_config)
    # The shot's names are checked in the show's config, which is in use only while it is read:
    # what processes the shot uses it again (shot_config), and the next shot read has its own.
    with config_in_use(ocio_config):
        working_space = shot.parsed("working_space", check_working_space,
                                    shot.get("working_space", str, default=WORKING_SPACE))
        shot.done()

        plate = None
        if (plate_table := tables.table("plate")) is not None:
            plate = Plate(
                path=plate_table.path("path", required=True, exists=True),
                colorspace=plate_table.parsed("colorspace", check_colorspace, plate_table.get("colorspace", str)),
                reformat=plate_table.choice("reformat", ("none", "element"), "none"),
            )
            plate_table.done()

        element_table = tables.table("element", required=True)
        mode = element_table.choice("mode", ("key", "generate", "edit"), None, required=True)
        element = {"key": _key_element, "generate": _generate_element,
                   "edit": _edit_element}[mode](element_table, working_space)
        element_table.done()

        placement = Placement()
        if (table := tables.table("placement")) is not None:
            placement = _placement(table, frames)
            table.done()

        nuke = NukePaths()
        if (table := tables.table("nuke")) is not None:
            nuke = _nuke_paths(table)
            table.done()

        fail_on: tuple[str, ...] = ()
        if (table := tables.table("qc")) is not None:
            fail_on = table.parsed("fail_on", parse_fail_on, table.get("fail_on", list)) or ()
            table.done()

        outputs_table = tables.table("outputs", required=True)
        outputs = Outputs(
            element=outputs_table.path("element", required=True),
            comp=outputs_table.path("comp"),
            preview=outputs_table.path("preview"),
            movie=outputs_table.path("movie"),
            element_movie=outputs_table.path("element_movie"),
            nuke=outputs_table.path("nuke"),
            qc_report=outputs_table.path("qc_report"),
            save_screen=outputs_table.path("save_screen"),
            compression=outputs_table.parsed("compression", check_compression,
                                             outputs_table.get("compression", str, default="zip")),
            data_type=outputs_table.parsed("data_type", check_data_type,
                                           outputs_table.get("data_type", str, default="half")),
        )
        _check_outputs(outputs_table, outputs, plate, element, sequence_outputs)
        _check_nothing_overwritten(outputs_table, outputs, plate, element)
        outputs_table.done()
        tables.done()
        return ShotSpec(name=name, frames=frames, element=element, outputs=outputs, fps=fps, seed=seed,
                        working_space=working_space, plate=plate, placement=placement, path=path, nuke=nuke,
                        ocio_config=ocio_config, fail_on=fail_on)


def parse_fail_on(value: list | str) -> tuple[str, ...]:
    """QC verdict names (a list, or comma-separated text) that fail a task, checked against
    ``vfxkey.shot.qc.VERDICTS``; ``all`` is every verdict."""
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not all(isinstance(n, str) for n in names):
        raise VfxkeyError(f"verdicts must be names, got {value!r}")
    try:
        return check_verdicts(names)
    except ValueError as exc:
        raise VfxkeyError(str(exc)) from None


def _key_element(table: _Table, working_space: str) -> KeyElement:
    screen_text = table.get("screen", str, default="auto")
    keyer = _keyer(table, screen=table.parsed("screen", lambda t: parse_screen(t, working_space), screen_text))
    return KeyElement(
        input=table.path("input", required=True, exists=True),
        keyer=keyer,
        screen_text=screen_text,
        input_colorspace=table.parsed("input_colorspace", check_colorspace, table.get("input_colorspace", str)),
        hint=table.path("hint", exists=True),
        screen_frames=table.parsed("screen_frames", FrameRange.parse, table.get("screen_frames", (str, int))),
        screen_from=table.path("screen_from", exists=True),
        garbage_matte=table.path("garbage_matte", exists=True),
        core_matte=table.path("core_matte", exists=True),
        garbage_shapes=table.parsed("garbage_shapes", parse_shapes, table.get("garbage_shapes", list)) or (),
        core_shapes=table.parsed("core_shapes", parse_shapes, table.get("core_shapes", list)) or (),
    )


def parse_shapes(value: list) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Polygons ``[[[x, y], ...], ...]`` (input pixels from the top left, at least three
    points each) as tuples; VfxkeyError saying what is wrong otherwise."""
    shapes = []
    for shape in value:
        if not (isinstance(shape, list) and len(shape) >= 3 and all(
                isinstance(point, list) and len(point) == 2
                and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in point) for point in shape)):
            raise VfxkeyError(f"each shape must be a list of at least three [x, y] points, got {shape!r}")
        shapes.append(tuple((float(x), float(y)) for x, y in shape))
    return tuple(shapes)


def _generate_element(table: _Table, working_space: str) -> GenerateElement:
    from vfxkey.generate.noise import ForegroundPath, parse_key, shift_delta

    size_text = table.get("size", str, default="512x512")
    shift = table.get("shift", (float, int))
    if shift is not None:
        table.parsed("shift", shift_delta, float(shift))
    table.parsed("fg_region", ForegroundPath.parse, table.get("fg_region", str))
    table.parsed("key", parse_key, table.get("key", str))
    matte_head = table.path("matte_head", exists=True)
    attention_hint = table.get("attention_hint", bool, default=False)
    if matte_head and attention_hint:
        raise VfxkeyError(f"{table.label(table.name, 'attention_hint')}: the matting head already gives the "
                          "keyer its coarse mask; give one of matte_head and attention_hint")
    return GenerateElement(
        model=table.path("model", required=True),
        model_config=table.path("model_config"),
        allow_pickle=table.get("allow_pickle", bool, default=False),
        prompt=table.get("prompt", str, required=True),
        size=table.parsed("size", parse_size, size_text),
        **{name: table.setting(field) for name, field in setting_fields(GenerateElement).items()},
        lora=table.path("lora", exists=True),
        matte_head=matte_head,
        attention_hint=attention_hint,
        options=_run_options(table),
        keyer=_keyer(table, screen="auto", skip=("screen", "temporal")),
    )


def _edit_element(table: _Table, working_space: str) -> EditElement:
    from vfxkey.generate.noise import parse_key

    edit = {name: table.setting(field) for name, field in setting_fields(EditSettings).items()}
    table.parsed("strength", lambda strength: check_steps(edit["steps"], strength), edit["strength"])
    reconstruct = table.get("reconstruct", bool, default=False)
    settings = EditSettings(prompt=table.get("prompt", str, required=not reconstruct, default=edit["source_prompt"]),
                            working_space=working_space, **edit)
    element = {name: table.setting(field) for name, field in setting_fields(EditElement).items()}
    table.parsed("key", parse_key, element["key"])
    return EditElement(
        input=table.path("input", required=True, exists=True),
        input_colorspace=table.parsed("input_colorspace", check_colorspace, table.get("input_colorspace", str)),
        model=table.path("model", required=True),
        model_config=table.path("model_config"),
        allow_pickle=table.get("allow_pickle", bool, default=False),
        ip_adapter=table.path("ip_adapter", required=True, exists=True),
        image_encoder=table.path("image_encoder", exists=True),
        mask=table.path("mask", exists=True),
        keyer=_keyer(table, screen="auto", skip=("screen", "temporal")),
        reconstruct=reconstruct,
        lora=table.path("lora", exists=True),
        options=_run_options(table),
        settings=settings.reconstruction() if reconstruct else settings,
        **element,
    )


def _run_options(table: _Table) -> RunOptions:
    """How the model runs (generate and edit): LoRA scale, memory savers, determinism."""
    return RunOptions(**{name: table.setting(field) for name, field in setting_fields(RunOptions).items()})


def _keyer(table: _Table, screen: Any, skip: tuple[str, ...] = ("screen",)) -> KeySettings:
    """KeySettings from the table's keyer keys (same names as its fields), validated by it."""
    values = {"screen": screen}
    for name, default in KEYER_DEFAULTS.items():
        if name not in skip:
            values[name] = table.number(name, type(default), default)
    try:
        return KeySettings(**values)
    except SettingError as exc:
        raise SettingError(f"{table.label(table.name, exc.setting)}: {exc.message}") from None


def _placement(table: _Table, frames: FrameRange | None) -> Placement:
    def point(values: _Table, name: str, where: str) -> tuple[float, float] | None:
        if (value := values.get(name, list)) is None:
            return None
        if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                      and math.isfinite(v) for v in value):
            raise VfxkeyError(f"{values.label(values.name, name)}: give [x, y] in {where} pixels, got {value!r}")
        return float(value[0]), float(value[1])

    def transform_values(values: _Table) -> dict[str, Any]:
        found = {}
        if (position := point(values, "position", "comp")) is not None:
            found["position"] = position
        if (scale := values.get("scale", (int, float))) is not None:
            if not scale > 0:
                raise VfxkeyError(f"{values.label(values.name, 'scale')}: must be > 0, got {scale}")
            found["scale"] = float(scale)
        if (rotation := values.get("rotation", (int, float))) is not None:
            found["rotation"] = float(rotation)
        return found

    base = Transform(**transform_values(table), pivot=point(table, "pivot", "element"))
    keys = []
    for index, key_data in enumerate(table.get("keys", list, default=[])):
        if not isinstance(key_data, dict):
            raise VfxkeyError(f"{table.label(table.name, 'keys')}: each key is a table [[placement.keys]]")
        key_table = _Table(f"placement.keys[{index}]", key_data, table.base, table.label)
        frame = key_table.get("frame", int, required=True)
        values = transform_values(key_table)
        key_table.done()
        if not values:
            raise VfxkeyError(f"{key_table.label(key_table.name, 'frame')}: key {frame} sets none of "
                              "position, scale, rotation")
        keys.append((frame, values))
    frames_seen = [f for f, _ in keys]
    if len(set(frames_seen)) != len(frames_seen):
        raise VfxkeyError(f"{table.label(table.name, 'keys')}: frame keyed twice in {frames_seen}")
    return Placement(base=base, keys=tuple(sorted(keys, key=lambda k: k[0])))


def _nuke_paths(table: _Table) -> NukePaths:
    root = table.get("root", str)
    if root is not None and not root.strip():
        raise VfxkeyError(f"{table.label(table.name, 'root')}: empty; give a folder or a TCL prefix")
    pairs = []
    for local, prefix in table.get("path_map", dict, default={}).items():
        if not isinstance(prefix, str) or not prefix.strip():
            raise VfxkeyError(f"{table.label(table.name, 'path_map')}: {local!r} must map to a folder or "
                              f"a TCL prefix (a string), got {prefix!r}")
        windows = re.match(r"^([A-Za-z]:[\\/]|\\\\|//)", local)  # a Windows folder stays as written
        pairs.append((local if windows else str(table.base / Path(local).expanduser()), prefix))
    version = table.get("version", int)  # which versions are supported: vfxkey.nuke.ocio
    return NukePaths(root=root, path_map=tuple(pairs), version=version)


def _check_outputs(table: _Table, outputs: Outputs, plate: Plate | None, element: Any, sequence: bool) -> None:
    label = table.label
    if sequence and not outputs.element.lower().endswith(".exr"):
        raise VfxkeyError(f"{label('outputs', 'element')}: give an EXR sequence pattern such as "
                          f"element.####.exr, got {outputs.element}")
    if outputs.comp is not None:
        if plate is None:
            raise VfxkeyError(f"{label('outputs', 'comp')}: a comp needs a [plate] to go over")
        if not (outputs.comp.lower().endswith(".exr") and has_frame_token(outputs.comp)):
            raise VfxkeyError(f"{label('outputs', 'comp')}: give an EXR sequence pattern such as comp.####.exr")
    for name, suffix, token in (("preview", ".png", None), ("save_screen", ".png", True), ("movie", ".mov", False),
                                ("element_movie", ".mov", False), ("nuke", ".nk", False),
                                ("qc_report", ".html", False)):
        value = getattr(outputs, name)
        if value is None:
            continue
        if not value.lower().endswith(suffix):
            raise VfxkeyError(f"{label('outputs', name)}: must end in {suffix}, got {value}")
        if token is not None and has_frame_token(value) != token:
            wanted = "needs a frame token (e.g. name.####" + suffix + ")" if token else "takes no frame token"
            raise VfxkeyError(f"{label('outputs', name)}: {wanted}, got {value}")
    if outputs.movie is not None and outputs.comp is None:
        raise VfxkeyError(f"{label('outputs', 'movie')}: the movie is made of the comp; set [outputs] comp too")
    if outputs.save_screen is not None and element.mode != "generate":
        raise VfxkeyError(f"{label('outputs', 'save_screen')}: only for [element] mode = \"generate\"")


def _check_nothing_overwritten(table: _Table, outputs: Outputs, plate: Plate | None, element: Any) -> None:
    """Refuse, before anything is written, an output that names the same files as an input or
    as another output (``####`` and ``%04d``, letter case and symbolic links aside:
    :func:`~vfxkey.io.sequence.same_files`): a render would replace the footage, or two
    writers would race for the same frames."""
    inputs = {"element's input": getattr(element, "input", None), "plate": plate.path if plate else None,
              "hint": getattr(element, "hint", None), "mask": getattr(element, "mask", None),
              "stored screen": getattr(element, "screen_from", None)}
    named = list(outputs.named().items())
    for index, (name, path) in enumerate(named):
        if source := overwritten(path, inputs):
            raise VfxkeyError(f"{table.label('outputs', name)}: {path} would overwrite the {source} {inputs[source]}")
        if other := overwritten(path, dict(named[index + 1:])):
            raise VfxkeyError(f"{table.label('outputs', name)}: {path} names the same files as the "
                              f"{other.replace('_', ' ')} output {outputs.named()[other]}")


# --- values -------------------------------------------------------------------------
def _rational(value: str | int) -> Fraction:
    """An exact frame rate: ``24``, ``"25"``, ``"24000/1001"``; between :data:`FPS_RANGE`, its
    numerator and denominator 32-bit (as movies and EXRs store them)."""
    try:
        fps = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise VfxkeyError(f"{value!r} is not an exact rate: give e.g. 24, \"25\" or \"24000/1001\"") from None
    if "." in str(value):
        raise VfxkeyError(f"{value!r} is a decimal: give an exact rate such as \"24000/1001\" (23.976) or \"24\"")
    if not FPS_RANGE[0] <= fps <= FPS_RANGE[1] or max(fps.numerator, fps.denominator) > INT32_MAX:
        raise VfxkeyError(f"{value!r}: a frame rate from {FPS_RANGE[0]} to {FPS_RANGE[1]} frames per second, "
                          "e.g. 24 or \"24000/1001\"")
    return fps


def parse_size(text: str) -> tuple[int, int]:
    """``"512x512"`` -> (width, height) in pixels."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise VfxkeyError(f"{text!r}: give WIDTHxHEIGHT, e.g. 512x512") from None
    if width <= 0 or height <= 0:
        raise VfxkeyError(f"{text!r}: both sides must be positive")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise VfxkeyError(f"{text!r}: at most {MAX_SIDE} pixels a side")
    return width, height


def parse_screen(text: str, working_space: str) -> str | tuple[float, float, float]:
    """``auto``/``green``/``blue`` as they are; ``#RRGGBB`` (sRGB-encoded) to a linear triple."""
    if text in ("auto", "green", "blue"):
        return text
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise VfxkeyError(f"bad screen {text!r}: give auto, green, blue or #RRGGBB")
    encoded = np.array([[[int(text[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]]], dtype=np.float32)
    if not keyable(tuple(encoded[0, 0])):
        raise VfxkeyError(f"{text}: the keyer keys green- or blue-dominant screens, and this colour's green or blue "
                          "does not lead its red; give auto, green, blue or a #RRGGBB whose green or blue is the largest")
    linear = convert(encoded, DISPLAY_SPACE, working_space)[0, 0]
    return tuple(float(c) for c in linear)


class _Table:
    """One TOML table being validated: typed getters that name the key in errors, and
    :meth:`done` that refuses keys nobody read."""

    def __init__(self, name: str, data: Mapping[str, Any], base: Path, label: Label) -> None:
        self.name, self.data, self.base, self.label = name, dict(data), base, label
        self.read: set[str] = set()

    def raw(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def get(self, key: str, kind: type | tuple[type, ...], *, default: Any = None, required: bool = False) -> Any:
        self.read.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                raise VfxkeyError(f"{self.label(self.name, key)}: required")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join({str: "a string", int: "an integer", float: "a number", bool: "true or false",
                                 list: "a list", dict: "a table"}[k] for k in kinds)
            raise VfxkeyError(f"{self.label(self.name, key)}: must be {names}, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and not -INT32_MAX - 1 <= value <= INT32_MAX:
            raise VfxkeyError(f"{self.label(self.name, key)}: {value} does not fit a 32-bit integer "
                              f"({-INT32_MAX - 1} to {INT32_MAX})")
        if isinstance(value, float) and not math.isfinite(value):
            raise VfxkeyError(f"{self.label(self.name, key)}: must be a finite number, got {value!r}")
        return value

    def number(self, key: str, kind: type, default: Any, *, minimum: float | None = None) -> Any:
        kinds = (int, float) if kind is float else (kind,)
        value = self.get(key, kinds, default=default)
        if minimum is not None and value < minimum:
            raise VfxkeyError(f"{self.label(self.name, key)}: must be >= {minimum}, got {value}")
        return kind(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str | None, *,
               required: bool = False) -> str | None:
        value = self.get(key, str, default=default, required=required)
        if value is None:  # optional, no default
            return None
        if value not in choices:
            raise VfxkeyError(f"{self.label(self.name, key)}: {value!r} is not one of {', '.join(choices)}")
        return value

    def setting(self, field: dataclasses.Field) -> Any:
        """The value of a setting field (:func:`setting`): its type, choices and minimum checked, its default when absent."""
        kind = {"int": int, "float": float, "float | None": float, "bool": bool}.get(field.type, str)
        if field.metadata["choices"]:
            return self.choice(field.name, field.metadata["choices"], field.default)
        if kind in (str, bool):
            return self.get(field.name, kind, default=field.default)
        if field.default is None:
            value = self.get(field.name, (int, float))
            return None if value is None else kind(value)
        return self.number(field.name, kind, field.default, minimum=field.metadata["minimum"])

    def parsed(self, key: str, parse: Callable[[Any], Any], value: Any) -> Any:
        """``parse(value)``, its error re-raised naming the key (None passes through)."""
        if value is None:
            return None
        try:
            return parse(value)
        except VfxkeyError as exc:
            # The spec names the setting (the library gives its name, never a CLI option).
            raise type(exc)(f"{self.label(self.name, exc.setting or key)}: {exc.worded(lambda _: '')}") from None

    def path(self, key: str, *, required: bool = False, exists: bool = False) -> str | None:
        """A path, resolved against the spec's folder; ``exists`` checks a plain file or folder
        (a frame pattern's frames are checked as they are read: a farm job may name frames
        the submitting machine cannot see)."""
        value = self.get(key, str, required=required)
        if value is None or value == "":
            if required:
                raise VfxkeyError(f"{self.label(self.name, key)}: required")
            return None
        value = map_path(value)  # a farm session's path mapping rules, for absolute paths
        resolved = str(self.base / Path(value).expanduser())
        if value.endswith(("/", os.sep)):
            resolved += os.sep  # "out/" names a folder output
        if exists and not has_frame_token(value) and not Path(resolved).exists():
            raise VfxkeyError(f"{self.label(self.name, key)}: {resolved} does not exist")
        return resolved

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise VfxkeyError(f"{self.label(self.name, unknown[0])}: unknown key"
                              + (f" (known: {', '.join(sorted(self.read))})" if self.read else ""))


class _Tables:
    """The top level: which tables exist; unknown ones are refused."""

    def __init__(self, data: Mapping[str, Any], base: Path, label: Label) -> None:
        self.data, self.base, self.label = data, base, label
        self.read: set[str] = set()

    def table(self, name: str, *, required: bool = False) -> _Table | None:
        self.read.add(name)
        if name not in self.data:
            if required:
                raise VfxkeyError(f"{self.label(name, '')}: required table is missing")
            return None
        if not isinstance(self.data[name], dict):
            raise VfxkeyError(f"{self.label(name, '')}: must be a table")
        return _Table(name, self.data[name], self.base, self.label)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise VfxkeyError(f"{self.label(unknown[0], '')}: unknown table (known: shot, plate, element, "
                              "placement, outputs, nuke, qc)")
