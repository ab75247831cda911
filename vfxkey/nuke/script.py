"""Write a :class:`~vfxkey.nuke.comp.NukeComp` as a Nuke script (``.nk``) Nuke opens as it is.

An ``.nk`` file is a list of TCL-like commands. Each node, ``Class { knob value ... }``,
takes its inputs from a stack and pushes itself: a ``Merge2`` with ``inputs 2`` takes
input 0 (**B**) from the top of the stack and input 1 (**A**) from the one below;
``set N [stack 0]`` names the top, ``push $N`` pushes it again. The comp script is
written in the order Nuke itself would:

1. **Root**: frame range, fps, format, OCIO colour management with the script's config
   (one the target Nuke version carries, or the show's; see ``vfxkey.nuke.ocio``).
2. **BackdropNode** behind the nodes, labelled with the shot, mode, settings and version.
3. **Element branch** (right column): ``Read`` of the premultiplied element EXRs, then the
   placement ``Transform`` (left out when the placement is baked into the files).
4. **Plate** (left column): ``Read`` of the plate (and a ``Reformat`` when the shot
   resizes the plate to the element). The stack now holds element, plate. A shot without
   a plate pushes an empty input instead (``push 0``): B is left for the artist to connect.
5. **Merge2 over** below the plate: B (input 0) = plate, A (input 1) = element.
6. **Writes** under the merge: the comp as half-float RGBA EXR (with the Reads' metadata),
   optionally ProRes 4444 in straight colour behind an ``Unpremult`` (as vfxkey's own
   movie); a Viewer on the merge.

The snippet (:func:`snippet_script`) is steps 3 and 5 in Nuke's copy-paste form: pasted
with a plate selected, the Merge's B input is that plate (``cut_paste_input``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vfxkey.io.files import atomic_output
from vfxkey.nuke.comp import NUKE_EXR_COMPRESSION, Footage, Format, NukeComp, Placement
from vfxkey.nuke.ocio import is_nuke_builtin
from vfxkey.nuke.tcl import literal, number, quote

PRORES_PROFILE = "ProRes 4:4:4:4 12-bit"

# Layout in node-graph units (a Read with its thumbnail is about 80 x 80; y grows down the
# DAG, so each node sits below its inputs): Reads, Transform/Reformat, Merge, Writes.
PLATE_X, ELEMENT_X, PRORES_X = 0, 220, 160
READ_Y, TRANSFORM_Y, MERGE_Y, WRITE_Y, PRORES_WRITE_Y = 0, 130, 230, 330, 430
MARGIN = 80

Knobs = list[tuple[str, str]]


def comp_script(comp: NukeComp) -> str:
    """The whole comp as ``.nk`` text (see the module docstring for the node order)."""
    lines = ["#! nuke -nx", _version_line(comp)]
    lines += _node("Root", _root_knobs(comp))
    lines += _node("BackdropNode", _backdrop_knobs(comp))
    lines += _element_branch(comp)
    if comp.plate is None:
        lines += ["push 0"]
    else:
        lines += _node("Read", _read_knobs(comp, comp.plate, "Read_plate", PLATE_X))
    if comp.plate_reformat is not None:
        lines += _node("Reformat", [("format", _format_knob(comp.plate_reformat)), ("resize", "distort"),
                                    ("name", "Reformat_plate"), *_position(PLATE_X, TRANSFORM_Y)])
    lines += _node("Merge2", _merge_knobs())
    lines += ["set N_vfxkey_merge [stack 0]"]
    lines += _node("Write", _comp_write_knobs(comp))
    if comp.prores_write is not None:
        lines += ["push $N_vfxkey_merge"]
        lines += _node("Unpremult", [("name", "Unpremult_prores"), *_position(PRORES_X, WRITE_Y)])
        lines += _node("Write", _prores_write_knobs(comp))
    lines += ["push $N_vfxkey_merge"]
    lines += _node("Viewer", [("frame_range", f"{comp.frames.first}-{comp.frames.last}"),
                              ("name", "Viewer1"), *_position(PLATE_X - 2 * MARGIN - 80, MERGE_Y)])
    return "\n".join(lines) + "\n"


def snippet_script(comp: NukeComp) -> str:
    """The element Read (+ Transform) and the Merge2 over, for pasting onto a selected plate."""
    lines = ["set cut_paste_input [stack 0]", _version_line(comp)]
    lines += _element_branch(comp)
    lines += ["push $cut_paste_input"]
    lines += _node("Merge2", _merge_knobs())
    return "\n".join(lines) + "\n"


def write_script(comp: NukeComp, path: str | os.PathLike, *, snippet: bool = False) -> str:
    """Write the comp script (or the snippet) to ``path`` atomically; return the path."""
    text = snippet_script(comp) if snippet else comp_script(comp)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- nodes


def _version_line(comp: NukeComp) -> str:
    """``version 14.0 v1``: the target Nuke version; newer versions open the script as it is."""
    return f"version {comp.nuke_version}.0 v1"


def _node(cls: str, knobs: Knobs) -> list[str]:
    return [f"{cls} {{", *(f" {name} {value}" for name, value in knobs), "}"]


def _position(x: int, y: int) -> Knobs:
    return [("xpos", str(x)), ("ypos", str(y))]


def _format_knob(fmt: Format, name: str = "") -> str:
    """Nuke's format text: ``"W H x y r t pixel_aspect name"`` (the image is the whole box)."""
    return quote(f"{fmt.width} {fmt.height} 0 0 {fmt.width} {fmt.height} {number(fmt.pixel_aspect)} {name}")


