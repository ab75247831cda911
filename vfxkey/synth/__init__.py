"""Synthetic green screens and subjects shot over them, for training and testing.

``screens.py`` paints screens the way image models and studios light them (uneven light,
vignette, fabric, hue drift, spill, noise) and composites over them; ``trainset.py`` makes
the matting head's training set with it (DiffuMatting's Green100K recipe). The sample shot
and the keying benchmark build on it too. Nothing in the render path imports this package.
"""
