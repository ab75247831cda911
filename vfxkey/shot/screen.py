"""The shot's screen: measured once on the shot's reference frames, stored beside the outputs.

A keyed shot is keyed against one screen (``matte.greenpost.Screen``), so every chunk, on
any machine, keys its frames alike. :func:`prepare` measures it on the reference frames
(``[element] screen_frames``, default the shot's first frame, or the input's first when
the shot is the whole input), never a chunk's, and stores it as ``<element stem>.screen.json``.

The stored screen carries the hash of everything :func:`~vfxkey.matte.greenpost.measure_screen`
reads (:func:`measurement`): the reference frames (input, frame numbers, the files' content,
input colour space, working space) and every keyer setting it uses. A later run reads it back only when that
hash is the same; any change measures it again and replaces it. ``Screen.source`` says
where it was measured, for people; it is no part of the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from threadpoolctl import threadpool_limits

from vfxkey.errors import InputError, VfxkeyError
from vfxkey.io.files import atomic_output
from vfxkey.io.identity import inputs_hash
from vfxkey.io.sequence import FrameRange
from vfxkey.io.source import Source
from vfxkey.matte.greenpost import Screen, measure_screen
from vfxkey.shot import qc as qc_records
from vfxkey.matte.failures import keying
from vfxkey.shot.inputs import open_input
from vfxkey.shot.settings import relative, settings_hash
from vfxkey.shot.spec import KeyElement, ShotSpec, shot_config

KEY_FIELD = "settings_hash"  # the field of a stored screen holding the hash of its measurement


def screen_path(spec: ShotSpec) -> str:
    """Where the shot's screen is stored: beside the element, ``<element stem>.screen.json``."""
    return qc_records.beside(spec.outputs.element, "screen.json")


def measurement(spec: ShotSpec, source: Source, reference: FrameRange) -> dict:
    """Everything the screen measured on ``reference`` frames of ``source`` depends on: the
    frames' pixels (input, frame numbers, the files' content, input colour space, working
    space) and the keyer settings ``measure_screen`` reads (all but ``temporal``, which it
    turns off)."""
    element: KeyElement = spec.element
    keyer = {name: value for name, value in asdict(element.keyer).items() if name != "temporal"}
    return {"input": relative(element.input, spec), "frames": str(reference),
            "content": inputs_hash(source.file_of(frame) for frame in reference),
            "input_colorspace": source.info.colorspace, "working_space": spec.working_space, **keyer}


@shot_config
def prepare(spec: ShotSpec, *, warn: Callable[[str], None] | None = None,
            source: Source | None = None) -> Screen | None:
    """The shot's screen: measured on its reference frames and stored, or read back; returned.

    A stored screen whose measurement hash is this shot's is read back instead of measured
    (delete it to measure again). ``screen_from`` names a stored screen to use as it is.
    Generated and edited elements (each frame keyed on its own) and folders of unrelated
    stills have no shot screen: None. ``source`` is the shot's input when the caller has it
    open already (it is opened otherwise).
    """
    element = spec.element
    if not isinstance(element, KeyElement):
        return None
    if element.screen_from:
        return load_screen(element.screen_from, spec.working_space)
    source = source or open_input(spec, spec.frames, warn)
    if source.info.kind == "stills":
        return None
    reference = element.screen_frames or FrameRange.of([source.info.frames[0]])
    key = settings_hash(measurement(spec, source, reference))
    path = screen_path(spec)
    try:
        stored, stored_key = _read(path)
        if stored_key == key:
            return stored
    except (OSError, VfxkeyError, TypeError):
        pass  # absent, not ours or from an older vfxkey: measured again (below) and replaced
    frames = f"frame {reference}" if len(reference) == 1 else f"frames {reference}"
    measured_on = f"{relative(element.input, spec)} ({frames}), screen {element.screen_text}"
    frames = list(open_input(spec, reference, warn))
    size = frames[0].data_window.width, frames[0].data_window.height
    with keying(element.input, reference.first, size, what="measuring the screen on"), threadpool_limits(1):
        images = [frame.rgb for frame in frames]  # 8-bit codes become float32 here (Frame.rgb), inside the guard
        screen = measure_screen(images, element.keyer, working_space=spec.working_space, source=measured_on)
    data = json.loads(screen.to_json())
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps({**data, KEY_FIELD: key}, indent=1))
    return screen


def load_screen(path: str, working_space: str) -> Screen:
    """The Screen stored in ``path``; VfxkeyError naming the file when it is not one for this working space."""
    try:
        screen, _ = _read(path)
    except VfxkeyError as exc:
        raise exc.located(path) from None
    except (OSError, TypeError) as exc:
        raise InputError(str(exc), path=path) from None
    if screen.working_space != working_space:
        raise VfxkeyError(f"{path}: the screen is in {screen.working_space}, the shot in {working_space} "
                          f"(set the working space to {screen.working_space!r})")
    return screen


def _read(path: str) -> tuple[Screen, str | None]:
    """The Screen stored in ``path`` and the hash of its measurement (None when it has none)."""
    text = Path(path).read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return Screen.from_json(text), None  # raises, saying what is wrong
    key = data.pop(KEY_FIELD, None) if isinstance(data, dict) else None
    return Screen.from_json(json.dumps(data)), key
