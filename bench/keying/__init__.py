"""Keying benchmark: vfxkey's keyer against the peers users already run (issue 3)."""
