"""Make the bundled green-screen sample shot and its background plate.

Everything is procedural (no third-party pixels): a figure with a head of fine, swaying hair,
a sheer scarf and a hand moving fast enough to motion-blur, shot in linear light over an
unevenly lit green screen (gradient, vignette, fabric wrinkles and weave, hue drift), with
green spill near the subject's edges, sensor noise, and 8-bit sRGB quantisation. The screen,
spill and noise are ``vfxkey.synth.screens``'s, the sRGB encoding is OCIO's through
``vfxkey.io``.

Writes, next to this script:
    greenscreen/gs.1001.png ... gs.1010.png   640x360 8-bit sRGB frames
    plate.png                                 640x360 8-bit sRGB background plate

Deterministic: re-running writes the same files. Usage: python samples/shot010/make_sample.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert
from vfxkey.io.write import write_preview_png
from vfxkey.synth.screens import composite_over_screen, make_screen, smooth_field

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 640, 360
FIRST, COUNT = 1001, 10
SUPERSAMPLE = 3  # shapes are drawn at 3x and area-averaged, so coverage becomes soft alpha
SCREEN_SRGB8 = (62, 166, 80)  # a lit chroma-green paint


def colour(srgb8: tuple[int, int, int]) -> np.ndarray:
    """An 8-bit sRGB colour as scene-linear working-space RGB."""
    return convert(np.array(srgb8, dtype=np.uint8), DISPLAY_SPACE, WORKING_SPACE)


# The screen: one lighting setup for the whole shot (a real screen does not change per frame).
def make_green_screen() -> np.ndarray:
    """The shot's (HEIGHT, WIDTH, 3) scene-linear screen; seed 4 puts the key light right, a little high."""
    return make_screen(
        HEIGHT, WIDTH, colour(SCREEN_SRGB8), np.random.default_rng(4),
        gradient=0.35, vignette=0.25, texture=0.03, hue_drift=0.02,
    )


