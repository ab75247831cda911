"""Nuke's script syntax (TCL-like): quoting values and writing numbers.

A knob value goes through two TCL evaluations, and each has its own escaping:

1. **When the script is loaded**, Nuke parses ``knob "value"`` like a TCL word in double
   quotes: ``\\`` starts an escape, ``[`` would run a command and ``$`` substitute a
   variable; braces must balance inside a node's ``{...}`` body. :func:`quote` escapes
   all of these (and ``"``, newlines), so the knob receives exactly the text given, e.g. ``file "\\[getenv SHOW]/plate.####.exr"`` gives the knob
   ``[getenv SHOW]/plate.####.exr``.
2. **When the knob is used**, Nuke evaluates ``[...]`` (and ``$``) in file paths and
   labels: that is how ``[getenv SHOW]`` or ``[file dirname [value root.name]]`` make a
   path relative to a studio root or to the script. :func:`literal` escapes text that must
   be shown as it is (a label holding a prompt with ``[brackets]``). File paths do not go
   through :func:`literal`: ``vfxkey.nuke.paths`` refuses ``[``, ``]`` and ``$`` in them.
"""

from __future__ import annotations

from fractions import Fraction

_SCRIPT_ESCAPES = {"\\": "\\\\", '"': '\\"', "[": "\\[", "$": "\\$", "{": "\\{", "}": "\\}",
                   "\n": "\\n", "\t": "\\t"}
_KNOB_ESCAPES = {"\\": "\\\\", "[": "\\[", "]": "\\]", "$": "\\$"}


def quote(value: str) -> str:
    """``value`` as one double-quoted script word that loads back as exactly ``value``."""
    return '"' + "".join(_SCRIPT_ESCAPES.get(c, c) for c in str(value)) + '"'


def literal(text: str) -> str:
    """Knob text that Nuke shows as ``text`` itself (no ``[command]`` or ``$variable`` runs)."""
    return "".join(_KNOB_ESCAPES.get(c, c) for c in str(text))


def number(value: float | int | Fraction) -> str:
    """A number as Nuke writes it: integers bare, others to 15 significant digits."""
    if isinstance(value, int) or (isinstance(value, (float, Fraction)) and value == int(value)):
        return str(int(value))
    return format(float(value), ".15g")
