"""Deadline 10 jobs for the CommandLine plugin: prepare, render (chunked), finalize.

Each job is a ``*_job_info.job`` + ``*_plugin_info.job`` pair of ``Key=Value`` lines
(UTF-8). ``submit.sh`` (POSIX shell) and ``submit.bat`` (Windows) run
``deadlinecommand -SubmitMultipleJobs -dependent -job A_job_info A_plugin_info -job ...``,
which submits them with each job depending on the one before; submitted any other way
the jobs do not depend on each other.

The render job has ``Frames`` and ``ChunkSize``; the plugin replaces ``<STARTFRAME>``
and ``<ENDFRAME>`` in its arguments with each task's first and last frame, which for a
stepped or listed shot span frames the shot skips: the task runs ``render --within A-B``
(the shot's frames from A to B), printing ``Progress: N%`` lines (``VFXKEY_PROGRESS``
in the job's environment). The plugin starts ``Executable`` with ``Arguments`` as
one command line (no shell), split by the Windows/.NET rules: arguments are quoted with
``subprocess.list2cmdline``, which follows them. It also replaces ``<QUOTE>`` and the
frame tokens anywhere in ``Arguments``, and curly double quotes: a path holding one is
refused, as is a line break (no ``Key=Value`` line holds one).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from vfxkey.farm.job import ShotJob
from vfxkey.io.files import atomic_output

# What the CommandLine plugin would replace inside a path in Arguments.
_PLUGIN_TOKENS = re.compile(r"(?i)<(?:QUOTE|STARTFRAME|ENDFRAME)(?:%\d+)?>|[\u201c\u201d]")


def _info_text(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def _outputs(patterns: list[str]) -> dict[str, str]:
    """``OutputDirectoryN``/``OutputFilenameN``: the Monitor's "view output" (``####`` padding)."""
    values = {}
    for index, pattern in enumerate(patterns):
        values[f"OutputDirectory{index}"], values[f"OutputFilename{index}"] = os.path.split(pattern)
    return values


def jobs(job: ShotJob) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """``(name, job_info, plugin_info)`` for prepare, render and finalize, in submission order."""
    job.refuse(_PLUGIN_TOKENS, "is replaced by Deadline's CommandLine plugin anywhere in Arguments")

    def plugin(args: list[str]) -> dict[str, str]:
        return {"Executable": job.command, "Arguments": subprocess.list2cmdline(args), "ShellExecute": "False"}

    controls = job.controls
    batch = f"vfxkey {job.name}"
    common = {"Plugin": "CommandLine", "BatchName": batch, "EnvironmentKeyValue0": "VFXKEY_PROGRESS=deadline"}
    for key, value in (("Priority", controls.priority), ("Pool", controls.pool), ("Group", controls.group),
                       ("LimitGroups", ",".join(controls.limits)), ("TaskTimeoutMinutes", controls.timeout)):
        if value:
            common[key] = str(value)
    if controls.retries is not None:  # errors a task may have before it is marked failed
        common |= {"OverrideTaskFailureDetection": "True", "FailureDetectionTaskErrors": str(controls.retries + 1)}
    single = {**common, "Frames": str(job.frames.first), "ChunkSize": "1"}
    sequences = [p for p in job.outputs if "#" in os.path.basename(p)]
    finished = [p for p in job.outputs if p not in sequences]
    return [
        ("prepare", {**single, "Name": f"{batch} prepare"}, plugin(job.prepare_args(job.spec_path))),
        ("render", {**common, "Name": f"{batch} render", "Frames": str(job.frames), "ChunkSize": str(job.chunk),
                    **_outputs(sequences)},
         plugin(job.render_args(job.spec_path, "<STARTFRAME>-<ENDFRAME>", within=True))),
        ("finalize", {**single, "Name": f"{batch} finalize", **_outputs(finished)},
         plugin(job.finalize_args(job.spec_path))),
    ]


def _bat_quote(arg: str) -> str:
    """One argument of a ``.bat`` line: in double quotes (``& | < > ^`` are literal there),
    ``%`` doubled (cmd expands it even in quotes), backslashes before the closing quote
    doubled (the .NET split rules). Windows paths cannot hold ``"``."""
    return '"' + re.sub(r"(\\+)$", r"\1\1", arg).replace("%", "%%") + '"'


def write_jobs(job: ShotJob, folder: str | os.PathLike) -> list[str]:
    """Write the three jobs' info files, ``submit.sh`` and ``submit.bat`` into ``folder``;
    return the files."""
    written, submit = [], ["deadlinecommand", "-SubmitMultipleJobs", "-dependent"]
    folder = Path(folder).absolute()
    for name, job_info, plugin_info in jobs(job):
        files = []
        for kind, values in (("job_info", job_info), ("plugin_info", plugin_info)):
            path = folder / f"{name}_{kind}.job"
            with atomic_output(path) as tmp:
                Path(tmp).write_text(_info_text(values), encoding="utf-8")
            files.append(str(path))
        submit += ["-job", *files]
        written += files
    note = "Submits prepare, render and finalize, each depending on the one before (-dependent)."
    scripts = {
        "submit.sh": f"#!/bin/sh\n# {note}\nexec {shlex.join(submit)}\n",
        "submit.bat": f"@echo off\r\nrem {note}\r\n{' '.join(_bat_quote(a) for a in submit)}\r\n",
    }
    for name, text in scripts.items():
        path = folder / name
        with atomic_output(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8", newline="")
            os.chmod(tmp, 0o755)
        written.append(str(path))
    return written