# The subject, drawn at SUPERSAMPLE x: a list of (coverage mask, linear colour) back to front.
def draw_subject(t: float, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    s = SUPERSAMPLE
    w, h = WIDTH * s, HEIGHT * s
    cx = int((0.42 + 0.015 * t) * w)  # the figure drifts right, 1.5 % of the frame a frame
    torso, head, hair, scarf, hand = (np.zeros((h, w), np.uint8) for _ in range(5))
    cv2.ellipse(torso, (cx, int(0.98 * h)), (int(0.17 * w), int(0.38 * h)), 0, 180, 360, 255, -1, cv2.LINE_AA)
    cv2.rectangle(torso, (cx - int(0.17 * w), int(0.98 * h)), (cx + int(0.17 * w), h), 255, -1)
    head_centre, head_axes = (cx, int(0.4 * h)), (int(0.075 * w), int(0.19 * h))
    cv2.ellipse(head, head_centre, head_axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    # Hair: curved strands from the top of the head, swaying with time.
    strand_rng = np.random.default_rng(11)  # the same strands every frame
    sway = 0.05 * np.sin(t * 0.9)
    steps = np.linspace(0, 1, 20)[:, None]
    for angle in strand_rng.uniform(-np.pi * 0.97, -np.pi * 0.03, 700):
        direction = np.array([np.cos(angle + sway), np.sin(angle + sway)])
        root = np.array(head_centre) + np.array([np.cos(angle), np.sin(angle)]) * np.array(head_axes) * 0.92
        length = strand_rng.uniform(0.06, 0.2) * h
        bend = root + direction * length / 2 + strand_rng.normal(0, 0.02 * h, 2) + [0.03 * h * np.sin(t * 0.9), 0]
        tip = root + direction * length + [0.0, 0.35 * length]  # strands fall under their weight
        curve = (1 - steps) ** 2 * root + 2 * (1 - steps) * steps * bend + steps**2 * tip
        cv2.polylines(hair, [np.round(curve).astype(np.int32)], False, 255, int(strand_rng.integers(1, 4)), cv2.LINE_AA)
    # A sheer scarf over the shoulders.
    scarf_outline = np.array([[cx - 0.2 * w, 0.62 * h], [cx + 0.2 * w, 0.6 * h], [cx + 0.24 * w, 0.8 * h], [cx - 0.23 * w, 0.82 * h]])
    cv2.fillPoly(scarf, [np.round(scarf_outline).astype(np.int32)], 140, cv2.LINE_AA)
    # A waving hand, blurred along its motion below.
    hand_x = cx + int((0.25 + 0.06 * np.sin(t * 1.3)) * w)
    cv2.ellipse(hand, (hand_x, int(0.55 * h)), (int(0.03 * w), int(0.06 * h)), 20, 0, 360, 255, -1, cv2.LINE_AA)
    shade = 1 + 0.075 * smooth_field(h, w, 10, rng)[..., None]
    return [
        (torso, colour((176, 58, 40)) * shade),
        (head, colour((226, 178, 146)) * shade),
        (hair, colour((86, 56, 36)) * shade),
        (scarf, colour((240, 226, 120)) * shade),
        (hand, colour((226, 178, 146)) * shade),
    ]


def render_subject(t: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Alpha (H, W) and premultiplied linear colour (H, W, 3) of the figure at time t."""
    layers = draw_subject(t, rng)
    alpha = np.zeros((HEIGHT, WIDTH), np.float32)
    premultiplied = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    for index, (mask, fg) in enumerate(layers):
        a = cv2.resize(mask.astype(np.float32) / 255, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        c = cv2.resize(fg, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA) * a[..., None]
        if index == len(layers) - 1:  # the hand moves fast: smear it horizontally
            kernel = np.ones((1, 17), np.float32) / 17
            a, c = cv2.filter2D(a, -1, kernel), cv2.filter2D(c, -1, kernel)
        premultiplied = c + premultiplied * (1 - a[..., None])
        alpha = a + alpha * (1 - a)
    return alpha, premultiplied


def shoot(screen: np.ndarray, alpha: np.ndarray, premultiplied: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Composite over the screen with spill near the edges and sensor noise: scene-linear."""
    straight = premultiplied / np.maximum(alpha, 1e-6)[..., None]
    # Spill 0.35 tints the hair and the scarf's edges as strongly as the benchmark's spill.
    return composite_over_screen(straight, alpha, screen, rng, spill=0.35, noise=0.001, shot_noise=1.2e-4)


def make_plate() -> np.ndarray:
    """A dusk street: sky gradient, skyline, lit windows, a road. Scene-linear."""
    rng = np.random.default_rng(3)
    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    sky = (1 - y) * colour((70, 110, 190)) + y * colour((250, 170, 120))
    plate = np.broadcast_to(sky, (HEIGHT, WIDTH, 3)).copy()
    road = int(0.8 * HEIGHT)
    x = 0
    while x < WIDTH:
        width, top = int(rng.integers(WIDTH // 14, WIDTH // 6)), int(rng.uniform(0.25, 0.6) * HEIGHT)
        plate[top:, x : x + width] = colour((40, 40, 56)) * rng.uniform(0.7, 1.3)
        for wy in range(top + 8, road - 10, 14):
            for wx in range(x + 6, x + width - 8, 12):
                if rng.random() < 0.4:
                    plate[wy : wy + 6, wx : wx + 5] = colour((255, 214, 140))
        x += width + int(rng.integers(0, WIDTH // 40))
    plate[road:] = colour((60, 58, 62))
    plate[road + 30 : road + 33, ::40] = colour((230, 230, 220))
    return cv2.GaussianBlur(plate, (0, 0), 1.2)  # a touch of defocus


def main() -> None:
    screen = make_green_screen()
    for index in range(COUNT):
        rng = np.random.default_rng(FIRST + index)
        alpha, premultiplied = render_subject(float(index), rng)
        write_preview_png(HERE / "greenscreen" / f"gs.{FIRST + index}.png", shoot(screen, alpha, premultiplied, rng))
    write_preview_png(HERE / "plate.png", make_plate())


if __name__ == "__main__":
    main()
