"""vfxkey: keyed elements for VFX compositing.

Data flows one way: ``io`` (read, colour) -> ``generate`` / ``matte`` -> ``comp`` -> ``io``
(write). ``shot`` runs a chunk of a shot through them; ``farm`` (job files, the local pool)
and ``nuke`` (comp scripts) build on ``shot``; the ``cli`` is a thin layer over all of
these. Imports point down these layers only (docs/ARCHITECTURE.md, tests/test_layers.py).
"""

__version__ = "0.1.0"
