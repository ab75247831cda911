"""``vfxkey qc``: the QC report of a rendered shot."""

from __future__ import annotations

import click

from vfxkey.cli.words import load_shot
from vfxkey.cli.progress import note


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
@click.option("-o", "--output", metavar="REPORT.html",
              help="Where to write the report; default the spec's [outputs] qc_report.")
def qc(spec_path: str, output: str | None) -> None:
    """Write the QC page of the rendered shot SHOT.toml: one self-contained HTML file
    (opens offline) with the render facts, the frames that look wrong and why, per-frame
    plots with their limits (screen colour drift, GSG, soft-alpha fraction, alpha flicker,
    spill residue) and what they mean, a per-frame table, every frame as source | alpha |
    comp (click for the full size) and a sign-off. `vfxkey finalize` writes it too.
    """
    from vfxkey.errors import VfxkeyError
    from vfxkey.shot.finalize import missing_frames
    from vfxkey.shot.report import write_report

    spec = load_shot(spec_path)
    target = output or spec.outputs.qc_report
    if target is None:
        raise VfxkeyError(f"{spec_path}: give -o report.html (the spec has no [outputs] qc_report)")
    missing = missing_frames(spec)
    if missing:
        raise VfxkeyError(f"{spec_path}: cannot report, frames are missing: "
                          + "; ".join(f"{pattern}: {frames}" for pattern, frames in missing.items()))
    note(f"vfxkey qc: wrote {write_report(spec, target)}")
