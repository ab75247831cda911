"""A shot spec as a Nuke comp: :func:`shot_comp` (spec -> :class:`NukeComp`) and
:func:`write_shot_script`, which ``vfxkey nuke`` and ``vfxkey finalize`` call.

What the script shows is what ``vfxkey render`` did (``vfxkey.shot.run``):

- **plate**: the spec's plate as vfxkey reads it (its colour space: the spec's, else what
  the file records, else by data type); with ``reformat = "element"`` it is stretched to
  the element's size, which is then the comp's format. A shot without a plate leaves the
  Merge's B unconnected, on the element's format;
- **element**: the element EXRs (premultiplied; the colour space they record, else the
  shot's working space); they are written unplaced, so the placement is always a Transform;
- **placement**: vfxkey places the element's pivot ``(px, py)`` (default its centre) at
  ``position`` (comp pixels from the top-left, y down), scales about the pivot and rotates
  counter-clockwise as seen. Nuke measures from the bottom-left with y up, so the
  Transform's ``center`` is ``(px, h - py)``, ``translate = (x - px, H - y - (h - py))``,
  ``rotate`` and ``scale`` as they are. One
  key per frame that keys anything, so Nuke's linear curves pass through vfxkey's;
- **writes**: Nuke renders its own comp beside vfxkey's, with ``_nuke`` added to the name
  (``comp.####.exr`` -> ``comp_nuke.####.exr``, and the movie likewise), so rendering the
  script never overwrites what vfxkey made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

from vfxkey import __version__
from vfxkey.errors import VfxkeyError
from vfxkey.io.colour import CONFIG_URI, DISPLAY_SPACE, carry_over, config_source
from vfxkey.io.colour import config as processing_config
from vfxkey.io.images import read_header
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange, frame_path, scan_frames
from vfxkey.nuke.check import comp_problems
from vfxkey.nuke.comp import Footage, Format, NukeComp, Placement, PlacementKey
from vfxkey.nuke.ocio import DEFAULT_NUKE_VERSION, load_config, nuke_target, script_config
from vfxkey.nuke.paths import SCRIPT_FOLDER, PathMap, live_tcl
from vfxkey.nuke.script import write_script
from vfxkey.shot.spec import EditElement, KeyElement, ShotSpec, shot_config


@shot_config
def shot_comp(spec: ShotSpec, *, path_map: PathMap | None = None, ocio_config: str | None = None,
              nuke_version: int | None = None) -> NukeComp:
    """The Nuke comp of ``spec`` for ``nuke_version`` (default: the spec's ``[nuke] version``,
    else 14), naming ``ocio_config`` (default: the show's config when vfxkey processes with
    one, else the config that version carries; see ``vfxkey.nuke.ocio``); the element's
    size and version come from its first EXR on disk (else from the spec: the key input's
    size, or the generate size).

    Every colour space vfxkey used is carried over into the script's config by name, alias
    or role; one without a match there is a :class:`VfxkeyError` naming the node, the name
    and the config.
    """
    try:
        target = nuke_target(nuke_version or spec.nuke.version or DEFAULT_NUKE_VERSION)
    except VfxkeyError as exc:
        if nuke_version:
            raise
        raise VfxkeyError(f"{spec.path or spec.name}: [nuke] version: {exc}") from None
    show_config = config_source() if config_source() != CONFIG_URI else None  # the show's, when it has one
    config = script_config(target, ocio_config or show_config)
    in_script = _colorspace_namer(config)
    if spec.frames is None:
        raise VfxkeyError(f"{spec.path or spec.name}: [shot] frames is missing")
    plate, plate_size = _plate_footage(spec) if spec.plate is not None else (None, None)
    element_format, element_header = _element_format(spec)
    reformat = spec.plate is not None and spec.plate.reformat == "element"
    canvas = plate_size if plate is not None and not reformat else element_format
    if plate is not None:
        plate = replace(plate, colorspace=in_script("Read_plate", plate.colorspace))
    element_space = str((element_header or {}).get("vfxkey:colorspace", spec.working_space))
    return NukeComp(
        shot=spec.name,
        frames=spec.frames,
        fps=Fraction(spec.fps) if spec.fps else _recorded_fps(element_header),
        format=canvas,
        ocio_config=config,
        nuke_version=target.version,
        working_space=in_script("Root workingSpaceLUT", spec.working_space),
        plate=plate,
        element=Footage(spec.outputs.element, "sequence", spec.frames, element_format,
                        in_script("Read_element", element_space), premultiplied=True, vfxkey=True),
        placement=placement_of(spec, element_format, canvas),
        plate_reformat=canvas if reformat else None,
        comp_write=nuke_render_path(spec.outputs.comp or os.path.join(
            os.path.dirname(spec.outputs.element), f"{spec.name}_comp.####.exr")),
        compression=spec.outputs.compression,
        prores_write=nuke_render_path(spec.outputs.movie) if spec.outputs.movie else None,
        prores_colorspace=_review_space(in_script),
        mode=spec.element.mode,
        settings=_settings(spec),
        version=str((element_header or {}).get("vfxkey:version", __version__)),
        path_map=path_map or spec_path_map(spec),
    )


def _colorspace_namer(config: str) -> Callable[[str, str], str]:
    """``(node, name) -> name in config``: vfxkey's colour space ``name`` as the script's
    ``config`` calls it (see :func:`vfxkey.io.colour.carry_over`), else a one-line error."""
    source, target = processing_config(), load_config(config)

    def in_script(node: str, name: str) -> str:
        found = carry_over(name, source, target)
        if found is None:
            raise VfxkeyError(f"{node}: colour space {name!r} has no match (by name, alias or role) "
                              f"in the OCIO config {config}")
        return found
    return in_script


def _review_space(in_script: Callable[[str, str], str]) -> str:
    """The colour space of the script's ProRes Write: the sRGB encoding, the same code values
    as vfxkey's review display and view (``sRGB - Display`` / ``Un-tone-mapped``); named
    ``sRGB Encoded Rec.709 (sRGB)`` in the v2 configs, ``sRGB - Texture`` in v1.0.0's."""
    try:
        return in_script("Write_prores", DISPLAY_SPACE)
    except VfxkeyError:
        return in_script("Write_prores", "sRGB - Texture")