def _root_knobs(comp: NukeComp) -> Knobs:
    """Step 1. ``OCIO_config`` names one of Nuke's own configs (``fn-nuke_...``), or is
    ``custom`` with ``customOCIOConfigPath`` (an ``ocio://`` URI, or a config file through
    the path map). Spellings as Nuke writes them: ``colorManagement OCIO``, ``OCIO_config
    aces_1.2``, ``workingSpaceLUT "ACES - ACEScg"`` (Nuke-written Roots in public repositories,
    ``find_string " OCIO_config aces_1.2"``); ``customOCIOConfigPath`` is the knob Foundry's
    docs name for ``custom`` (learn.foundry.com .../using_ocio_config_files.html)."""
    if is_nuke_builtin(comp.ocio_config):
        config = [("OCIO_config", comp.ocio_config)]
    else:
        path = comp.ocio_config if comp.ocio_config.startswith("ocio://") else \
            comp.path_map.nuke_path(comp.ocio_config)
        config = [("OCIO_config", "custom"), ("customOCIOConfigPath", quote(path))]
    return [
        ("inputs", "0"),
        ("first_frame", str(comp.frames.first)),
        ("last_frame", str(comp.frames.last)),
        ("fps", number(comp.fps)),
        ("format", _format_knob(comp.format, _safe_name(f"vfxkey_{comp.shot}"))),
        ("colorManagement", "OCIO"),
        *config,
        ("workingSpaceLUT", quote(comp.working_space)),
    ]


def _backdrop_knobs(comp: NukeComp) -> Knobs:
    """Step 2: a backdrop around both columns and the writes."""
    x0, y0 = PLATE_X - MARGIN, READ_Y - MARGIN - 60
    x1, y1 = ELEMENT_X + 80 + MARGIN, WRITE_Y + 40 + MARGIN
    if comp.prores_write is not None:
        x1, y1 = max(x1, PRORES_X + 80 + MARGIN), PRORES_WRITE_Y + 40 + MARGIN
    return [
        ("inputs", "0"),
        ("name", _safe_name(f"vfxkey_{comp.shot}")),
        ("label", quote(literal(backdrop_label(comp)))),
        ("note_font_size", "20"),
        ("tile_color", "0x4a6b4aff"),
        *_position(x0, y0),
        ("bdwidth", str(x1 - x0)),
        ("bdheight", str(y1 - y0)),
    ]


def backdrop_label(comp: NukeComp) -> str:
    """The backdrop's text: shot, mode, placement, settings, vfxkey version (plain text)."""
    settings = ", ".join(f"{name}={value}" for name, value in comp.settings)
    lines = [
        f"{comp.shot}: vfxkey {comp.mode}",
        f"placement: {placement_summary(comp.placement)}",
    ]
    if settings:
        lines.append(f"settings: {settings}")
    lines.append(f"vfxkey {comp.version}".rstrip())
    return "\n".join(lines)


def placement_summary(placement: Placement) -> str:
    """``baked into the element EXRs`` or ``Transform, 3 keys 1001-1048`` (plain text)."""
    if placement.baked:
        return "baked into the element EXRs"
    keys = placement.keys
    if len(keys) == 1:
        return f"Transform, constant (key at {keys[0].frame})"
    return f"Transform, {len(keys)} keys {keys[0].frame}-{keys[-1].frame} (linear)"


def _element_branch(comp: NukeComp) -> list[str]:
    """Step 3: the element Read and, unless baked, its placement Transform."""
    lines = _node("Read", _read_knobs(comp, comp.element, "Read_element", ELEMENT_X))
    if not comp.placement.baked:
        lines += _node("Transform", _transform_knobs(comp.placement))
    return lines


