"""Initial noise for keyed generation: TKG-DM channel mean shift and temporally seeded noise.

TKG-DM (arXiv 2411.15580) changes only the initial noise ``z_T`` of a latent diffusion
model so the background decodes to a key colour. For one frame:

1. **Temporal base noise** ``z_T`` (unit Gaussian, shape ``(C, h, w)`` in latent pixels)
   is a pure function of ``(seed, frame, settings)``: drawn on the CPU with
   ``torch.Generator`` seeded from a hash of those values, so any frame renders bitwise
   identically alone, inside any chunk, on any node. Modes (:func:`temporal_noise`):

   - ``locked``: one base noise for the whole shot, ``z_f = N_0``.
   - ``drift``: keyframe noises ``K_j`` every ``period`` frames and a great-circle blend
     ``z_f = cos(theta) K_j + sin(theta) K_{j+1}``, ``theta = (pi/2) (f - j period) / period``.
     Because ``K_j`` and ``K_{j+1}`` are independent unit Gaussians and
     ``cos^2 + sin^2 = 1``, every ``z_f`` is *exactly* unit Gaussian. The correlation
     between consecutive frames is ``cos(pi / (2 period))`` everywhere, across keyframes
     too (:func:`drift_correlation`; 0.9979 for ``period = 24``).
   - ``follow``: one seeded canvas three times the latent size in each direction; frame
     ``f`` is the window shifted by the foreground centre's motion, rounded to whole latent
     pixels, so the texture travels with the element and every value is still a draw of
     the same unit Gaussian (no interpolation). Offsets are clamped to one latent size
     (an element more than half a frame outside the frame stops dragging the noise).

2. **Channel mean shift** ``CMS(z_T)``: add ``delta * d_c`` to latent channel ``c``, where
   ``d`` is the key colour's latent direction (:func:`key_direction`, largest component
   +-1) and ``delta = Phi^-1(0.5 + target_shift) - Phi^-1(0.5)`` (:func:`shift_delta`): the
   closed form of the authors' search, which raises ``delta`` until the fraction of
   positive values has grown by ``target_shift``. Only the mean moves; the standard
   deviation stays 1. Defaults (``choices.DEFAULT_TARGET_SHIFT``): ``target_shift`` 0.10
   for SD1.5 (delta 0.253; the diffusers port's 0.07, delta 0.176, kept less than half the
   background on the key on the toy model), 0.11 for SDXL (delta 0.279).

3. **Init-noise selection**: a foreground weight ``m`` (a Gaussian ellipse, 1 at its centre;
   :func:`foreground_weight`) keeps the original noise where the element goes and the
   shifted noise around it: ``z = m * z_T + (1 - m) * CMS(z_T)``.

The result is passed to diffusers as ``latents=`` (pipelines multiply it by
``scheduler.init_noise_sigma``, so it stays unit variance here).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import astuple, dataclass
from statistics import NormalDist

import torch

from vfxkey.errors import SettingError, VfxkeyError
from vfxkey.generate.choices import TEMPORAL_MODES, keyable


# Where a key's latent direction comes from (see key_direction, choices.KEY_DIRECTIONS): the
# model's VAE, or the published sign patterns and preview factors of the model's family.

# Published sign patterns over latent channels ch0..ch3. SD1.5-family latents: a public
# ComfyUI port citing the paper's colour-background figure. SDXL: green from the authors'
# code (channels 1 and 2); other SDXL keys go through the colour path of key_direction.
SIGN_PATTERNS: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "sd15": {
        "green": (0, 1, 1, 0),
        "cyan": (0, 1, 0, 0),
        "magenta": (0, -1, -1, -1),
        "purple": (0, 0, -1, -1),
        "black": (-1, 0, 0, 1),
        "orange": (-1, -1, 1, 0),
        "white": (0, 0, 0, -1),
        "yellow": (0, -1, 1, -1),
    },
    "sdxl": {"green": (0, 1, 1, 0)},
}

# The colour each named key stands for (sRGB-encoded, 0..1): the usual digital chroma green
# and blue, and the plain colours the sign patterns are named after. Used for the colour path
# of key_direction, the keyer's screen colour and the GSG target.
KEY_SRGB = {
    "green": (0.0, 177 / 255, 64 / 255),
    "blue": (0.0, 71 / 255, 187 / 255),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
    "purple": (0.5, 0.0, 1.0),
    "black": (0.0, 0.0, 0.0),
    "orange": (1.0, 0.5, 0.0),
    "white": (1.0, 1.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
}

# Linear latent-to-RGB preview factors (rows ch0..ch3, columns R, G, B; REFERENCE 1.1).
LATENT_RGB_FACTORS = {
    "sd15": ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350),
             (-0.2829, 0.1762, 0.2721), (-0.2120, -0.2616, -0.7177)),
    "sdxl": ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068),
             (0.1076, 0.1111, -0.0362), (-0.3165, -0.2492, -0.2188)),
}


@dataclass(frozen=True)
class Ellipse:
    """A foreground region: centre and Gaussian radii as fractions of the image.

    ``cx``/``rx`` are fractions of the width, ``cy``/``ry`` of the height, row 0 at the top.
    The default (0.5, 0.5, 0.25, 0.25) is the paper's mask ``exp(-(x^2+y^2)/(2*0.5^2))`` on
    a [-1, 1] grid.
    """

    cx: float = 0.5
    cy: float = 0.5
    rx: float = 0.25
    ry: float = 0.25


@dataclass(frozen=True)
class ForegroundPath:
    """The foreground ellipse per frame: keyframes linearly interpolated, held outside.

    Parse from ``"cx,cy,rx,ry"`` (one region for the shot) or
    ``"1001:cx,cy,rx,ry;1024:cx,cy,rx,ry"`` (keyframes).
    """

    keys: tuple[tuple[int, Ellipse], ...] = ((0, Ellipse()),)

    @classmethod
    def parse(cls, text: str) -> "ForegroundPath":
        keys = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            frame_text, _, values = part.rpartition(":")
            try:
                numbers = [float(v) for v in values.split(",")]
                frame = int(frame_text) if frame_text else 0
            except ValueError:
                numbers, frame = [], 0
            if len(numbers) != 4 or numbers[2] <= 0 or numbers[3] <= 0:
                raise SettingError(
                    f"{text!r}: expected 'cx,cy,rx,ry' (fractions of the image, radii > 0) "
                    "or keyframes 'FRAME:cx,cy,rx,ry;FRAME:cx,cy,rx,ry'", setting="fg_region"
                )
            keys.append((frame, Ellipse(*numbers)))
        if not keys:
            raise SettingError(f"{text!r}: no region given", setting="fg_region")
        return cls(tuple(sorted(keys, key=lambda k: k[0])))

    def at(self, frame: int) -> Ellipse:
        """The ellipse at ``frame`` (linear between keyframes, held before/after)."""
        keys = self.keys
        if frame <= keys[0][0]:
            return keys[0][1]
        for (f0, e0), (f1, e1) in zip(keys, keys[1:]):
            if frame <= f1:
                t = (frame - f0) / (f1 - f0)
                return Ellipse(*(a + t * (b - a) for a, b in zip(astuple(e0), astuple(e1))))
        return keys[-1][1]

    def __str__(self) -> str:
        return ";".join(f"{f}:{e.cx:g},{e.cy:g},{e.rx:g},{e.ry:g}" for f, e in self.keys)


@dataclass(frozen=True)
class NoiseSettings:
    """Everything besides (seed, frame) that the noise of a frame depends on."""

    latent_shape: tuple[int, int, int]  # (channels, height, width) in latent pixels
    direction: tuple[float, ...]        # key colour's latent direction, max |d_c| = 1
    target_shift: float                 # fraction of positive values added (TKG-DM)
    region: ForegroundPath = ForegroundPath()
    temporal: str = "locked"
    drift_period: int = 24              # frames between drift keyframe noises


# --- 1. temporally seeded base noise ------------------------------------------------------

def _generator(seed: int, *tags: object) -> torch.Generator:
    """A CPU generator seeded from a hash of ``seed`` and ``tags`` (stable across machines)."""
    digest = hashlib.sha256(":".join(str(v) for v in (seed, *tags)).encode()).digest()
    return torch.Generator(device="cpu").manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def _gaussian(shape: tuple[int, ...], seed: int, *tags: object) -> torch.Tensor:
    return torch.randn(shape, generator=_generator(seed, *tags), dtype=torch.float32)


def sampler_generator(seed: int) -> torch.Generator:
    """The CPU generator of the noise a sampler adds at each step (ancestral / SDE schedulers).

    The shot's one stream in every temporal mode, seeded from the seed alone, so that noise,
    like the initial noise, is the same for a frame whatever ran before it in the process
    (diffusers draws from it on the CPU and moves the values to the model's device). Frames
    then differ only as their initial noise does: in ``locked`` mode only where the
    foreground region moved; in ``drift`` and ``follow`` as their noise drifts or moves (a
    stream drawn per frame made euler_a flicker there: 0.16-0.27 against DDIM's 0.006-0.010).
    The per-step noise does not move with ``follow``'s region: diffusers draws it whole.
    """
    return _generator(seed, "sampler")


def drift_correlation(period: int) -> float:
    """Correlation between the ``drift`` noise of any two consecutive frames: cos(pi / (2 period))."""
    return math.cos(math.pi / (2 * period))


def temporal_noise(seed: int, frame: int, settings: NoiseSettings) -> torch.Tensor:
    """Unit-Gaussian base noise ``z_T`` of shape ``latent_shape`` (float32, CPU) for one frame.

    A pure function of ``(seed, frame, settings)``; see the module docstring for the modes.
    """
    shape = settings.latent_shape
    if settings.temporal == "locked":
        return _gaussian(shape, seed, "locked", *shape)
    if settings.temporal == "drift":
        period = settings.drift_period
        j = frame // period
        theta = (math.pi / 2) * (frame - j * period) / period
        return (math.cos(theta) * _gaussian(shape, seed, "drift", j, *shape)
                + math.sin(theta) * _gaussian(shape, seed, "drift", j + 1, *shape))
    if settings.temporal == "follow":
        channels, height, width = shape
        canvas = _gaussian((channels, 3 * height, 3 * width), seed, "follow", *shape)
        centre = settings.region.at(frame)
        # Whole latent pixels moved since the path's origin (image centre), clamped to the canvas.
        dx = max(-width, min(width, round((centre.cx - 0.5) * width)))
        dy = max(-height, min(height, round((centre.cy - 0.5) * height)))
        top, left = height - dy, width - dx
        return canvas[:, top:top + height, left:left + width].clone()
    raise VfxkeyError(f"unknown temporal mode {settings.temporal!r}; use one of {', '.join(TEMPORAL_MODES)}")


# --- 2. channel mean shift -----------------------------------------------------------------

def shift_delta(target_shift: float, p0: float = 0.5) -> float:
    """Mean shift ``delta`` (noise units) that raises the positive fraction from ``p0`` by ``target_shift``.

    Closed form for unit Gaussians: ``Phi^-1(p0 + target_shift) - Phi^-1(p0)``. With ``p0 = 0.5``
    (the population value for zero-mean noise, so ``delta`` does not depend on the sample and
    cannot flicker between frames) this is ``Phi^-1(0.5 + target_shift)``.
    """
    if not 0.0 <= target_shift < 1.0 - p0:
        raise SettingError(f"{target_shift}: must be in [0, {1.0 - p0:g})", setting="shift")
    normal = NormalDist()
    return normal.inv_cdf(p0 + target_shift) - normal.inv_cdf(p0)


def parse_key(key: str) -> str | tuple[float, float, float]:
    """A key as the user gives it: a known name, or ``#RRGGBB`` as sRGB-encoded 0..1 floats.

    The element is keyed off it, and the keyer keys green- or blue-dominant screens only: a
    key whose red leads (``#D02010``, orange) or that has no leading channel (white, black)
    is refused here, before any model loads."""
    key = key.strip().lower()
    match = re.fullmatch(r"#?([0-9a-f]{6})", key)
    if match:
        value = int(match.group(1), 16)
        parsed = tuple(((value >> shift) & 0xFF) / 255 for shift in (16, 8, 0))
    elif key in KEY_SRGB:
        parsed = key
    else:
        raise SettingError(f"{key!r}: use #RRGGBB or one of {', '.join(KEYABLE_NAMES)}", setting="key")
    if not keyable(KEY_SRGB[parsed] if isinstance(parsed, str) else parsed):
        raise SettingError(f"{key_text(parsed)}: the keyer keys green- or blue-dominant screens, and this colour's "
                           f"green or blue does not lead its red; use {', '.join(KEYABLE_NAMES)} or a #RRGGBB "
                           "whose green or blue is the largest", setting="key")
    return parsed


KEYABLE_NAMES = tuple(name for name in sorted(KEY_SRGB) if keyable(KEY_SRGB[name]))


def key_text(key: str | tuple[float, float, float]) -> str:
    """A key as the user names it (the inverse of :func:`parse_key`): ``green`` or ``#rrggbb`` (sRGB)."""
    if isinstance(key, str):
        return key
    return "#" + "".join(f"{round(c * 255):02x}" for c in key)


def key_direction(key: str | tuple[float, float, float], *, family: str = "sd15",
                  vae=None) -> torch.Tensor:
    """The key colour's direction over the latent channels, scaled so its largest component is +-1.

    The key (a name of :data:`KEY_SRGB`, or an sRGB-encoded ``(r, g, b)`` in 0..1,
    display-referred as in ``#RRGGBB``) is mapped to latents relative to mid grey (sRGB 0.5):

    - with ``vae`` (an ``AutoencoderKL``; ``--key-direction vae``, the default), for every
      key, named or not, by encoding a 64x64 solid plate of the colour and one of mid grey
      and taking the difference of the latent channel means: the model's own VAE, so it
      holds for any fine-tune or a VAE trained apart from SD's (in float32 when a float16
      VAE asks for it with ``force_upcast``, as SDXL's does because it overflows the half
      range);
    - without it (``--key-direction published``), a name with a published sign pattern for
      ``family`` returns that pattern; any other key the minimum-norm solution ``d`` of
      ``d @ F = rgb - grey`` against the family's linear latent-to-RGB factors ``F``.

    A direction that is not finite (a VAE overflowing in its precision) is a VfxkeyError.
    """
    if vae is None and isinstance(key, str) and key in SIGN_PATTERNS.get(family, {}):
        return torch.tensor(SIGN_PATTERNS[family][key], dtype=torch.float32)
    rgb = torch.tensor(KEY_SRGB[key] if isinstance(key, str) else key, dtype=torch.float32)
    grey = torch.full((3,), 0.5)
    if vae is not None:
        from vfxkey.generate.model import upcast_vae

        plates = torch.stack([rgb, grey])[:, :, None, None].expand(2, 3, 64, 64) * 2 - 1
        with torch.no_grad(), upcast_vae(vae) as dtype:
            latents = vae.encode(plates.to(vae.device, dtype)).latent_dist.mean.float().cpu()
        means = latents.mean(dim=(2, 3)) * vae.config.scaling_factor
        direction = means[0] - means[1]
    else:
        factors = torch.tensor(LATENT_RGB_FACTORS[family], dtype=torch.float32)
        # RGB from the preview factors spans [-1, 1]; sRGB 0..1 maps to it as 2 * c - 1.
        direction = torch.linalg.pinv(factors.T) @ ((rgb - grey) * 2)
    largest = direction.abs().max()
    if not torch.isfinite(direction).all():
        raise SettingError(f"{key}: the VAE's encoding of the key colour is not finite (it overflows in "
                           "its precision); use precision fp32 (or bf16)", setting="key")
    if largest < 1e-6:
        raise SettingError(f"{key}: too close to mid grey to give a latent direction", setting="key")
    return direction / largest


# --- 3. init-noise selection ---------------------------------------------------------------

def foreground_weight(height: int, width: int, region: Ellipse) -> torch.Tensor:
    """Foreground weight ``m`` of shape ``(height, width)``: 1 at the ellipse centre, Gaussian falloff.

    Sampled at latent pixel centres: ``m = exp(-((x - cx)^2 / (2 rx^2) + (y - cy)^2 / (2 ry^2)))``
    with ``x, y`` in fractions of the image.
    """
    y = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    x = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    gy = ((y - region.cy) / region.ry) ** 2 / 2
    gx = ((x - region.cx) / region.rx) ** 2 / 2
    return torch.exp(-(gy[:, None] + gx[None, :]))


def keyed_noise(seed: int, frame: int, settings: NoiseSettings) -> torch.Tensor:
    """TKG-DM initial latents for one frame: shape ``(1, C, h, w)``, float32, CPU.

    ``z = m * z_T + (1 - m) * CMS(z_T)`` with ``CMS(z_T) = z_T + delta * d`` per channel.
    """
    # 1. temporally seeded base noise
    z_t = temporal_noise(seed, frame, settings)
    channels, height, width = settings.latent_shape
    # 2. channel mean shift
    shift = shift_delta(settings.target_shift) * torch.tensor(settings.direction, dtype=torch.float32)
    shifted = z_t + shift[:, None, None]
    # 3. init-noise selection: original noise in the foreground, shifted around it
    m = foreground_weight(height, width, settings.region.at(frame))
    return (m * z_t + (1 - m) * shifted)[None]
