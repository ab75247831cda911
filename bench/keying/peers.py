"""The keyers users already run, each as a user would run it on an 8-bit sRGB image.

Every method takes the (H, W, 3) uint8 sRGB image and returns ``(alpha, premultiplied)``:
alpha (H, W) float32 in 0..1 and premultiplied scene-linear colour (H, W, 3) float32.
Like a user, each peer is told nothing but the image: the key colour is the one a user
would pick, the median of the image's border (``pick_key_colour``).

Parameters were tuned once on the dev set with ``python -m bench.keying.tune`` (a small grid
per peer, lowest mean whole-image SAD; Blender's Keying node, added later, by the mean of
its five error ratios; see tune.py for the grids) and then fixed here.
Parameters that were not tuned say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import cv2
import numpy as np
import OpenImageIO as oiio
from pymatting import estimate_alpha_cf, estimate_foreground_ml

from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert

BORDER = 0.03  # the outer 3 % of each side is where a user samples the screen


def pick_key_colour(image: np.ndarray) -> np.ndarray:
    """Median 8-bit sRGB colour of the image's border band: the screen a user would click."""
    h, w = image.shape[:2]
    band_h, band_w = max(1, int(h * BORDER)), max(1, int(w * BORDER))
    border = np.concatenate([
        image[:band_h].reshape(-1, 3), image[-band_h:].reshape(-1, 3),
        image[:, :band_w].reshape(-1, 3), image[:, -band_w:].reshape(-1, 3),
    ])
    return np.median(border, axis=0).astype(np.uint8)


def screen_family(key: np.ndarray) -> str:
    return "green" if key[1] >= key[2] else "blue"


def from_straight_srgb(alpha: np.ndarray, straight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, straight sRGB-encoded 0..1) -> (alpha, premultiplied linear): the benchmark's output form."""
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    return alpha, convert(np.clip(straight, 0, 1), DISPLAY_SPACE, WORKING_SPACE) * alpha[..., None]


# (a) ffmpeg chromakey + despill, through PyAV's filter graph.
CHROMAKEY_SIMILARITY = 0.05  # UV distance keyed fully transparent (tuned: grid 0.02..0.3)
CHROMAKEY_BLEND = 0.02  # width of the soft ramp beyond it (tuned: grid 0..0.1)
DESPILL_MIX = 0.5  # ffmpeg's default (not tuned: SAD does not see despill)
DESPILL_EXPAND = 0.0  # ffmpeg's default (not tuned)


