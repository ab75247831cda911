"""Build the keying test sets: subjects with known alpha shot over realistic chroma screens.

Each case is one 8-bit sRGB image (what a camera or an image model hands the keyer) with
its truth: alpha (H, W) and premultiplied scene-linear colour (H, W, 3) = fg * alpha (+ noise).

Recipe per case, in linear light, all but the last step by ``vfxkey.synth.screens`` (the
screens the matting head trains on and the bundled sample is shot over; ../shared/data/SOURCES.md):
1. screen (``make_screen``): a chroma colour (studio greens, the "generated" green sRGB
   (8,162,24) that image models paint for "#00FF00", blues) lit unevenly: a brightness
   gradient with a broad swell (15-35 %), a vignette (15-35 %), fabric wrinkles and weave
   (2-4 % std), and a slow hue drift per channel (2.5 % std);
2. spill (``composite_over_screen``): near the subject's edge (and wherever alpha is soft)
   the screen colour bleeds into the foreground, in proportion to the screen seen within
   about 1 % of the image diagonal (strength 0.3-0.8);
3. composite ``fg * alpha + screen * (1 - alpha)``;
4. sensor noise (read noise 0.002 + shot noise 2e-4..6e-4 per linear unit), then 8-bit sRGB
   quantisation through OCIO (``vfxkey.io.colour``, as ``vfxkey`` reads the PNG back).
The truth colour is the foreground before spill (removing spill is part of keying) plus the
photo's own noise (denoising is not: see make_case).

Sets:
- ``dev``: the 9 alphamatting.com training photos (real objects, measured alpha; Rhemann et
  al., CVPR 2009), each over one green (cycling through the greens) and one blue screen.
  Foreground colour is ``fg_estimated`` (pymatting's estimate from the photo and true alpha).
- ``heldout``: no other real images with measured alpha are available here: shared/data has
  only the dev split, pymatting's wheel (the one matting package at hand) ships no images,
  and other data cannot be downloaded. So the held-out subjects are procedural, rendered at 4x
  and area-downsampled so coverage gives fractional alpha: hair strands on a head, a spiky
  plant, a semi-transparent veil, a motion-blurred object; over other screen colours and
  seeds. They test generalisation beyond the 9 photos, not real-photo realism.
- ``heldout_photos``: built as ``dev`` from real photos with measured alpha other than the
  dev split, once they are in ``../shared/data/alphamatting_heldout/`` (``alpha/`` and
  ``image/`` as in alphamatting_dev; ``fg_estimated/`` is made with pymatting when absent),
  each over one held-out green and the held-out blue. Not there yet: run.py builds and
  reports it as soon as the folder exists.

Deterministic: every random draw comes from a generator seeded by the case index.
Written to bench/out/keying/<set>/<case>.npz (image, alpha, premultiplied, and the exact
unmix against the true screen: ``Case``) plus a PNG of the input; nothing here goes into git.

Usage: python -m bench.keying.build_set [--set dev|heldout|heldout_photos|all]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pymatting import estimate_foreground_ml

from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert, display_8bit
from vfxkey.synth.screens import composite_over_screen, make_screen, smooth_field, spill_share

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data" / "alphamatting_dev"
HELDOUT_PHOTOS = REPO / ".." / "shared" / "data" / "alphamatting_heldout"
OUT = REPO / "bench" / "out" / "keying"


@dataclass(frozen=True)
class Screen:
    name: str
    srgb8: tuple[int, int, int]  # the paint's colour as an 8-bit sRGB value, evenly lit
    family: str  # "green" | "blue": which channel the screen is

    @property
    def linear(self) -> np.ndarray:
        """The evenly lit colour, scene-linear in the working space."""
        return convert(np.array(self.srgb8, dtype=np.uint8), DISPLAY_SPACE, WORKING_SPACE)


DEV_GREENS = (
    Screen("studio_green", (62, 166, 80), "green"),
    Screen("dark_green", (30, 120, 50), "green"),
    Screen("generated_green", (8, 162, 24), "green"),
)
DEV_BLUE = Screen("studio_blue", (24, 64, 176), "blue")
HELDOUT_SCREENS = (
    Screen("digicomp_green", (20, 178, 70), "green"),
    Screen("generated_green", (8, 162, 24), "green"),
    Screen("chroma_blue", (10, 72, 190), "blue"),
    Screen("pale_green", (96, 180, 100), "green"),
)


@dataclass
class Case:
    name: str
    screen: Screen
    image: np.ndarray  # (H, W, 3) uint8 sRGB: the keyer's input
    alpha: np.ndarray  # (H, W) float32 truth
    premultiplied: np.ndarray  # (H, W, 3) float32 truth, scene-linear, premultiplied
    # What a perfect unmix of the image against its true screen gives: the spill read as
    # transparency, alpha (1 - k) and fg alpha (1 - k) with k the spill share (+ noise).
    # The image alone cannot tell the two apart where no opaque pixel of the same colour
    # is near (a sheer veil): bench/keying/run.py prints its errors as a reference row.
    unmixed_alpha: np.ndarray
    unmixed_premultiplied: np.ndarray

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / f"{self.name}.npz",
            image=self.image,
            alpha=self.alpha,
            premultiplied=self.premultiplied,
            unmixed_alpha=self.unmixed_alpha,
            unmixed_premultiplied=self.unmixed_premultiplied,
            screen=np.array(self.screen.srgb8, dtype=np.uint8),
            family=self.screen.family,
        )
        cv2.imwrite(str(folder / f"{self.name}.png"), self.image[..., ::-1])


def load_case(path: Path) -> Case:
    data = np.load(path)
    screen = Screen(path.stem.split("__")[-1], tuple(int(v) for v in data["screen"]), str(data["family"]))
    return Case(path.stem, screen, data["image"], data["alpha"], data["premultiplied"],
                data["unmixed_alpha"], data["unmixed_premultiplied"])


# 1-4. Screen, spill, composite in linear light, sensor noise (vfxkey.synth.screens), then
# quantisation to 8-bit sRGB as a camera stores it.
def shoot(fg: np.ndarray, alpha: np.ndarray, screen: Screen, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 8-bit sRGB image of straight linear ``fg`` over ``screen``, its sensor +
    quantisation noise in scene-linear light (the decoded image minus the clean composite),
    and the (H, W) share of screen light spilled into the subject's colour."""
    height, width = alpha.shape
    plate = make_screen(
        height, width, screen.linear, rng,
        gradient=rng.uniform(0.15, 0.35), vignette=rng.uniform(0.15, 0.35),
        texture=rng.uniform(0.02, 0.04), hue_drift=0.025,
    )
    spill = rng.uniform(0.3, 0.8)
    clean = composite_over_screen(fg, alpha, plate, rng, spill=spill)  # draws nothing without noise
    noisy = composite_over_screen(fg, alpha, plate, rng, spill=spill, noise=0.002, shot_noise=rng.uniform(2e-4, 6e-4))
    image = display_8bit(noisy)
    return image, convert(image, DISPLAY_SPACE, WORKING_SPACE) - clean, spill_share(alpha, spill)


