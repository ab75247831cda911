"""Procedural training data with exact alpha for the toy latent-diffusion model.

Every sample is one element over one background, 64x64 pixels, with its caption:

- **Elements** (straight colour, exact alpha from 4x4 supersampled coverage): a ``disc`` and a
  ``star`` (hard edges), a ``ring`` (a hole), a ``ball`` and a ``blob`` (soft edges, shaded),
  a ``bubble`` (semi-transparent inside, opaque rim, a highlight), a ``cloud`` (smoke: soft,
  semi-transparent throughout); balls, blobs and discs can have ``hair`` (thin strands of
  partial coverage around the edge).
- **Colours** of elements: red, orange, yellow, pink, purple, blue, white, black, brown, grey.
  No element is green: green is the key colour this model is used to generate on.
- **Backgrounds**: a solid named colour with a faint gradient and grain (the caption says
  "on a <colour> background"), or, unnamed in the caption, a two-colour gradient, a texture
  or clutter (rectangles and discs) in random colours.
- **Placement**: the element's centre within 9 px of the frame's centre (``centre``, the
  default and what ``toy-ldm`` was trained on) or anywhere that keeps its disc in the frame
  (``anywhere``); see :data:`PLACEMENTS`.
- **Captions** from a small vocabulary: "a red star", "a yellow ball with hair on a green
  background", ...; :data:`VOCABULARY` lists every word.

Compositing is done in scene-linear light (``I = a F + (1 - a) B``, linear Rec.709) and the
image is then sRGB-encoded (the VAE's input space) with the standard sRGB curve.

Sample ``i`` of split ``s`` is a pure function of ``(seed, s, i)``: ``numpy.random.default_rng``
seeded with ``[seed, SPLITS.index(s), i]``, so the training and held-out splits never share
a random stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 64           # pixels, square
SUPERSAMPLE = 4     # coverage is rendered at SIZE * SUPERSAMPLE and area-averaged
SPLITS = ("train", "heldout")
# Where an element's centre goes: "centre" within 9 px of the frame's centre on each axis (the
# first toy models); "anywhere" uniform over every position that keeps the element's disc of
# ``radius`` inside the frame, so the model learns no fixed position (``follow`` needs that).
PLACEMENTS = ("centre", "anywhere")

# sRGB-encoded 8-bit colours. Green and blue backgrounds are the chroma colours vfxkey keys on.
ELEMENT_COLOURS = {
    "red": (205, 35, 35), "orange": (240, 135, 25), "yellow": (240, 210, 45), "pink": (240, 130, 185),
    "purple": (130, 55, 175), "blue": (40, 80, 215), "white": (235, 235, 235), "black": (25, 25, 25),
    "brown": (120, 75, 40), "grey": (128, 128, 128),
}
BACKGROUND_COLOURS = {
    "green": (0, 177, 64), "blue": (0, 71, 187), "white": (240, 240, 240), "black": (15, 15, 15),
    "grey": (120, 120, 120), "red": (190, 30, 30), "yellow": (235, 205, 40), "pink": (235, 140, 190),
    "purple": (120, 50, 165), "orange": (235, 130, 30),
}
SHAPES = ("disc", "star", "ring", "ball", "blob", "bubble", "cloud")
HAIRY = ("disc", "ball", "blob")
BACKGROUND_KINDS = ("named", "gradient", "texture", "clutter")
VOCABULARY = sorted({"a", "an", "with", "hair", "on", "background", *ELEMENT_COLOURS, *BACKGROUND_COLOURS, *SHAPES})


@dataclass
class Sample:
    """One training image and what made it."""

    image: np.ndarray       # (SIZE, SIZE, 3) uint8, sRGB-encoded composite
    alpha: np.ndarray       # (SIZE, SIZE) float32 0..1, the element's exact coverage
    foreground: np.ndarray  # (SIZE, SIZE, 3) float32, straight, scene-linear Rec.709
    caption: str
    shape: str
    colour: str
    background: str         # a BACKGROUND_COLOURS name, or the unnamed kind


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """The sRGB curve's inverse (IEC 61966-2-1), elementwise, 0..1 -> 0..1."""
    encoded = np.asarray(encoded, np.float32)
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB curve (IEC 61966-2-1), elementwise; input clipped to 0..1."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def _colour(rgb8: tuple[int, int, int]) -> np.ndarray:
    return srgb_to_linear(np.array(rgb8, np.float32) / 255.0)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Band-limited noise in about -1..1: ``cells`` x ``cells`` random values, bicubic up to ``size``."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC) / 1.5


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in output pixels at ``size`` samples across."""
    c = (np.arange(size, dtype=np.float32) + 0.5) * SIZE / size
    return np.meshgrid(c, c)


def _coverage(mask: np.ndarray) -> np.ndarray:
    """Area-average a supersampled 0..1 mask down to SIZE x SIZE."""
    return cv2.resize(mask.astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_AREA)


# --- elements ------------------------------------------------------------------------------

def _element_alpha(shape: str, hair: bool, rng: np.random.Generator, cx: float, cy: float,
                   radius: float) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha, shading)`` at SIZE x SIZE; shading multiplies the element's colour (about 0.6..1.3)."""
    n = SIZE * SUPERSAMPLE
    x, y = _grid(n)
    dx, dy = x - cx, y - cy
    d = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx)
    shading = np.ones((n, n), np.float32)
    if shape in ("disc", "ring"):
        fine = (d <= radius).astype(np.float32)
        if shape == "ring":
            fine *= d >= radius * rng.uniform(0.4, 0.6)
    elif shape == "star":
        points, inner, turn = int(rng.integers(5, 7)), rng.uniform(0.4, 0.55), rng.uniform(0, 2 * np.pi)
        angles = turn + np.arange(2 * points) * np.pi / points
        radii = np.where(np.arange(2 * points) % 2 == 0, radius, radius * inner)
        polygon = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1) * SUPERSAMPLE
        fine = np.zeros((n, n), np.uint8)
        cv2.fillPoly(fine, [np.round(polygon * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        fine = fine.astype(np.float32)
    elif shape in ("ball", "blob", "bubble"):
        edge = radius
        if shape == "blob":
            for k in (2, 3, 4):
                edge = edge * (1 + rng.uniform(0.04, 0.14) * np.sin(k * theta + rng.uniform(0, 2 * np.pi)))
        softness = rng.uniform(1.0, 3.0) if shape != "bubble" else 0.6
        fine = np.clip((edge - d) / softness + 0.5, 0.0, 1.0)
        # light from the top left
        shading = 1.15 - 0.45 * np.clip((dx + dy) / (1.41 * radius) * 0.5 + 0.5, 0, 1)
        if shape == "bubble":
            rim = np.clip((d - (edge - rng.uniform(1.5, 2.5))) / 0.6 + 0.5, 0, 1)
            fine = fine * (rng.uniform(0.25, 0.55) + (0.95 - 0.4) * rim)
            spot = np.hypot(dx + 0.4 * radius, dy + 0.4 * radius) < 0.18 * radius
            fine = np.where(spot & (d < edge), 0.95, fine)
            shading = np.where(spot, 3.0, shading)
    elif shape == "cloud":
        envelope = np.exp(-(d / radius) ** 2 * 1.6)
        puffs = cv2.resize(_smooth_noise(rng, SIZE, 6), (n, n), interpolation=cv2.INTER_LINEAR)
        fine = np.clip(envelope * (0.75 + 0.6 * puffs), 0, 1) * rng.uniform(0.45, 0.85)
        shading = 0.9 + 0.2 * puffs
    else:
        raise ValueError(f"unknown shape {shape!r}")
    if hair:
        strands = np.zeros((n, n), np.float32)
        for _ in range(int(rng.integers(24, 48))):
            angle = rng.uniform(0, 2 * np.pi)
            start, length = radius * rng.uniform(0.7, 0.95), radius * rng.uniform(0.35, 0.8)
            bend = rng.uniform(-0.5, 0.5)
            t = np.linspace(0, 1, 8)
            a = angle + bend * t
            r = start + length * t
            points = np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1) * SUPERSAMPLE
            cv2.polylines(strands, [np.round(points * 16).astype(np.int32)], False, 1.0,
                          thickness=int(rng.integers(2, 4)), lineType=cv2.LINE_AA, shift=4)
        fine = np.maximum(fine, np.clip(strands, 0, 1) * rng.uniform(0.7, 1.0))
        shading = np.where(strands > 0, np.minimum(shading, 0.85), shading)
    return np.clip(_coverage(fine), 0.0, 1.0), _coverage(shading)


# --- backgrounds ---------------------------------------------------------------------------

def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return srgb_to_linear(rng.uniform(0.0, 1.0, 3))


def _background(kind: str, name: str | None, rng: np.random.Generator) -> np.ndarray:
    """A ``(SIZE, SIZE, 3)`` scene-linear background of ``kind``."""
    x, y = _grid(SIZE)
    if kind == "named":
        base = _colour(BACKGROUND_COLOURS[name]) * rng.uniform(0.85, 1.1)
        direction = rng.uniform(0, 2 * np.pi)
        ramp = ((x - SIZE / 2) * np.cos(direction) + (y - SIZE / 2) * np.sin(direction)) / SIZE
        image = base * (1 + rng.uniform(0.0, 0.25) * ramp)[..., None]
    elif kind == "gradient":
        a, b = _random_colour(rng), _random_colour(rng)
        direction = rng.uniform(0, 2 * np.pi)
        t = np.clip(((x - SIZE / 2) * np.cos(direction) + (y - SIZE / 2) * np.sin(direction)) / SIZE + 0.5, 0, 1)
        image = a * (1 - t[..., None]) + b * t[..., None]
    elif kind == "texture":
        image = _random_colour(rng) * (1 + 0.35 * _smooth_noise(rng, SIZE, int(rng.integers(4, 16))))[..., None]
    elif kind == "clutter":
        image = np.broadcast_to(_random_colour(rng), (SIZE, SIZE, 3)).copy()
        for _ in range(int(rng.integers(3, 9))):
            colour = tuple(float(c) for c in _random_colour(rng))
            x0, y0 = rng.integers(0, SIZE, 2)
            if rng.random() < 0.5:
                w, h = rng.integers(6, 30, 2)
                cv2.rectangle(image, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), colour, -1)
            else:
                cv2.circle(image, (int(x0), int(y0)), int(rng.integers(3, 14)), colour, -1)
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
    else:
        raise ValueError(f"unknown background kind {kind!r}")
    grain = rng.normal(0.0, 0.008, (SIZE, SIZE, 3)).astype(np.float32)
    return np.clip(image + grain, 0.0, 1.0).astype(np.float32)


# --- one sample ----------------------------------------------------------------------------

def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption_for(colour: str, shape: str, hair: bool = False, background: str | None = None) -> str:
    """``"a red star"``, ``"an orange ball with hair on a green background"``, ..."""
    words = [_article(colour), colour, shape] + (["with", "hair"] if hair else [])
    if background is not None:
        words += ["on", _article(background), background, "background"]
    return " ".join(words)


def render_element(rng: np.random.Generator, shape: str, colour: str, hair: bool,
                   centre: tuple[float, float], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """One element: ``(foreground, alpha)``, straight scene-linear ``(SIZE, SIZE, 3)`` and ``(SIZE, SIZE)``."""
    alpha, shading = _element_alpha(shape, hair, rng, centre[0], centre[1], radius)
    base = _colour(ELEMENT_COLOURS[colour]) * rng.uniform(0.85, 1.1)
    grain = 1 + 0.04 * _smooth_noise(rng, SIZE, 12)
    foreground = np.clip(base * (shading * grain)[..., None], 0.0, 1.0)
    return foreground.astype(np.float32), alpha.astype(np.float32)


def make_sample(seed: int, split: str, index: int, placement: str = "centre") -> Sample:
    """Sample ``index`` of ``split`` ("train" or "heldout") with the element's centre placed by
    ``placement`` (one of :data:`PLACEMENTS`); a pure function of its arguments."""
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    shape = SHAPES[rng.integers(len(SHAPES))]
    colour = list(ELEMENT_COLOURS)[rng.integers(len(ELEMENT_COLOURS))]
    hair = shape in HAIRY and rng.random() < 0.35
    radius = rng.uniform(11.0, 22.0) * (0.8 if hair else 1.0)
    if placement == "centre":
        centre = tuple(SIZE / 2 + rng.uniform(-9.0, 9.0, 2))
    elif placement == "anywhere":
        centre = tuple(rng.uniform(radius, SIZE - radius, 2))
    else:
        raise ValueError(f"unknown placement {placement!r}")
    foreground, alpha = render_element(rng, shape, colour, hair, centre, radius)

    kind = BACKGROUND_KINDS[rng.choice(len(BACKGROUND_KINDS), p=[0.45, 0.2, 0.15, 0.2])]
    name = None
    if kind == "named":
        names = [n for n in BACKGROUND_COLOURS if n != colour]
        name = names[rng.integers(len(names))]
    background = _background(kind, name, rng)

    composite = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    image = np.round(linear_to_srgb(composite) * 255.0).astype(np.uint8)
    return Sample(image=image, alpha=alpha, foreground=foreground, caption=caption_for(colour, shape, hair, name),
                  shape=shape, colour=colour, background=name or kind)
