"""Deadline 10 jobs for the CommandLine plugin: prepare, render (chunked), finalize.

Each job is a ``*_job_info.job`` + ``*_plugin_info.job`` pair of ``Key=Value`` lines.
``deadlinecommand -SubmitMultipleJobs -dependent -job A_job_info A_plugin_info -job ...``
submits them with each job depending on the one before (written to ``submit.txt``).
The render job has ``Frames`` and ``ChunkSize``; Deadline replaces ``<STARTFRAME>`` and
``<ENDFRAME>`` in its arguments with each task's first and last frame.

The CommandLine plugin starts ``Executable`` with ``Arguments`` as one command line
(no shell), split by the Windows/.NET rules: arguments are quoted with
``subprocess.list2cmdline``, which follows them. A value holding a line break cannot be
written in a ``Key=Value`` file and is refused.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from vfxkey.errors import VfxkeyError
from vfxkey.farm.job import ShotJob
from vfxkey.io.files import atomic_output


def _info_text(values: dict[str, str]) -> str:
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise VfxkeyError(f"Deadline {key}: a value with a line break cannot be written: {value!r}")
    return "".join(f"{key}={value}\n" for key, value in values.items())


def jobs(job: ShotJob) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """``(name, job_info, plugin_info)`` for prepare, render and finalize, in submission order."""
    def plugin(args: list[str]) -> dict[str, str]:
        return {"Executable": job.command, "Arguments": subprocess.list2cmdline(args), "ShellExecute": "False",
                "StartupDirectory": os.path.dirname(job.spec_path)}

    batch = f"vfxkey {job.name}"
    single = {"Plugin": "CommandLine", "BatchName": batch, "Frames": str(job.frames.first), "ChunkSize": "1"}
    return [
        ("prepare", {**single, "Name": f"{batch} prepare"}, plugin(job.prepare_args(job.spec_path))),
        ("render", {"Plugin": "CommandLine", "BatchName": batch, "Name": f"{batch} render",
                    "Frames": str(job.frames), "ChunkSize": str(job.chunk)},
         plugin(job.render_args(job.spec_path, "<STARTFRAME>-<ENDFRAME>"))),
        ("finalize", {**single, "Name": f"{batch} finalize"}, plugin(job.finalize_args(job.spec_path))),
    ]


def write_jobs(job: ShotJob, folder: str | os.PathLike) -> list[str]:
    """Write the three jobs' info files and ``submit.txt`` into ``folder``; return the files."""
    written, submit = [], ["deadlinecommand", "-SubmitMultipleJobs", "-dependent"]
    for name, job_info, plugin_info in jobs(job):
        files = []
        for kind, values in (("job_info", job_info), ("plugin_info", plugin_info)):
            path = Path(folder) / f"{name}_{kind}.job"
            with atomic_output(path) as tmp:
                Path(tmp).write_text(_info_text(values))
            files.append(str(path))
        submit += ["-job", *files]
        written += files
    path = Path(folder) / "submit.txt"
    with atomic_output(path) as tmp:
        Path(tmp).write_text(subprocess.list2cmdline(submit) + "\n")
    return written + [str(path)]
