"""Open Job Description (jobtemplate-2023-09) job bundles, as AWS Deadline Cloud submits them.

A bundle is a folder with

- ``template.yaml``: the job template. Job parameters: ``ShotFolder`` (PATH, a DIRECTORY
  read by the job: the folder of the shot spec), ``OutputFolder`` (PATH, a DIRECTORY the
  job writes: the deepest folder holding every output), ``Vfxkey`` (the command on the
  worker hosts) and ``CondaPackages`` (what a service-managed fleet's conda queue
  environment installs, as the public deadline-cloud-samples bundles name it). The path
  parameters carry no default: OpenJD wants defaults relative and inside the bundle.
- ``parameter_values.yaml``: the values as Deadline Cloud reads them (``parameterValues``);
- ``openjd_parameters.yaml``: the same values as ``openjd run -p file://...`` reads them;
- ``asset_references.yaml``: every input of the shot (plate, the input sequence's folder,
  models), so job attachments upload those outside the shot folder too.

Steps: ``Prepare``, then ``Render`` with one task per chunk (a STRING task parameter
``Frames`` whose values are the chunks' frame lists), then ``Finalize``; each with
``hostRequirements`` (CPUs and memory when set, a GPU for the Render of a generate or
edit shot). Commands are ``command`` + ``args`` lists, which OpenJD runs without a shell;
each passes the session's path mapping rules (``--path-mapping``) so absolute paths in the
spec are mapped as the session maps the job's path parameters;
the job environment sets ``VFXKEY_PROGRESS=openjd`` so a task prints ``openjd_progress``
lines. ``openjd check`` validates and ``openjd run`` runs a bundle locally.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from vfxkey.errors import VfxkeyError
from vfxkey.farm.job import ShotJob, output_folder
from vfxkey.io.files import atomic_output

SPEC_VERSION = "jobtemplate-2023-09"


def _action(args: list[str]) -> dict:
    """Run vfxkey with ``args``, the session's path mapping rules applied to the spec's absolute paths."""
    return {"actions": {"onRun": {"command": "{{Param.Vfxkey}}",
                                  "args": ["--path-mapping", "{{Session.PathMappingRulesFile}}", *args]}}}


def _host_requirements(job: ShotJob, gpu: bool) -> dict | None:
    amounts = []
    if job.threads:
        amounts.append({"name": "amount.worker.vcpu", "min": job.threads})
    if job.controls.memory:
        amounts.append({"name": "amount.worker.memory", "min": round(job.controls.memory * 1024)})  # MiB
    if gpu:
        amounts.append({"name": "amount.worker.gpu", "min": 1})
    return {"amounts": amounts} if amounts else None


def job_template(job: ShotJob) -> dict:
    """The job template as a dict (YAML-ready)."""
    spec_name = os.path.basename(job.spec_path)
    if "{" in spec_name or "}" in spec_name:
        raise VfxkeyError(f"{job.spec_path}: OpenJD reads '{{' and '}}' in a template as format strings; "
                          "rename the spec")
    spec = "{{Param.ShotFolder}}/" + spec_name
    steps = [
        {"name": "Prepare", "script": _action(job.prepare_args(spec))},
        {"name": "Render", "dependencies": [{"dependsOn": "Prepare"}],
         "parameterSpace": {"taskParameterDefinitions": [
             {"name": "Frames", "type": "STRING", "range": [str(c) for c in job.chunks]}]},
         "script": _action(job.render_args(spec, "{{Task.Param.Frames}}"))},
        {"name": "Finalize", "dependencies": [{"dependsOn": "Render"}], "script": _action(job.finalize_args(spec))},
    ]
    for step in steps:
        requirements = _host_requirements(job, gpu=job.mode != "key" and step["name"] == "Render")
        if requirements:
            step["hostRequirements"] = requirements
    return {
        "specificationVersion": SPEC_VERSION,
        "name": f"vfxkey {job.name}",
        "parameterDefinitions": [
            {"name": "ShotFolder", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "IN",
             "description": f"The shot's folder, holding {spec_name}."},
            {"name": "OutputFolder", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "OUT",
             "description": "The folder the shot's outputs are written under (brought back by job attachments)."},
            {"name": "Vfxkey", "type": "STRING", "description": "The vfxkey command on the worker hosts.",
             "default": job.command},
            {"name": "CondaPackages", "type": "STRING", "default": "",
             "description": "Conda packages a service-managed fleet's queue environment installs (e.g. vfxkey)."},
        ],
        "jobEnvironments": [{"name": "vfxkey", "variables": {"VFXKEY_PROGRESS": "openjd"}}],
        "steps": steps,
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
    shot_folder = os.path.dirname(job.spec_path)
    values = {"ShotFolder": shot_folder, "OutputFolder": output_folder(job), "Vfxkey": job.command}
    assets = {"assetReferences": {"inputs": {
        "filenames": [p for p in job.inputs if not os.path.isdir(p)],
        "directories": [p for p in job.inputs if os.path.isdir(p)]}}}
    documents = {
        "template.yaml": template,
        "parameter_values.yaml": {"parameterValues": [{"name": k, "value": v} for k, v in values.items()]},
        "openjd_parameters.yaml": values,
        "asset_references.yaml": assets,
    }
    written = []
    for name, document in documents.items():
        path = Path(folder) / name
        with atomic_output(path) as tmp:
            Path(tmp).write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(str(path))
    return written