def make_case(name: str, fg: np.ndarray, alpha: np.ndarray, screen: Screen, seed: int) -> Case:
    image, noise, share = shoot(fg, alpha, screen, np.random.default_rng(seed))
    # The truth colour keeps the noise the photo carries wherever there is subject: a perfect
    # keyer unmixes ``image - (1 - alpha) * screen = alpha * fg + noise`` and is not asked to
    # denoise (without this, noise alone sets a floor near every keyer's colour error).
    noise = noise * (alpha[..., None] > 0)
    premultiplied = fg * alpha[..., None] + noise
    unmixed_alpha = alpha * (1.0 - share)
    unmixed = fg * unmixed_alpha[..., None] + noise
    return Case(f"{name}__{screen.name}", screen, image, alpha, premultiplied.astype(np.float32),
                unmixed_alpha.astype(np.float32), unmixed.astype(np.float32))


def read_rgb8(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}: is ../shared/data beside the checkout?")
    return image[..., ::-1]


def photo_cases(folder: Path, screens: Callable[[int], tuple[Screen, ...]], seed: int) -> list[Case]:
    """Every photo in ``folder`` (laid out as shared/data/alphamatting_dev: ``alpha/``, and
    ``fg_estimated/`` or ``image/``) over each of ``screens(index)``."""
    cases = []
    for index, alpha_path in enumerate(sorted((folder / "alpha").glob("*.png"))):
        alpha = read_rgb8(alpha_path)[..., 0].astype(np.float32) / 255
        fg = photo_foreground(folder, alpha_path.name, alpha)
        for screen_index, screen in enumerate(screens(index)):
            cases.append(make_case(alpha_path.stem, fg, alpha, screen, seed=seed + 100 * index + screen_index))
    return cases


def photo_foreground(folder: Path, name: str, alpha: np.ndarray) -> np.ndarray:
    """A photo's straight foreground colour, scene-linear: ``fg_estimated/NAME`` if the data has
    it, else estimated the way shared/data made it for the dev split (SOURCES.md): pymatting's
    ``estimate_foreground_ml`` from the sRGB photo and its true alpha."""
    estimated = folder / "fg_estimated" / name
    if estimated.exists():
        return convert(read_rgb8(estimated), DISPLAY_SPACE, WORKING_SPACE)
    photo = read_rgb8(folder / "image" / name).astype(np.float64) / 255
    foreground = np.clip(estimate_foreground_ml(photo, alpha.astype(np.float64)), 0.0, 1.0).astype(np.float32)
    return convert(foreground, DISPLAY_SPACE, WORKING_SPACE)