def ffmpeg_chromakey(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = pick_key_colour(image)
    h, w = image.shape[:2]
    graph = av.filter.Graph()
    source = graph.add_buffer(width=w, height=h, format="rgb24", time_base=Fraction(1, 25))
    chain = [
        graph.add("format", "yuva444p"),  # chromakey needs a YUV-with-alpha input
        graph.add("chromakey", f"color=0x{key[0]:02X}{key[1]:02X}{key[2]:02X}"
                               f":similarity={CHROMAKEY_SIMILARITY}:blend={CHROMAKEY_BLEND}"),
        graph.add("despill", f"type={screen_family(key)}:mix={DESPILL_MIX}:expand={DESPILL_EXPAND}"),
        graph.add("format", "rgba"),
        graph.add("buffersink"),
    ]
    source.link_to(chain[0])
    for upstream, downstream in zip(chain, chain[1:]):
        upstream.link_to(downstream)
    graph.configure()
    graph.push(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"))
    rgba = graph.pull().to_ndarray()
    return from_straight_srgb(rgba[..., 3] / 255.0, rgba[..., :3] / 255.0)


# (b) OpenCV HSV range key with a feathered edge and the classic channel-clamp despill.
HSV_HUE_TOLERANCE = 16  # OpenCV hue units (0..180) either side of the key's hue (tuned: 10..24)
HSV_MIN_SATURATION = 130  # 0..255 (tuned: 70..160)
HSV_MIN_VALUE = 40  # 0..255 (a usual tutorial value, not tuned)
HSV_CHOKE = 0  # pixels the matte is eroded before feathering (tuned: 0 or 1)
HSV_FEATHER = 0.75  # Gaussian sigma of the feather, pixels (tuned: 0.5..1.5)


def opencv_hsv(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = pick_key_colour(image)
    key_hue = int(cv2.cvtColor(key.reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0, 0])
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hue_distance = np.abs(hsv[..., 0].astype(np.int16) - key_hue)
    hue_distance = np.minimum(hue_distance, 180 - hue_distance)  # hue is circular
    screen = (hue_distance <= HSV_HUE_TOLERANCE) & (hsv[..., 1] >= HSV_MIN_SATURATION) & (hsv[..., 2] >= HSV_MIN_VALUE)
    matte = (~screen).astype(np.float32)
    if HSV_CHOKE:
        matte = cv2.erode(matte, np.ones((2 * HSV_CHOKE + 1,) * 2, np.uint8))
    alpha = cv2.GaussianBlur(matte, (0, 0), HSV_FEATHER)
    despilled = image.copy()
    channel = 1 if screen_family(key) == "green" else 2
    others = [c for c in range(3) if c != channel]
    despilled[..., channel] = np.minimum(image[..., channel], image[..., others].max(axis=-1))
    return from_straight_srgb(alpha, despilled / 255.0)


# (c) pymatting closed-form matting on an automatic trimap, ML foreground estimation.
TRIMAP_SCREEN_DISTANCE = 0.10  # sRGB 0..1 Euclidean distance to the key: below = screen (tuned: 0.07..0.25)
TRIMAP_SUBJECT_DISTANCE = 0.20  # above = subject (tuned: 0.15..0.5)
TRIMAP_ERODE = 3  # pixels both sure regions are eroded, to widen the unknown band (2 and 5 were tried first)


def auto_trimap(image: np.ndarray) -> np.ndarray:
    """Trimap from colour distance to the key: 0 screen, 1 subject, 0.5 unknown (float64)."""
    key = pick_key_colour(image).astype(np.float32) / 255
    distance = np.linalg.norm(image.astype(np.float32) / 255 - key, axis=-1)
    kernel = np.ones((2 * TRIMAP_ERODE + 1,) * 2, np.uint8)
    screen = cv2.erode((distance < TRIMAP_SCREEN_DISTANCE).astype(np.uint8), kernel).astype(bool)
    subject = cv2.erode((distance > TRIMAP_SUBJECT_DISTANCE).astype(np.uint8), kernel).astype(bool)
    trimap = np.full(distance.shape, 0.5)
    trimap[screen] = 0.0
    trimap[subject] = 1.0
    return trimap


def pymatting_cf(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    encoded = image.astype(np.float64) / 255
    alpha = estimate_alpha_cf(encoded, auto_trimap(image))
    foreground = estimate_foreground_ml(encoded, alpha)
    return from_straight_srgb(alpha, foreground)


# (d) Blender's compositor Keying node (bpy 4.5 LTS), in Blender's own Python: see
# blender_worker.py and requirements-blender.txt. Inputs by socket identifier; tuned on dev
# (tune.py --peer blender), the rest Blender's defaults.
BLENDER_INPUTS = {
    "Key Balance": 0.9,  # screen balance (tuned: 0.3..1)
    "Black Level": 0.5,  # clip black (tuned: 0..0.7)
    "White Level": 0.6,  # clip white (tuned: 0.6..1)
    "Edge Search Size": 3,  # edge kernel radius, pixels (tuned: 2, 3, 5)
    "Edge Tolerance": 0.2,  # edge kernel tolerance (tuned: 0.05..0.4)
    "Despill Strength": 1.0,  # Blender's default (not tuned, as ffmpeg's despill)
    "Despill Balance": 0.5,  # Blender's default (not tuned)
}
REPO = Path(__file__).resolve().parents[2]
BLENDER_PYTHON = Path(os.environ.get("BLENDER_PYTHON", REPO.parent / "venv-bpy" / "bin" / "python"))


class BlenderKeying:
    """Keys images with Blender's Keying node in one long-lived Blender process (started on first use)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.folder = tempfile.TemporaryDirectory(prefix="blender_keying_")

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.process is None:
            self.process = subprocess.Popen([str(BLENDER_PYTHON), str(Path(__file__).with_name("blender_worker.py"))],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        folder = Path(self.folder.name)
        cv2.imwrite(str(folder / "in.png"), image[..., ::-1])
        key = convert(pick_key_colour(image), DISPLAY_SPACE, WORKING_SPACE)  # colour sockets are scene-linear
        inputs = {**BLENDER_INPUTS, "Key Color": [float(c) for c in key]}
        request = {"image": str(folder / "in.png"), "output": str(folder / "out.exr"), "inputs": inputs}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith("KEYED "):
                break
        else:
            raise SystemExit(f"Blender's keying process ended (exit {self.process.wait()})")
        rgba = oiio.ImageBuf(str(folder / "out.exr")).get_pixels(oiio.FLOAT)
        return np.clip(rgba[..., 3], 0, 1), rgba[..., :3]


blender_keying = BlenderKeying()

PEERS = {
    "ffmpeg chromakey+despill": ffmpeg_chromakey,
    "OpenCV HSV range": opencv_hsv,
    "pymatting closed-form": pymatting_cf,
    **({"Blender Keying node": blender_keying} if BLENDER_PYTHON.exists() else {}),  # where its environment is
}
