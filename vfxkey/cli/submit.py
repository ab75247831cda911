"""``vfxkey submit``: write a render-farm job for a shot."""

from __future__ import annotations

import click

from vfxkey.cli.words import load_shot
from vfxkey.shot.spec import ShotSpec
from vfxkey.cli.progress import note

ENGINES = ("openjd", "deadline", "opencue")
# Options only some engines have, and those engines.
ENGINE_OPTIONS = {"pool": ("deadline",), "group": ("deadline",), "limit": ("deadline",),
                  "show": ("opencue",), "user": ("opencue",), "uid": ("opencue",), "job_name": ("opencue",)}


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
@click.option("--engine", type=click.Choice(ENGINES), required=True,
              help="openjd: an Open Job Description job bundle (AWS Deadline Cloud; `openjd run` runs it "
                   "locally); deadline: Deadline 10 CommandLine jobs and submit.sh / submit.bat; opencue: an "
                   "OpenCue job spec (XML) for opencue.api.launchSpec.")
@click.option("--chunk", type=click.IntRange(min=1), default=10, show_default=True, metavar="N",
              help="Frames per render task.")
@click.option("-o", "--output", "job_dir", required=True, metavar="JOBDIR", help="Folder to write the job into.")
@click.option("--command", "vfxkey_command", default="vfxkey", show_default=True, metavar="PATH",
              help="The vfxkey command as the farm's hosts find it.")
@click.option("--threads", type=click.IntRange(min=1), metavar="N",
              help="Threads per render task, and the CPUs it asks for (default: the cores the farm gives it).")
@click.option("--memory", type=click.FloatRange(min=0, min_open=True), metavar="GiB",
              help="Memory a task needs (OpenCue layer memory, OpenJD host requirement).")
@click.option("--priority", type=click.IntRange(min=0), metavar="N", help="Job priority (engine's scale).")
@click.option("--retries", type=click.IntRange(min=0), metavar="N", help="Retries of a failed task.")
@click.option("--timeout", type=click.IntRange(min=1), metavar="MINUTES", help="A task running longer fails.")
@click.option("--pool", metavar="NAME", help="Deadline pool.")
@click.option("--group", metavar="NAME", help="Deadline group.")
@click.option("--limit", multiple=True, metavar="NAME", help="Deadline limit (repeatable).")
@click.option("--show", metavar="NAME", help="OpenCue show (must exist in cuebot; required for opencue).")
@click.option("--user", metavar="NAME", help="OpenCue user (default: you; never root).")
@click.option("--uid", type=click.IntRange(min=1), metavar="N", help="OpenCue uid the frames run as.")
@click.option("--job-name", metavar="NAME",
              help="OpenCue job name (default vfxkey_<date>_<time>: cuebot refuses a name already pending).")
def submit(spec_path: str, engine: str, chunk: int, job_dir: str, vfxkey_command: str, threads: int | None,
           memory: float | None, priority: int | None, retries: int | None, timeout: int | None, pool: str | None,
           group: str | None, limit: tuple[str, ...], show: str | None, user: str | None, uid: int | None,
           job_name: str | None) -> None:
    """Write a farm job for SHOT.toml into JOBDIR: a prepare task (the shot's screen), render
    tasks of CHUNK frames each, and a finalize task (movie, QC report, Nuke script) that
    depends on all of them. Every step runs `vfxkey` with an argument list, quoted by the
    engine's own rules (never through a shell of ours); a path the engine would read
    differently is refused here, naming the rule. See docs/farm.md.
    """
    from vfxkey.farm import deadline, openjd, opencue
    from vfxkey.farm.job import Controls, ShotJob

    given = {"pool": pool, "group": group, "limit": limit, "show": show, "user": user, "uid": uid,
             "job_name": job_name}
    for name, value in given.items():
        if value and engine not in ENGINE_OPTIONS[name]:
            raise click.UsageError(f"--{name.replace('_', '-')} is an option of --engine "
                                   f"{' / '.join(ENGINE_OPTIONS[name])}, not {engine}")
    if engine == "opencue" and not show:
        raise click.UsageError("--engine opencue needs --show (a show cuebot has)")
    controls = Controls(priority=priority, retries=retries, timeout=timeout, memory=memory, pool=pool, group=group,
                        limits=limit, show=show, user=user, uid=uid, job_name=job_name)
    spec = load_shot(spec_path)
    check_nuke_paths(spec)
    job = ShotJob.of(spec, chunk, command=vfxkey_command, threads=threads, controls=controls)
    writer = {"openjd": openjd.write_bundle, "deadline": deadline.write_jobs, "opencue": opencue.write_spec}[engine]
    for path in writer(job, job_dir):
        note(f"vfxkey submit: wrote {path}")


def check_nuke_paths(spec: ShotSpec) -> None:
    """Paths the shot's Nuke script would evaluate as TCL (``[``, ``$`` ...), refused when
    the job is written rather than at finalize, after every frame has rendered."""
    if spec.outputs.nuke:
        from vfxkey.nuke.shot import spec_path_map

        path_map = spec_path_map(spec)
        for path in filter(None, (spec.plate.path if spec.plate else None, spec.outputs.element, spec.outputs.comp,
                                  spec.outputs.movie)):
            path_map.nuke_path(path)