def _read_knobs(comp: NukeComp, footage: Footage, name: str, x: int) -> Knobs:
    """A Read of ``footage``: file, format, frame range (``origset``), colour space, alpha."""
    knobs = [
        ("inputs", "0"),
        ("file", quote(comp.path_map.nuke_path(footage.path))),
        ("format", _format_knob(footage.format)),
    ]
    if footage.kind == "sequence":
        first, last = footage.frames.first, footage.frames.last
    else:  # a still is frame 1 held over the shot; a movie's frames count from 1
        first, last = 1, (1 if footage.kind == "still" else len(footage.frames))
    knobs += [("first", str(first)), ("last", str(last)),
              ("origfirst", str(first)), ("origlast", str(last)), ("origset", "true")]
    if footage.kind == "still":
        knobs += [("before", "hold"), ("after", "hold")]
    if footage.kind == "movie":
        knobs += [("frame_mode", quote("start at")), ("frame", quote(str(footage.frames.first)))]
    if not footage.premultiplied:
        # an RGB plate gets alpha 1, as vfxkey's own comp has; Nuke-written Reads spell it
        # "auto_alpha true" (public scripts, find_string " auto_alpha true")
        knobs += [("auto_alpha", "true")]
    knobs += [("colorspace", quote(footage.colorspace)),
              ("premultiplied", "true" if footage.premultiplied else "false"),
              ("name", name), *_position(x, READ_Y)]
    return knobs


def _transform_knobs(placement: Placement) -> Knobs:
    """The placement as a Transform: constant values, or linear curves through the keys."""
    keys = placement.keys
    frames = [key.frame for key in keys]
    return [
        ("translate", _pair([k.translate[0] for k in keys], [k.translate[1] for k in keys], frames)),
        ("rotate", _animated([k.rotate for k in keys], frames, single=True)),
        ("scale", _pair([k.scale[0] for k in keys], [k.scale[1] for k in keys], frames)),
        ("center", f"{{{number(placement.center[0])} {number(placement.center[1])}}}"),
        ("name", "Transform_placement"),
        ("label", quote(literal(placement_summary(placement)))),
        *_position(ELEMENT_X, TRANSFORM_Y),
    ]


def _animated(values: list[float], frames: list[int], single: bool = False) -> str:
    """One knob channel: a number if it never changes, else ``{curve L x1001 v ...}``
    (``L``: linear between keys; Nuke holds the end values outside them)."""
    if all(v == values[0] for v in values):
        return number(values[0])
    curve = "{curve L " + " ".join(f"x{f} {number(v)}" for f, v in zip(frames, values)) + "}"
    return "{" + curve + "}" if single else curve


def _pair(xs: list[float], ys: list[float], frames: list[int]) -> str:
    return "{" + _animated(xs, frames) + " " + _animated(ys, frames) + "}"


def _merge_knobs() -> Knobs:
    """Step 5: A (input 1, element) over B (input 0, plate)."""
    return [("inputs", "2"), ("operation", "over"), ("name", "Merge_over"),
            ("label", quote("A: element over B: plate")), *_position(PLATE_X, MERGE_Y)]


def _comp_write_knobs(comp: NukeComp) -> Knobs:
    """Step 6: the comp as half-float RGBA EXR in the working space, carrying the Reads'
    metadata (vfxkey's provenance); ``file_type`` first, since it creates the EXR knobs that
    follow. ``metadata "all metadata"`` as Nuke-written Writes spell it (public scripts,
    ``find_string ' metadata "all metadata"'``)."""
    return [
        ("channels", "rgba"),
        ("file", quote(comp.path_map.nuke_path(comp.comp_write))),
        ("file_type", "exr"),
        ("datatype", quote("16 bit half")),
        ("compression", quote(NUKE_EXR_COMPRESSION[comp.compression])),
        ("metadata", quote("all metadata")),
        ("colorspace", quote(comp.working_space)),
        ("create_directories", "true"),
        ("name", "Write_comp"),
        *_position(PLATE_X, WRITE_Y),
    ]


def _prores_write_knobs(comp: NukeComp) -> Knobs:
    """Step 6: the comp as ProRes 4444, as vfxkey's own review movie is: opaque (``rgb``;
    the ``Unpremult`` in front changes nothing where alpha is 1; Nuke-written
    ``Unpremult { name ... xpos ... ypos ... }`` in public scripts, ``find_string
    "Unpremult {"``), encoded to ``prores_colorspace`` (``sRGB Encoded Rec.709 (sRGB)``: the
    same code values as the review display and view, ``sRGB - Display`` /
    ``Un-tone-mapped``, that vfxkey's movie and PNG previews use)."""
    return [
        ("channels", "rgb"),
        ("file", quote(comp.path_map.nuke_path(comp.prores_write))),
        ("file_type", "mov"),
        ("mov64_codec", "appr"),
        ("mov_prores_codec_profile", quote(PRORES_PROFILE)),
        ("mov64_fps", number(comp.fps)),
        ("colorspace", quote(comp.prores_colorspace)),
        ("create_directories", "true"),
        ("name", "Write_prores"),
        *_position(PRORES_X, PRORES_WRITE_Y),
    ]


def _safe_name(text: str) -> str:
    """A Nuke node or format name: letters, digits and underscores, not starting with a digit."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if not name[:1].isdigit() else f"_{name}"
