"""Where Nuke finds the files vfxkey wrote: absolute paths, or relative to a studio root.

A render node and an artist's workstation rarely mount a show at the same place
(``/mnt/show`` here, ``Z:/show`` on Windows, ``$SHOW`` in the studio's environment). A
:class:`PathMap` lists ``(local prefix, Nuke prefix)`` pairs, first match wins:

- the local prefix is a folder as vfxkey sees it: a POSIX folder (made absolute), or a
  Windows one (``Z:\\show``, ``\\\\server\\share``), matched without regard to case or slash;
- the Nuke prefix is what a Nuke script should say instead: a folder (``Z:/show``,
  ``//server/share/show``), ``[getenv NAME]`` (+ a folder under it), or
  :data:`SCRIPT_FOLDER`, which writes paths relative to the ``.nk`` itself (with ``..``
  where needed: the map must know the script's folder, :meth:`PathMap.for_script`).

A Nuke prefix is live TCL: Nuke runs every ``[command]`` in it whenever it reads the path.
:func:`live_tcl` says when a prefix holds more than the two forms above; a spec may not
(``vfxkey.nuke.shot.spec_path_map``).

A path under no prefix is written absolute. Nuke wants forward slashes everywhere,
Windows drive letters included (``C:/plates/a.####.exr``). Nuke reads ``####`` and
``%04d`` as frame numbers, so vfxkey's ``@@@@`` is written ``####``, and a folder name
holding ``#`` or ``%d`` is refused, as is a backslash in a POSIX name (Nuke reads it as a
folder separator) and anything Nuke would evaluate (``[``, ``]``, ``$``).
"""

from __future__ import annotations

import ntpath
import os
import re
from dataclasses import dataclass, replace

from vfxkey.errors import VfxkeyError

# The folder of the script being evaluated: paths after it move with the .nk.
SCRIPT_FOLDER = "[file dirname [value root.name]]"

# Characters Nuke would evaluate when it reads a file knob (a [command], a $variable), or
# that cannot be written in one.
_EVALUATED = re.compile(r"[\[\]$\n\r]")
_WINDOWS = re.compile(r"^([A-Za-z]:[\\/]|\\\\|//)")
# The TCL a prefix may start with without an opt-in: an environment variable, the script's folder.
_KNOWN_TCL = re.compile(r"^(\[getenv [A-Za-z_][A-Za-z0-9_]*\]|" + re.escape(SCRIPT_FOLDER) + ")")
# What Nuke reads as a frame number in a file name (folders must not hold one).
_NUKE_FRAME_TOKEN = re.compile(r"#|%0?\d*d")


def nuke_slashes(path: str) -> str:
    """``C:\\plates\\a.exr`` -> ``C:/plates/a.exr``; UNC ``\\\\srv\\share`` -> ``//srv/share``."""
    return str(path).replace("\\", "/")


def is_windows_path(path: str) -> bool:
    """Whether ``path`` is a Windows drive-letter or UNC path (whatever the OS here)."""
    return bool(_WINDOWS.match(str(path)))


def live_tcl(prefix: str) -> bool:
    """Whether Nuke prefix ``prefix`` holds TCL beyond a leading ``[getenv NAME]`` or
    :data:`SCRIPT_FOLDER` (e.g. ``[exec ...]``, ``$env(X)``, ``[getenv A][exec b]``)."""
    return bool(_EVALUATED.search(_KNOWN_TCL.sub("", str(prefix), count=1)))


@dataclass(frozen=True)
class PathMap:
    """Ordered ``(local prefix, Nuke prefix)`` pairs; see the module docstring.

    ``script_folder``: the local folder the ``.nk`` is written to; with it, paths under a
    :data:`SCRIPT_FOLDER` entry are written relative to the script."""

    entries: tuple[tuple[str, str], ...] = ()
    script_folder: str | None = None

    def __post_init__(self) -> None:
        for local, nuke_prefix in self.entries:
            if not str(local).strip() or not str(nuke_prefix).strip():
                raise VfxkeyError(f"nuke path map: empty prefix in {local!r} = {nuke_prefix!r}")

    def for_script(self, script: str | os.PathLike) -> PathMap:
        """This map for a script written to ``script``."""
        return replace(self, script_folder=os.path.dirname(os.path.abspath(script)))

    def nuke_path(self, path: str) -> str:
        """The file knob value Nuke should read ``path`` (a local path or pattern) from.

        Raises:
            VfxkeyError: the path holds something Nuke would evaluate or misread (see the
                module docstring).
        """
        path = str(path)
        windows = is_windows_path(path)
        local = _windows_norm(path) if windows else os.path.abspath(path)
        if not windows and "\\" in local:
            raise VfxkeyError(f"{path}: Nuke reads a backslash as a folder separator; rename the file or folder")
        folder, name = (ntpath if windows else os.path).split(local)
        if _NUKE_FRAME_TOKEN.search(folder):
            raise VfxkeyError(f"{path}: Nuke would read the '#' or '%d' in a folder name as a frame number; "
                              "rename the folder")
        name = re.sub(r"@+(?!.*@)", lambda m: "#" * len(m[0]), name)  # vfxkey's @@@@ is Nuke's ####
        local = (ntpath if windows else os.path).join(folder, name)
        for prefix, nuke_prefix in self.entries:
            rest = _under(local, str(prefix), windows)
            if rest is None:
                continue
            if nuke_prefix == SCRIPT_FOLDER and self.script_folder is not None and not windows:
                rest = os.path.relpath(local, self.script_folder)
            return nuke_slashes(nuke_prefix).rstrip("/") + "/" + _checked(path, nuke_slashes(rest))
        return _checked(path, nuke_slashes(local))


def _windows_norm(path: str) -> str:
    """A Windows path with ``\\`` separators, ``.``/``..`` resolved (UNC kept)."""
    return ntpath.normpath(path.replace("/", "\\"))


def _under(local: str, prefix: str, windows: bool) -> str | None:
    """``local`` relative to folder ``prefix`` ("" for the folder itself), or None if it is
    not under it. Windows paths compare without regard to case (as Windows does)."""
    if windows != is_windows_path(prefix):
        return None
    if windows:
        prefix = _windows_norm(prefix).rstrip("\\")
        if local.casefold() == prefix.casefold():
            return ""
        if local.casefold().startswith(prefix.casefold() + "\\"):
            return local[len(prefix) + 1:]
        return None
    prefix = os.path.abspath(prefix)
    if local == prefix or local.startswith(prefix.rstrip(os.sep) + os.sep):
        rest = os.path.relpath(local, prefix)
        return "" if rest == "." else rest
    return None


def _checked(original: str, part: str) -> str:
    """``part`` (literal path text) if Nuke will read it as written, else a one-line error."""
    bad = _EVALUATED.search(part)
    if bad:
        raise VfxkeyError(
            f"{original}: Nuke evaluates {bad[0]!r} in file paths as TCL; "
            "rename the file or folder, or map its folder with a [nuke] path map"
        )
    return part
