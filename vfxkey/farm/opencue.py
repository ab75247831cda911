"""OpenCue jobs: a job spec (``.xml``, cuebot's cjsl-1.12 format, what PyOutline sends).

Layers: ``prepare`` (one frame), ``render`` (the shot's frames in chunks; cuebot
replaces ``#FRAMESPEC#`` with each chunk's own frame list, e.g. ``1001-1009x2`` or
``1001,1003``, which ``render --frames`` reads) and ``finalize`` (one frame), all of
type ``Util`` or ``Render``: cuebot moves a ``Post`` layer into a job of its own, where a
depend could not find it. ``LAYER_ON_LAYER`` depends make render wait for prepare and
finalize for all of render.

Cuebot's rules (``JobSpec.java``), checked when the spec is written: the show, shot
and layer names match ``[A-Za-z0-9_.-]{3,}``; the user is not root (nor uid 0); the
job's name is ``show-shot-user_<job name>`` and cuebot refuses a second launch under a
name still pending, so the default job name carries the time it was written. Cuebot
replaces its ``#TOKEN#`` words anywhere in a command, so a path holding one is refused.

RQD runs a layer's ``cmd`` through a POSIX shell (in its Docker mode inside a
double-quoted ``sh -c "..."``): arguments are quoted with ``shlex.join``, and ``$``,
backquote and backslash, which that double-quoted string would still read, are refused.
Launch the spec with ``opencue.api.launchSpec`` (``cueadmin`` has no launch), or CueGUI.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from vfxkey.errors import VfxkeyError
from vfxkey.farm.job import ShotJob
from vfxkey.io.files import atomic_output

DOCTYPE = '<!DOCTYPE spec PUBLIC "SPI Cue Specification Language" "http://localhost:8080/spcue/dtd/cjsl-1.12.dtd">'
# cuebot's NAME_REGEX (Java's \w is ASCII), applied after it turns '-' into '_'.
_NAME = re.compile(r"[A-Za-z0-9_.-]{3,}")
# What cuebot's DispatchSupportService replaces in a command, anywhere.
_CUEBOT_TOKENS = re.compile(r"#(?:ZFRAME|IFRAME|FRAME_START|FRAME_END|FRAME_CHUNK|LAYER|JOB|FRAMESPEC|FRAME)#")


def _checked_name(kind: str, name: str, setting: str) -> str:
    if not _NAME.fullmatch(name):
        raise VfxkeyError(f"OpenCue {setting} {name!r}: cuebot wants a {kind} name of at least 3 letters, digits, "
                          "'_', '.' or '-'")
    return name


def job_spec(job: ShotJob) -> str:
    """The job spec XML text."""
    controls = job.controls
    show = _checked_name("show", controls.show or "", "show")
    shot = _checked_name("shot", job.name, "shot name")
    user = controls.user or getpass.getuser()
    if user == "root" or controls.uid == 0:
        raise VfxkeyError("OpenCue user: cuebot refuses jobs launched as root; set another user")
    job_name = _checked_name("job", controls.job_name or time.strftime("vfxkey_%Y%m%d_%H%M%S"), "job name")
    job.refuse(_CUEBOT_TOKENS, "is a word cuebot replaces anywhere in a command")
    job.refuse("$`\\", "would be read by the shell in RQD's Docker mode (the command sits in double quotes)")

    spec = ET.Element("spec")
    for tag, text in (("show", show), ("shot", shot), ("user", user), ("uid", controls.uid)):
        if text is not None:
            ET.SubElement(spec, tag).text = str(text)
    job_element = ET.SubElement(spec, "job", name=job_name)
    ET.SubElement(job_element, "paused").text = "False"
    if controls.priority is not None:
        ET.SubElement(job_element, "priority").text = str(controls.priority)
    ET.SubElement(job_element, "maxretries").text = str(2 if controls.retries is None else controls.retries)
    layers = ET.SubElement(job_element, "layers")
    first = str(job.frames.first)
    for layer_name, kind, args, frames, chunk in (
        ("prepare", "Util", job.prepare_args(job.spec_path), first, 1),
        ("render", "Render", job.render_args(job.spec_path, "#FRAMESPEC#"), str(job.frames), job.chunk),
        ("finalize", "Util", job.finalize_args(job.spec_path), first, 1),
    ):
        layer = ET.SubElement(layers, "layer", name=layer_name, type=kind)
        ET.SubElement(layer, "cmd").text = shlex.join([job.command, *args])
        ET.SubElement(layer, "range").text = frames
        ET.SubElement(layer, "chunk").text = str(chunk)
        if job.threads:
            ET.SubElement(layer, "cores").text = str(job.threads)
        if controls.memory:
            ET.SubElement(layer, "memory").text = f"{round(controls.memory * 1024)}m"
        if job.mode != "key" and layer_name == "render":
            ET.SubElement(layer, "gpus").text = "1"
        if controls.timeout:
            ET.SubElement(layer, "timeout").text = str(controls.timeout)
        services = ET.SubElement(layer, "services")
        ET.SubElement(services, "service").text = "shell"
    depends = ET.SubElement(spec, "depends")
    for waiting, on in (("render", "prepare"), ("finalize", "render")):
        depend = ET.SubElement(depends, "depend", type="LAYER_ON_LAYER", anyframe="False")
        for tag, text in (("depjob", job_name), ("deplayer", waiting), ("onjob", job_name), ("onlayer", on)):
            ET.SubElement(depend, tag).text = text
    ET.indent(spec)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE + "\n" + ET.tostring(spec, encoding="unicode") + "\n"


def write_spec(job: ShotJob, folder: str | os.PathLike) -> list[str]:
    """Write ``<shot>.xml`` (UTF-8) into ``folder``; return the file."""
    path = Path(folder) / f"{job.name}.xml"
    text = job_spec(job)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return [str(path)]
