"""``vfxkey submit``: write a render-farm job for a shot."""

from __future__ import annotations

import click

from vfxkey.shot.spec import load_spec

ENGINES = ("openjd", "deadline", "opencue")


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
@click.option("--engine", type=click.Choice(ENGINES), required=True,
              help="openjd: an Open Job Description job bundle (AWS Deadline Cloud; `openjd run` runs it "
                   "locally); deadline: Deadline 10 CommandLine jobs; opencue: an OpenCue job spec (XML).")
@click.option("--chunk", type=click.IntRange(min=1), default=10, show_default=True, metavar="N",
              help="Frames per render task.")
@click.option("-o", "--output", "job_dir", required=True, metavar="JOBDIR", help="Folder to write the job into.")
@click.option("--command", "vfxkey_command", default="vfxkey", show_default=True, metavar="PATH",
              help="The vfxkey command as the farm's hosts find it.")
@click.option("--threads", type=click.IntRange(min=1), metavar="N",
              help="Threads per render task (default: the core count the farm gives the task).")
def submit(spec_path: str, engine: str, chunk: int, job_dir: str, vfxkey_command: str, threads: int | None) -> None:
    """Write a farm job for SHOT.toml into JOBDIR: a prepare task (the shot's screen), render
    tasks of CHUNK frames each, and a finalize task (movie, QC report, Nuke script) that
    depends on all of them. Every step runs `vfxkey` with an argument list, quoted by the
    engine's own rules (never through a shell of ours).
    """
    from vfxkey.farm import deadline, openjd, opencue
    from vfxkey.farm.job import ShotJob

    job = ShotJob.of(load_spec(spec_path), chunk, command=vfxkey_command, threads=threads)
    writer = {"openjd": openjd.write_bundle, "deadline": deadline.write_jobs, "opencue": opencue.write_spec}[engine]
    for path in writer(job, job_dir):
        click.echo(f"vfxkey submit: wrote {path}", err=True)
