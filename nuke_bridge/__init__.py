"""vfxkey's Nuke bridge: put this folder on ``NUKE_PATH`` (see README.md).

Nuke does not import this package: it runs ``menu.py`` from the folder, which imports
``vfxkey_bridge`` and ``vfxkey_toml`` as top-level modules. They use the standard library
and ``nuke`` only, never ``vfxkey`` (Nuke's Python has no numpy or torch).
"""
