"""vfxkey: keyed elements for VFX compositing.

Data flows one way: ``io`` (read, colour) -> ``generate`` -> ``matte`` -> ``comp``
-> ``io`` (write) -> ``farm``; the ``cli`` is a thin layer over these stages.
"""

__version__ = "0.1.0"