def spec_path_map(spec: ShotSpec, first: tuple[tuple[str, str], ...] = (), *, allow_tcl: bool = False) -> PathMap:
    """``first`` (e.g. from the command line), then the spec's ``[nuke]`` root (for the
    spec's folder) and path map.

    A spec is data that farm jobs and other people edit, so its prefixes may hold only
    ``[getenv NAME]``, the script-folder form or literal folders: any other TCL, which Nuke
    would run whenever it reads a path, is refused unless ``allow_tcl``.
    """
    table = spec.nuke
    named = ([("root", table.root)] if table.root else []) + [("path_map", p) for _, p in table.path_map]
    for key, prefix in named:
        if live_tcl(prefix) and not allow_tcl:
            raise LiveTclError(
                f"{spec.path or spec.name}: [nuke] {key}: {prefix!r} holds TCL Nuke would run whenever it reads "
                f"a path; a spec may give only [getenv NAME], {SCRIPT_FOLDER} or a literal folder")
    root = ((str(spec.folder), table.root),) if table.root else ()
    return PathMap(tuple(first) + root + tuple(table.path_map))


class LiveTclError(VfxkeyError):
    """A spec's Nuke path prefix holds TCL beyond the allowed forms (see :func:`spec_path_map`)."""


def write_shot_script(spec: ShotSpec, output: str | None = None, *, snippet: bool = False,
                      path_map: PathMap | None = None, ocio_config: str | None = None,
                      nuke_version: int | None = None, check: bool = True,
                      warn: Callable[[str], None] | None = None) -> str:
    """Write the comp script (or the snippet) of ``spec``; return the file written.

    ``output`` defaults to ``[outputs] nuke`` (else ``<spec folder>/<shot>.nk``); a snippet
    to the same name with ``_snippet``. ``path_map`` defaults to the spec's
    (:func:`spec_path_map`). With ``check`` (the default) a script whose Reads point at
    missing or foreign files is refused, naming them; otherwise ``warn`` hears them.
    ``ocio_config`` and ``nuke_version``: see :func:`shot_comp`.
    """
    if output is None:
        output = spec.outputs.nuke or os.path.join(spec.folder, f"{spec.name}.nk")
        if snippet:
            output = re.sub(r"(\.nk)?$", "_snippet.nk", output, count=1)
    path_map = (path_map or spec_path_map(spec)).for_script(output)
    comp = shot_comp(spec, path_map=path_map, ocio_config=ocio_config, nuke_version=nuke_version)
    problems = comp_problems(comp)
    if problems and check:
        raise VfxkeyError(f"{spec.path or spec.name}: the comp would read files that are not right: "
                          + "; ".join(problems))
    if warn is not None:
        for problem in problems:
            warn(problem)
    return write_script(comp, output, snippet=snippet)