def dev_cases() -> list[Case]:
    return photo_cases(DATA, lambda index: (DEV_GREENS[index % len(DEV_GREENS)], DEV_BLUE), seed=0)


def heldout_photo_cases() -> list[Case]:
    """Real photos with measured alpha other than the dev split, when shared/data has them."""
    if "heldout_photos" not in available_sets():
        raise SystemExit(f"no held-out photos: {HELDOUT_PHOTOS} is missing (see the docstring at the top)")
    greens = [screen for screen in HELDOUT_SCREENS if screen.family == "green"]
    blue = next(screen for screen in HELDOUT_SCREENS if screen.family == "blue")
    return photo_cases(HELDOUT_PHOTOS, lambda index: (greens[index % len(greens)], blue), seed=9000)


# Held-out subjects, drawn at SUPERSAMPLE x and area-averaged so coverage becomes alpha.
SUPERSAMPLE = 4
HELDOUT_SHAPE = (540, 720)


def colour_field(shape: tuple[int, int], srgb8: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """A scene-linear colour around an sRGB base with smooth shading (12 % std) and texture."""
    shade = 1 + 0.125 * smooth_field(*shape, 8, rng)[..., None]
    texture = 1 + 0.08 * cv2.GaussianBlur(rng.standard_normal((*shape, 3)).astype(np.float32), (0, 0), 1.5)
    base = convert(np.array(srgb8, dtype=np.uint8), DISPLAY_SPACE, WORKING_SPACE)
    return np.clip(base * shade * texture, 0, 1).astype(np.float32)


def strands(canvas: np.ndarray, roots: np.ndarray, directions: np.ndarray, rng: np.random.Generator,
            length: tuple[float, float], curl: float, thickness: tuple[int, int]) -> None:
    """Draw curved strands (quadratic Beziers) from ``roots`` outwards, antialiased at 4x."""
    t = np.linspace(0, 1, 24)[:, None]
    for root, direction in zip(roots, directions):
        tip = root + direction * rng.uniform(*length)
        bend = (root + tip) / 2 + rng.normal(0, curl, 2)
        points = (1 - t) ** 2 * root + 2 * (1 - t) * t * bend + t**2 * tip
        cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 255,
                      int(rng.integers(*thickness)), cv2.LINE_AA)


