"""OpenCue jobs: a job spec (``.xml``, cuebot's cjsl-1.12 format, what PyOutline sends).

Layers: ``prepare`` (one frame), ``render`` (the shot's range in chunks; cuebot
replaces ``#FRAME_START#`` and ``#FRAME_END#`` with each chunk's first and last frame)
and ``finalize`` (one frame); ``LAYER_ON_LAYER`` depends make render wait for prepare
and finalize for all of render. RQD runs a layer's ``cmd`` through a POSIX shell, so
arguments are quoted with ``shlex.join``. Submit with ``cueadmin``/PyCue's
``opencue.api.launchSpec`` or CueSubmit.
"""

from __future__ import annotations

import getpass
import os
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

from vfxkey.farm.job import ShotJob
from vfxkey.io.files import atomic_output

DOCTYPE = '<!DOCTYPE spec PUBLIC "SPI Cue Specification Language" "http://localhost:8080/spcue/dtd/cjsl-1.12.dtd">'


def job_spec(job: ShotJob, *, show: str = "vfxkey", user: str | None = None) -> str:
    """The job spec XML text."""
    spec = ET.Element("spec")
    for tag, text in (("show", show), ("shot", job.name), ("user", user or getpass.getuser())):
        ET.SubElement(spec, tag).text = text
    name = f"{show}-{job.name}-vfxkey"
    job_element = ET.SubElement(spec, "job", name=name)
    ET.SubElement(job_element, "paused").text = "False"
    ET.SubElement(job_element, "maxretries").text = "2"
    layers = ET.SubElement(job_element, "layers")
    first = str(job.frames.first)
    for layer_name, kind, args, frames, chunk in (
        ("prepare", "Util", job.prepare_args(job.spec_path), first, 1),
        ("render", "Render", job.render_args(job.spec_path, "#FRAME_START#-#FRAME_END#"), str(job.frames), job.chunk),
        ("finalize", "Post", job.finalize_args(job.spec_path), first, 1),
    ):
        layer = ET.SubElement(layers, "layer", name=layer_name, type=kind)
        ET.SubElement(layer, "cmd").text = shlex.join([job.command, *args])
        ET.SubElement(layer, "range").text = frames
        ET.SubElement(layer, "chunk").text = str(chunk)
        if job.threads:
            ET.SubElement(layer, "cores").text = str(job.threads)
        services = ET.SubElement(layer, "services")
        ET.SubElement(services, "service").text = "shell"
    depends = ET.SubElement(spec, "depends")
    for waiting, on in (("render", "prepare"), ("finalize", "render")):
        depend = ET.SubElement(depends, "depend", type="LAYER_ON_LAYER", anyframe="False")
        for tag, text in (("depjob", name), ("deplayer", waiting), ("onjob", name), ("onlayer", on)):
            ET.SubElement(depend, tag).text = text
    ET.indent(spec)
    return '<?xml version="1.0"?>\n' + DOCTYPE + "\n" + ET.tostring(spec, encoding="unicode") + "\n"


def write_spec(job: ShotJob, folder: str | os.PathLike) -> list[str]:
    """Write ``<shot>.xml`` into ``folder``; return the file."""
    path = Path(folder) / f"{job.name}.xml"
    with atomic_output(path) as tmp:
        Path(tmp).write_text(job_spec(job))
    return [str(path)]