def placement_of(spec: ShotSpec, element: Format, canvas: Format) -> Placement:
    """The spec's placement as a Nuke Transform of an ``element``-sized image over ``canvas``
    (see the module docstring for the coordinate change)."""
    frames = sorted({frame for frame, _ in spec.placement.keys}) or [spec.frames.first]
    px, py = spec.placement.base.pivot or (element.width / 2.0, element.height / 2.0)
    keys = []
    for frame in frames:
        transform = spec.placement.at(frame)
        x, y = transform.position or (canvas.width / 2.0, canvas.height / 2.0)
        keys.append(PlacementKey(
            frame=frame,
            translate=(x - px, canvas.height - y - (element.height - py)),
            rotate=transform.rotation,
            scale=(transform.scale, transform.scale),
        ))
    return Placement(keys=tuple(keys), center=(px, element.height - py))


def nuke_render_path(pattern: str) -> str:
    """Where Nuke renders instead of vfxkey's ``pattern``: ``comp.####.exr`` -> ``comp_nuke.####.exr``."""
    folder, name = os.path.split(pattern)
    stem = re.match(r"^(.*?)([._]?(#+|@+|%0?\d*d))?(\.[^.]*)?$", name)
    return os.path.join(folder, f"{stem[1]}_nuke{stem[2] or ''}{stem[4] or ''}")


# --------------------------------------------------------------------------- reading the files


def _plate_footage(spec: ShotSpec) -> tuple[Footage, Format]:
    """The plate as vfxkey reads it: kind, colour space, size."""
    plate = spec.plate
    info = open_source(plate.path, working_space=spec.working_space, input_colorspace=plate.colorspace,
                       missing="black").info
    size = Format(info.width, info.height, _pixel_aspect(plate.path, info))
    frames = FrameRange.of(range(spec.frames.first, spec.frames.first + len(info.frames))) \
        if info.kind == "movie" else spec.frames
    kind = "still" if info.kind == "still" else info.kind
    return Footage(plate.path, kind, frames, size, info.colorspace), size


def _pixel_aspect(path: str, info) -> float:
    if info.kind == "movie":
        return 1.0
    first = info.frames[0] if info.kind == "sequence" else None
    return read_header(frame_path(path, first) if first is not None else path).pixel_aspect


def _element_format(spec: ShotSpec) -> tuple[Format, dict | None]:
    """The element EXRs' size (and the first one's metadata); before a render, from the spec."""
    on_disk = [f for f in scan_frames(spec.outputs.element) if f in spec.frames]
    if on_disk:
        header = read_header(frame_path(spec.outputs.element, on_disk[0]), on_disk[0])
        return Format(header.width, header.height, header.pixel_aspect), header.attributes
    if isinstance(spec.element, (KeyElement, EditElement)):
        info = open_source(spec.element.input, working_space=spec.working_space, missing="black").info
        return Format(info.width, info.height), None
    width, height = spec.element.size
    return Format(width, height), None


def _recorded_fps(attributes: dict | None) -> Fraction:
    """The element's ``FramesPerSecond`` (what the render used), else 24."""
    rate = (attributes or {}).get("FramesPerSecond")
    return Fraction(*rate) if isinstance(rate, tuple) and len(rate) == 2 and rate[1] else Fraction(24)


def _settings(spec: ShotSpec) -> tuple[tuple[str, str], ...]:
    """The settings shown on the backdrop: the element's mode-specific ones, then the keyer's."""
    element = spec.element
    if isinstance(element, EditElement):
        edit = element.settings
        shown = [("input", os.path.basename(element.input)), ("prompt", edit.prompt),
                 ("model", os.path.basename(element.model)), ("ip_adapter", os.path.basename(element.ip_adapter)),
                 ("steps", edit.steps), ("guidance", edit.guidance), ("strength", edit.strength),
                 ("ip_scale", edit.ip_scale), ("edit_ip_scale", edit.edit_ip_scale), ("key", element.key)]
        return tuple((name, str(value)) for name, value in shown)
    if isinstance(element, KeyElement):
        shown = [("input", os.path.basename(element.input)), ("screen", element.screen_text)]
    else:
        shown = [("prompt", element.prompt), ("seed", spec.seed), ("model", os.path.basename(element.model)),
                 ("size", "x".join(map(str, element.size))), ("steps", element.steps),
                 ("guidance", element.guidance), ("key", element.key)]
    keyer = element.keyer
    shown += [("despill", keyer.despill), ("despeckle", keyer.despeckle), ("denoise", keyer.denoise),
              ("refine_radius", keyer.refine_radius)]
    return tuple((name, str(value)) for name, value in shown)