def hair_subject(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = (s * SUPERSAMPLE for s in HELDOUT_SHAPE)
    head = np.zeros((h, w), np.uint8)
    centre = np.array([w * 0.5, h * 0.5])
    axes = np.array([w * 0.16, h * 0.28])
    cv2.ellipse(head, tuple(int(v) for v in centre), tuple(int(v) for v in axes), 0, 0, 360, 255, -1, cv2.LINE_AA)
    cv2.rectangle(head, (int(w * 0.22), int(h * 0.72)), (int(w * 0.78), h), 255, -1)
    hair = np.zeros_like(head)
    angles = rng.uniform(-np.pi * 0.95, -np.pi * 0.05, 900)  # the upper half of the head
    roots = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * axes * 0.9
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    strands(hair, roots, directions, rng, length=(0.1 * h, 0.3 * h), curl=0.06 * h, thickness=(1, 5))
    skin = colour_field(HELDOUT_SHAPE, (224, 172, 140), rng)
    hair_colour = colour_field(HELDOUT_SHAPE, (92, 60, 38), rng)
    return layer([(head, skin), (hair, hair_colour)])


def plant_subject(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = (s * SUPERSAMPLE for s in HELDOUT_SHAPE)
    stem = np.zeros((h, w), np.uint8)
    cv2.rectangle(stem, (int(w * 0.47), int(h * 0.55)), (int(w * 0.53), h), 255, -1)
    leaves = np.zeros_like(stem)
    centre = np.array([w * 0.5, h * 0.45])
    angles = rng.uniform(0, 2 * np.pi, 400)
    roots = centre + rng.normal(0, 0.03 * h, (400, 2))
    strands(leaves, roots, np.stack([np.cos(angles), np.sin(angles)], 1), rng,
            length=(0.1 * h, 0.38 * h), curl=0.04 * h, thickness=(2, 14))
    stem_colour = colour_field(HELDOUT_SHAPE, (120, 90, 60), rng)
    leaf_colour = colour_field(HELDOUT_SHAPE, (150, 170, 60), rng)  # yellow-green: hard on green
    return layer([(stem, stem_colour), (leaves, leaf_colour)])


def veil_subject(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = (s * SUPERSAMPLE for s in HELDOUT_SHAPE)
    body = np.zeros((h, w), np.uint8)
    cv2.ellipse(body, (w // 2, int(h * 0.8)), (int(w * 0.2), int(h * 0.45)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    veil = np.zeros_like(body)
    outline = np.array([[w * 0.15, h * 0.1], [w * 0.85, h * 0.15], [w * 0.9, h * 0.95], [w * 0.1, h * 0.9]])
    cv2.fillPoly(veil, [np.round(outline).astype(np.int32)], 255, cv2.LINE_AA)
    density = 0.45 + 0.1 * cv2.resize(smooth_field(*HELDOUT_SHAPE, 5, rng), (w, h))  # sheer fabric
    veil = (veil * np.clip(density, 0.2, 0.7)).astype(np.uint8)
    body_colour = colour_field(HELDOUT_SHAPE, (60, 50, 110), rng)
    veil_colour = colour_field(HELDOUT_SHAPE, (235, 230, 220), rng)
    return layer([(body, body_colour), (veil, veil_colour)])


def motion_subject(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = (s * SUPERSAMPLE for s in HELDOUT_SHAPE)
    ball = np.zeros((h, w), np.uint8)
    cv2.circle(ball, (int(w * 0.35), int(h * 0.5)), int(h * 0.2), 255, -1, cv2.LINE_AA)
    box = np.zeros_like(ball)
    cv2.rectangle(box, (int(w * 0.6), int(h * 0.25)), (int(w * 0.8), int(h * 0.8)), 255, -1)
    alpha, premultiplied = layer([(ball, colour_field(HELDOUT_SHAPE, (200, 40, 40), rng)),
                                  (box, colour_field(HELDOUT_SHAPE, (210, 200, 80), rng))], premultiplied=True)
    # Motion blur: alpha and premultiplied colour are smeared by the same kernel.
    streak = int(rng.integers(15, 40))
    kernel = np.ones((1, streak), np.float32) / streak
    alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    premultiplied = cv2.filter2D(premultiplied, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return alpha, premultiplied / np.maximum(alpha, 1e-6)[..., None]


def layer(layers: list[tuple[np.ndarray, np.ndarray]], premultiplied: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Stack 4x coverage masks (back to front) with their colours: alpha and straight fg at 1x."""
    h, w = HELDOUT_SHAPE
    alpha = np.zeros((h, w), np.float32)
    colour = np.zeros((h, w, 3), np.float32)  # premultiplied
    for mask, fg in layers:
        a = cv2.resize(mask.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
        colour = fg * a[..., None] + colour * (1 - a[..., None])
        alpha = a + alpha * (1 - a)
    if premultiplied:
        return alpha, colour
    return alpha, np.where(alpha[..., None] > 0, colour / np.maximum(alpha, 1e-6)[..., None], 0).astype(np.float32)


HELDOUT_SUBJECTS = {"hair": hair_subject, "plant": plant_subject, "veil": veil_subject, "motion": motion_subject}


def heldout_cases() -> list[Case]:
    cases = []
    for index, (name, make) in enumerate(HELDOUT_SUBJECTS.items()):
        alpha, fg = make(np.random.default_rng(5000 + index))
        for screen_index in range(2):
            screen = HELDOUT_SCREENS[(index + screen_index * 2) % len(HELDOUT_SCREENS)]
            cases.append(make_case(name, fg, alpha, screen, seed=7000 + 10 * index + screen_index))
    return cases


BUILDERS = {"dev": dev_cases, "heldout": heldout_cases, "heldout_photos": heldout_photo_cases}


def available_sets() -> list[str]:
    """The sets this checkout can build: held-out photos only where shared/data has them."""
    return [name for name in BUILDERS if name != "heldout_photos" or (HELDOUT_PHOTOS / "alpha").is_dir()]


def build(name: str, force: bool = False) -> list[Path]:
    """Build set ``name`` unless it is already on disk; return its case files, sorted."""
    folder = OUT / name
    cases = sorted(folder.glob("*.npz"))
    if force or not cases or "unmixed_alpha" not in np.load(cases[0]):  # missing or from an older build_set
        for case in BUILDERS[name]():
            case.save(folder)
    return sorted(folder.glob("*.npz"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*BUILDERS, "all"], default="all", help="all: every set available here")
    args = parser.parse_args()
    for name in available_sets() if args.set == "all" else [args.set]:
        paths = build(name, force=True)
        print(f"{name}: {len(paths)} cases in {OUT / name}")


if __name__ == "__main__":
    main()
