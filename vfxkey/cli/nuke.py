"""``vfxkey nuke``: the Nuke comp script (or the paste-in snippet) of a shot."""

from __future__ import annotations

import click

from vfxkey.cli.progress import note, warn
from vfxkey.errors import VfxkeyError


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
@click.option("-o", "--output", metavar="COMP.nk",
              help="Script to write (default: the shot's [outputs] nuke, else SHOT_FOLDER/<name>.nk; "
                   "with --snippet the same name + _snippet).")
@click.option("--snippet", is_flag=True,
              help="Write only the element Read (+ Transform) and Merge2 over, for pasting onto a "
                   "selected plate in an open comp (Edit > Paste, or nuke.nodePaste).")
@click.option("--root", metavar="PREFIX",
              help="Write paths under the shot folder relative to this Nuke-side prefix: a folder "
                   "(Z:/shows/abc/sh010), '[getenv SHOT_ROOT]' (+ a folder), or "
                   "'[file dirname [value root.name]]' (relative to the script itself, with .. where "
                   "needed). Default: the spec's [nuke] root.")
@click.option("--map", "path_maps", metavar="LOCAL=NUKE", multiple=True,
              help="Studio path map: paths under LOCAL are written under NUKE (repeatable; first match "
                   "wins; --root, then these, then the spec's [nuke] root and path_map).")
@click.option("--nuke-version", type=click.Choice(["14", "15", "16", "17"]),
              help="Nuke version the script is for (default: the spec's [nuke] version, else 14). 14-16 "
                   "name the ACES 1.3 studio config Nuke 14, 15 and 16 carry (fn-nuke_studio-config-v1.0.0); "
                   "17 the v2.2.0 studio config (OCIO 2.4). See docs/nuke.md.")
@click.option("--ocio-config", metavar="FILE|URI",
              help="OCIO config the script names instead (a show's config file, or an ocio:// built-in the "
                   "Nuke version's OCIO can load). Every colour space the script names is carried over into it "
                   "by name, alias or role, or refused.")
@click.option("--allow-tcl", is_flag=True,
              help="Allow path prefixes (--root, --map, the spec's [nuke] root and path_map) holding other "
                   "TCL than [getenv NAME] and the script-folder form. Nuke runs that TCL whenever it reads "
                   "a path: only for prefixes you wrote yourself.")
@click.option("--allow-missing", is_flag=True,
              help="Write the script even if files its Reads need are missing or not vfxkey's (warns).")
def nuke(spec_path: str, output: str | None, snippet: bool, root: str | None, path_maps: tuple[str, ...],
         nuke_version: str | None, ocio_config: str | None, allow_tcl: bool, allow_missing: bool) -> None:
    """Write a Nuke 14+ comp script for a rendered shot: Root (frame range, fps, format,
    OCIO colour management), Reads of the plate and of the premultiplied element EXRs,
    the placement as a Transform, Merge2 over (A = element, B = plate), an EXR Write of the
    comp (half float, RGBA) and, when the shot has a movie, a ProRes 4444 Write, inside a
    backdrop labelled with the shot, mode, settings and vfxkey version.

    Every file the Reads point at must exist (element EXRs with vfxkey's metadata); the
    error lists the frames that do not.
    """
    from vfxkey.nuke.paths import live_tcl
    from vfxkey.nuke.shot import LiveTclError, spec_path_map, write_shot_script
    from vfxkey.cli.words import load_shot

    spec = load_shot(spec_path)
    entries = [(str(spec.folder), root)] if root else []
    for item in path_maps:
        local, sep, nuke_prefix = item.partition("=")
        if not sep or not local or not nuke_prefix:
            raise VfxkeyError(f"bad --map {item!r}: give LOCAL=NUKE, e.g. /mnt/show=Z:/show")
        entries.append((local, nuke_prefix))
    for _, nuke_prefix in entries:
        if live_tcl(nuke_prefix) and not allow_tcl:
            raise VfxkeyError(f"{nuke_prefix!r} holds TCL Nuke would run whenever it reads a path; give "
                              "[getenv NAME], '[file dirname [value root.name]]' or a folder, or add --allow-tcl")
    try:
        path_map = spec_path_map(spec, tuple(entries), allow_tcl=allow_tcl)
    except LiveTclError as exc:
        raise VfxkeyError(f"{exc} (or add --allow-tcl)") from None
    written = write_shot_script(spec, output, snippet=snippet, path_map=path_map,
                                ocio_config=ocio_config, nuke_version=int(nuke_version) if nuke_version else None,
                                check=not allow_missing, warn=warn)
    note(f"vfxkey nuke: wrote {written}")
