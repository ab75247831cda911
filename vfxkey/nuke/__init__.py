"""Nuke comp scripts for vfxkey's shots.

- ``comp.py``: :class:`NukeComp`, the validated description of one comp script;
- ``script.py``: the ``.nk`` writer (whole comp, or the element snippet for pasting);
- ``tcl.py``: quoting for Nuke's TCL-like syntax; ``paths.py``: studio path maps;
- ``check.py``: the Read-side check (files exist and carry vfxkey metadata);
- ``shot.py``: a shot spec -> :class:`NukeComp`, and the script ``vfxkey finalize`` writes.

The code that runs inside Nuke is the separate top-level ``nuke_bridge`` package, which
imports nothing from here: it runs the ``vfxkey`` command.
"""
