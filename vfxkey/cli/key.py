"""``vfxkey key``: pull a premultiplied element from green- or blue-screen footage."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click
import numpy as np

from vfxkey.cli.progress import track, warn
from vfxkey.comp.over import checkerboard, over
from vfxkey.errors import VfxkeyError, where
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert
from vfxkey.io.companion import Companion
from vfxkey.io.read import Frame, Source, open_source
from vfxkey.io.sequence import FrameRange, frame_path, has_frame_token
from vfxkey.io.window import reframe
from vfxkey.io.write import EXR_DATA_TYPES, atomic_output, open_frame_writer, write_preview_png
from vfxkey.matte.greenpost import TEMPORAL_FRAMES, Keyer, KeySettings, Screen, measure_screen


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", required=True,
              help="name.####.exr (premultiplied RGBA per frame), name.exr (one frame), name.mov "
                   "(ProRes 4444) or folder/ (one EXR per input still, same name).")
@click.option("--screen", default="auto", show_default=True, metavar="auto|green|blue|#RRGGBB",
              help="Screen to key. A name fixes the channel (the colour is still measured); "
                   "#RRGGBB (sRGB) picks the screen pixels of that hue, whose colour is then measured.")
@click.option("--screen-from", metavar="FILE",
              help="Key against the shot's screen stored in FILE (name.screen.json, as written beside an "
                   "earlier run's output) instead of measuring it. Without it the screen is measured on the "
                   "shot's first frame and written beside the output (OUTPUT's name + .screen.json), and a "
                   "later run of the same shot (another chunk) uses that file.")
@click.option("--hint", metavar="MASK",
              help="Optional coarse mask (still, sequence or movie; white = subject; alpha if it has one, "
                   "values as stored, never linearised) used where it helps.")
@click.option("--despill", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="Spill removal, 0..1: this share of the screen light measured on the subject near "
                   "its edges is taken out (its own colour and brightness are kept).")
@click.option("--despeckle", type=click.IntRange(min=0), default=0, show_default=True, metavar="PIXELS",
              help="Remove opaque specks and transparent holes smaller than this area in pixels.")
@click.option("--temporal", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help=f"Steadies alpha and colour of a sequence where the picture does not change: each of the "
                   f"{TEMPORAL_FRAMES} input frames before a frame counts this much wherever it differs from it "
                   "by sensor noise alone (motion and cuts are left alone). 0 keys every frame on its own. "
                   "A chunk reads the frames before its first, so chunks still agree.")
@click.option("--frames", metavar="RANGE", help="Frames to key: 1001-1020, 1001-1020x2 or 1001,1005 (default: all).")
@click.option("--preview", metavar="PNG",
              help="Also write the comp over --plate as 8-bit sRGB PNG for a person to look at: "
                   "comp.png for one frame, comp.####.png for several.")
@click.option("--plate", metavar="PLATE",
              help="Background for --preview: a still (used for every frame), a sequence or a movie, "
                   "resized to the frame; default a grey checkerboard.")
@click.option("--working-space", default=WORKING_SPACE, show_default=True,
              help="Scene-linear space of the output EXRs, e.g. ACEScg.")
@click.option("--input-colorspace", metavar="NAME",
              help="Colour space of the input (default: what the file records, else sRGB for 8/16-bit).")
@click.option("--data-type", type=click.Choice(list(EXR_DATA_TYPES)), default="half", show_default=True,
              help="EXR channel type. Half holds up to +-65504: larger values are clamped (with a warning).")
def key(input_path: str, output: str, screen: str, screen_from: str | None, hint: str | None,
        despill: float, despeckle: int, temporal: float,
        frames: str | None, preview: str | None, plate: str | None, working_space: str,
        input_colorspace: str | None, data_type: str) -> None:
    """Key INPUT (an image, a sequence such as shot.####.png, a folder of images or a
    movie) shot on a green or blue screen, and write premultiplied scene-linear EXRs
    or a ProRes 4444 movie.

    A sequence or movie is keyed against one screen for the whole shot (measured on its
    first frame, or --screen-from), so any chunk of it keys the same; a frame that screen
    does not fit (a cut, a lighting change) is keyed against its own, with a warning.
    A folder of stills is keyed image by image, each against its own screen. Each
    frame's QC figures (screen colour, screen fit, GSG, fraction of soft alpha,
    warnings) go into the EXR metadata and into a JSON sidecar beside the output
    (OUTPUT's name + .qc.json). EXRs keep the input's display and data windows
    (overscan is keyed and kept).
    """
    if plate and not preview:
        raise VfxkeyError("--plate is the background of --preview; give --preview comp.####.png too")
    frame_range = FrameRange.parse(frames) if frames else None
    source = open_source(input_path, frame_range, input_colorspace=input_colorspace,
                         working_space=working_space, warn=warn)
    settings = KeySettings(screen=_parse_screen(screen, working_space), despill=despill, despeckle=despeckle,
                           temporal=temporal)
    hints = Companion(hint, working_space, "hint", warn=warn) if hint else None
    plates = Companion(plate, working_space, "plate", warn=warn) if plate else None
    if preview and len(source) > 1 and not has_frame_token(preview):
        raise VfxkeyError(f"{preview}: preview of {len(source)} frames needs a frame token, e.g. comp.####.png")

    # A folder of stills is unrelated images: each keyed alone, against its own screen.
    shot = None if source.info.kind == "stills" else open_source(
        input_path, input_colorspace=input_colorspace, working_space=working_space, warn=warn)
    shot_screen = (_load_screen(screen_from, working_space) if screen_from
                   else _measured_screen(shot, input_path, output, settings, screen, working_space) if shot else None)
    keyer = Keyer(settings, shot_screen)
    previous = _PreviousFrames(shot, TEMPORAL_FRAMES if shot and temporal > 0 else 0)
    recorded = {"command": "key", "screen": screen, "despill": despill, "despeckle": despeckle,
                "temporal": temporal, "input_colorspace": source.info.colorspace}
    report, refitting = [], False
    with open_frame_writer(output, frame_count=len(source), working_space=working_space,
                           fps=source.info.fps, data_type=data_type, metadata=recorded, warn=warn) as writer:
        for frame in track(source, total=len(source), description="key"):
            mask = hints.mask(frame.number, frame.data_window, frame.display_window) if hints else None
            try:
                result = keyer.key(frame.rgb, hint=mask, previous=previous.before(frame))
            except ValueError as exc:
                raise VfxkeyError(f"{where(frame.source, frame.number)}: {exc}") from None
            for message in result.qc["warnings"]:
                if not (result.qc["screen_refit"] and refitting):  # a refit is told where it starts
                    warn(f"{where(frame.source, frame.number)}: {message}"
                         + (" (and every following frame that does not fit)" if result.qc["screen_refit"] else ""))
            if refitting and not result.qc["screen_refit"]:
                warn(f"{where(frame.source, frame.number)}: fits the shot's screen again")
            refitting = result.qc["screen_refit"]
            rgba = result.premultiplied_rgba()
            qc = {"screen_rgb": " ".join(f"{c:.6g}" for c in result.qc["screen_rgb"]),
                  "screen_refit": int(result.qc["screen_refit"]),
                  "gsg": result.qc["gsg"], "soft_fraction": result.qc["soft_fraction"]}
            written = writer.write(frame.number, rgba, source_name=frame.source, metadata=qc,
                                   data_window=frame.data_window, display_window=frame.display_window)
            report.append({"frame": frame.number, "source": frame.source, "output": written, **result.qc})
            if preview:  # the display window (the format), as a viewer shows it
                shown = reframe(rgba, frame.data_window, frame.display_window)
                background = (plates.image(frame.number, shown.shape[:2]) if plates
                              else checkerboard(*shown.shape[:2]))
                target = frame_path(preview, frame.number) if has_frame_token(preview) else preview
                write_preview_png(target, over(shown, background), working_space=working_space)

    sidecar = _sidecar_path(output)
    with atomic_output(sidecar) as tmp:
        Path(tmp).write_text(json.dumps({
            "input": input_path, "output": output, "settings": recorded,
            "screen": json.loads(shot_screen.to_json()) if shot_screen else "each image its own",
            "refit_frames": [f["frame"] for f in report if f["screen_refit"]],
            "warnings": sum(len(f["warnings"]) for f in report), "frames": report}, indent=1))


def _load_screen(path: str, working_space: str) -> Screen:
    """The Screen stored in ``path``; VfxkeyError naming the file when it is not one for this working space."""
    try:
        screen = Screen.from_json(Path(path).read_text())
    except (OSError, ValueError, TypeError) as exc:
        raise VfxkeyError(f"{path}: {exc}") from None
    if screen.working_space != working_space:
        raise VfxkeyError(f"{path}: the screen is in {screen.working_space}, the key in {working_space} "
                          f"(give --working-space {screen.working_space!r})")
    return screen


def _measured_screen(shot: Source, input_path: str, output: str, settings: KeySettings, screen_arg: str,
                     working_space: str) -> Screen:
    """The shot's screen, measured on its first frame, whatever frames this run keys.

    It is stored beside the output (OUTPUT's name + .screen.json); a later run of the
    same shot with the same --screen (another chunk) reads it back instead. Measuring
    is deterministic, so chunks that start together and both measure agree too.
    """
    first = shot.info.frames[0]
    measured_on = f"{where(input_path, first)}, --screen {screen_arg}"
    stored = _sidecar_path(output, ".screen.json")
    if os.path.exists(stored):
        try:
            screen = Screen.from_json(Path(stored).read_text())
            if screen.source == measured_on and screen.working_space == working_space:
                return screen
        except ValueError:
            pass  # not ours, or from an older vfxkey: measured again and replaced
    frame = shot.read(first)
    try:
        screen = measure_screen(frame.rgb, settings, working_space=working_space, source=measured_on)
    except ValueError as exc:
        raise VfxkeyError(f"{where(frame.source, first)}: {exc}") from None
    with atomic_output(stored) as tmp:
        Path(tmp).write_text(screen.to_json())
    return screen


def _parse_screen(text: str, working_space: str) -> str | tuple[float, float, float]:
    """``auto``/``green``/``blue`` as they are; ``#RRGGBB`` (sRGB) to a linear triple."""
    if text in ("auto", "green", "blue"):
        return text
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise VfxkeyError(f"bad --screen {text!r}: give auto, green, blue or #RRGGBB")
    encoded = np.array([[[int(text[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]]], dtype=np.float32)
    linear = convert(encoded, DISPLAY_SPACE, working_space)[0, 0]
    return tuple(float(c) for c in linear)


def _sidecar_path(output: str, suffix: str = ".qc.json") -> str:
    """``out/key.####.exr`` -> ``out/key.qc.json`` (or another ``suffix``); ``out/`` -> ``out/vfxkey_qc.json``."""
    if output.endswith(("/", os.sep)) or os.path.isdir(output):
        return os.path.join(output, "vfxkey" + suffix.replace(".", "_", 1))
    stem = re.sub(r"[._]?(#+|%0?\d*d|@+)", "", os.path.splitext(output)[0])
    return stem + suffix


class _PreviousFrames:
    """The shot's input frames just before each keyed frame, for the temporal filter.

    The frames a run has read are kept; the ones before a run's first frame (another
    chunk's) are read from the shot, so every chunk gives the keyer the same frames.
    Only frames with consecutive numbers and the same data window count: a gap or a
    change of window ends the window of frames.
    """

    def __init__(self, shot: Source | None, count: int) -> None:
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

