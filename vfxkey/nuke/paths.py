"""Where Nuke finds the files vfxkey wrote: absolute paths, or relative to a studio root.

A render node and an artist's workstation rarely mount a show at the same place
(``/mnt/show`` here, ``Z:/show`` on Windows, ``$SHOW`` in the studio's environment). A
:class:`PathMap` lists ``(local prefix, Nuke prefix)`` pairs, first match wins:

- the local prefix is a folder as vfxkey sees it (made absolute);
- the Nuke prefix is what a Nuke script should say instead: a folder (``Z:/show``,
  ``//server/share/show``) or a TCL expression Nuke evaluates in file knobs
  (``[getenv SHOW]``; :data:`SCRIPT_FOLDER` makes paths relative to the ``.nk`` itself).

A path under no prefix is written absolute. Nuke wants forward slashes everywhere,
Windows drive letters included (``C:/plates/a.####.exr``). Frame tokens (``####``,
``%04d``) pass through untouched.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from vfxkey.errors import VfxkeyError

# The folder of the script being evaluated: paths after it move with the .nk.
SCRIPT_FOLDER = "[file dirname [value root.name]]"

# Characters Nuke would evaluate when it reads a file knob (a [command], a $variable), or
# that cannot be written in one.
_EVALUATED = re.compile(r"[\[\]$\n\r]")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def nuke_slashes(path: str) -> str:
    """``C:\\plates\\a.exr`` -> ``C:/plates/a.exr``; UNC ``\\\\srv\\share`` -> ``//srv/share``."""
    return str(path).replace("\\", "/")


@dataclass(frozen=True)
class PathMap:
    """Ordered ``(local prefix, Nuke prefix)`` pairs; see the module docstring."""

    entries: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for local, nuke_prefix in self.entries:
            if not str(local).strip() or not str(nuke_prefix).strip():
                raise VfxkeyError(f"nuke path map: empty prefix in {local!r} = {nuke_prefix!r}")

    def nuke_path(self, path: str) -> str:
        """The file knob value Nuke should read ``path`` (a local path or pattern) from.

        Raises:
            VfxkeyError: the path holds ``[``, ``]``, ``$`` or a line break, which Nuke
                would evaluate as TCL.
        """
        path = str(path)
        if _WINDOWS_DRIVE.match(path) or path.startswith("\\\\"):
            return _checked(path, nuke_slashes(path))  # already a Windows path for Nuke
        local = os.path.abspath(path)
        for prefix, nuke_prefix in self.entries:
            prefix = os.path.abspath(prefix)
            if local == prefix or local.startswith(prefix.rstrip(os.sep) + os.sep):
                rest = os.path.relpath(local, prefix)
                rest = "" if rest == "." else nuke_slashes(rest)
                return nuke_slashes(nuke_prefix).rstrip("/") + "/" + _checked(path, rest)
        return _checked(path, nuke_slashes(local))


def _checked(original: str, part: str) -> str:
    """``part`` (literal path text) if Nuke will read it as written, else a one-line error."""
    bad = _EVALUATED.search(part)
    if bad:
        raise VfxkeyError(
            f"{original}: Nuke evaluates {bad[0]!r} in file paths as TCL; "
            "rename the file or folder, or map its folder with a [nuke] path map"
        )
    return part
