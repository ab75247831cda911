"""Open Job Description (jobtemplate-2023-09) job bundles, as AWS Deadline Cloud submits them.

A bundle is a folder with ``template.yaml`` (the job template) and
``parameter_values.yaml`` (values for its job parameters). Steps: ``Prepare``, then
``Render`` with one task per chunk (a STRING task parameter ``Frames`` whose values are
the chunks' ranges), then ``Finalize``. Commands are ``command`` + ``args`` lists, which
OpenJD runs without a shell; ``openjd check`` validates and ``openjd run`` runs a bundle
locally.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from vfxkey.errors import VfxkeyError
from vfxkey.farm.job import ShotJob
from vfxkey.io.files import atomic_output

SPEC_VERSION = "jobtemplate-2023-09"


def _action(args: list[str]) -> dict:
    return {"actions": {"onRun": {"command": "{{Param.Vfxkey}}", "args": args}}}


def job_template(job: ShotJob) -> dict:
    """The job template as a dict (YAML-ready)."""
    spec = "{{Param.ShotSpec}}"
    return {
        "specificationVersion": SPEC_VERSION,
        "name": f"vfxkey {job.name}",
        "parameterDefinitions": [
            {"name": "ShotSpec", "type": "PATH", "objectType": "FILE", "dataFlow": "IN",
             "description": "The shot spec (shot.toml) to render.", "default": job.spec_path},
            {"name": "Vfxkey", "type": "STRING", "description": "The vfxkey command on the worker hosts.",
             "default": job.command},
        ],
        "steps": [
            {"name": "Prepare", "script": _action(job.prepare_args(spec))},
            {"name": "Render", "dependencies": [{"dependsOn": "Prepare"}],
             "parameterSpace": {"taskParameterDefinitions": [
                 {"name": "Frames", "type": "STRING", "range": [str(c) for c in job.chunks]}]},
             "script": _action(job.render_args(spec, "{{Task.Param.Frames}}"))},
            {"name": "Finalize", "dependencies": [{"dependsOn": "Render"}],
             "script": _action(job.finalize_args(spec))},
        ],
    }


def check_template(template: dict) -> None:
    """Validate with openjd-model; VfxkeyError with its message otherwise."""
    from openjd.model import DecodeValidationError, decode_job_template

    try:
        decode_job_template(template=template)
    except DecodeValidationError as exc:
        raise VfxkeyError(f"the OpenJD template does not validate: {exc}") from None


def write_bundle(job: ShotJob, folder: str | os.PathLike) -> list[str]:
    """Write the job bundle into ``folder``; return the files written."""
    template = job_template(job)
    check_template(template)
    values = {"parameterValues": [{"name": "ShotSpec", "value": job.spec_path},
                                  {"name": "Vfxkey", "value": job.command}]}
    written = []
    for name, document in (("template.yaml", template), ("parameter_values.yaml", values)):
        path = Path(folder) / name
        with atomic_output(path) as tmp:
            Path(tmp).write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        written.append(str(path))
    return written
