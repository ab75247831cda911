"""The generation loop: one keyed element frame from a prompt, a seed and a frame number.

For each frame:

1. build the TKG-DM initial noise for ``(seed, frame, settings)`` (:mod:`.noise`);
2. run the diffusers pipeline with ``latents=`` that noise, the prompt and
   ``negative_prompt=``, and ``generator=`` the shot's generator for the noise ancestral
   samplers add at every step (:func:`.noise.sampler_generator`), while capturing the subject's
   cross-attention (:mod:`.attention`) and, when a matting head is given, the VAE decoder
   feature (:mod:`.decoder_features`), which the head reads in float32;
3. refuse latents that are not finite (a model overflowing in its precision);
4. the pipeline decodes to an sRGB-encoded, display-referred image in 0..1; refuse it when
   not finite (a VAE overflowing in its precision); linearise it into the working space
   with :func:`vfxkey.io.colour.convert`;
5. binarise the attention into the coarse hint mask.

A size that is not a multiple of 8 pixels and of the VAE's factor (a DCI flat 1998x1080
plate) is generated at the next multiple (2000x1080) and centre-cropped: the extra rows and
columns go half to each side (the odd one to the right / bottom). diffusers' pipelines take
multiples of 8 only, so a VAE of factor 4 (the toy model's) still generates at multiples of 8.

A matting head learnt one key's screens (``head.key``): a key of another dominant channel
(blue for a head trained on green) is refused, as the head would call its background subject.

Nothing here depends on which other frames are generated, so any frame renders identically
alone or inside any chunk.
"""

from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from vfxkey.errors import SettingError, VfxkeyError
from vfxkey.generate.attention import binarise, capture_attention, subject_token_indices
from vfxkey.generate.decoder_features import capture_decoder_features
from vfxkey.generate.choices import DEFAULT_TARGET_SHIFT, KEY_DIRECTIONS
from vfxkey.generate.model import LoadedModel
from vfxkey.generate.noise import (
    KEY_SRGB,
    ForegroundPath,
    NoiseSettings,
    key_direction,
    key_text,
    keyed_noise,
    parse_key,
    sampler_generator,
)
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert

# diffusers' Stable Diffusion pipelines refuse sizes that are not multiples of 8 pixels.
PIPELINE_MULTIPLE = 8


@dataclass(frozen=True)
class GenerationSettings:
    """What to generate; with the seed and frame number it fixes every pixel."""

    prompt: str
    negative_prompt: str = ""
    width: int = 512                       # pixels of the output; generated at the next multiples of 8
    height: int = 512
    steps: int = 30
    guidance: float = 7.5
    key: str | tuple[float, float, float] = "green"   # name, or sRGB-encoded 0..1 triple
    key_direction: str = "vae"             # KEY_DIRECTIONS: from the model's VAE, or the family's published one
    target_shift: float | None = None      # None: the model family's TKG-DM default
    region: ForegroundPath = field(default_factory=ForegroundPath)
    temporal: str = "locked"
    drift_period: int = 24
    subject: str | None = None             # prompt words for the attention hint; None = whole prompt
    attention_steps: int = 5               # last reverse steps whose cross-attention is averaged (all if fewer)
    working_space: str = WORKING_SPACE


@dataclass
class GeneratedFrame:
    """One generated frame."""

    frame: int
    rgb: np.ndarray             # (H, W, 3) float32, scene-linear, working space (H, W: the settings' size)
    screen: np.ndarray          # (H, W, 3) float32, the decoded image as is: sRGB-encoded 0..1
    hint: np.ndarray            # (H, W) float32 0/1, subject mask from cross-attention
    head_mask: np.ndarray | None  # (H, W) float32 0..1 from the matting head, if one was given
    latents: torch.Tensor       # (1, C, h, w) float32 final denoised latents of the generated (uncropped)
                                # size, scaled (the VAE decodes latents / scaling_factor)


class KeyedGenerator:
    """Generates keyed frames with one loaded model and fixed settings."""

    def __init__(self, model: LoadedModel, settings: GenerationSettings, seed: int, head=None):
        self.model = model
        self.settings = settings
        self.seed = seed
        # The head reads the decoder feature in float32: SDXL's VAE decodes upcast to float32
        # because its features overflow float16, so a float16 head would turn them into inf.
        self.head = None if head is None else copy.deepcopy(head).to(torch.float32)
        pipe = model.pipe
        scale = pipe.vae_scale_factor
        if settings.attention_steps < 1:
            raise VfxkeyError(f"attention steps {settings.attention_steps}: must be at least 1")
        if settings.key_direction not in KEY_DIRECTIONS:
            raise VfxkeyError(f"key direction {settings.key_direction!r}: use one of {', '.join(KEY_DIRECTIONS)}")
        if head is not None:
            check_head_key(getattr(head, "key", "green"), settings.key)
        multiple = math.lcm(scale, PIPELINE_MULTIPLE)
        self.generated_size = tuple(-(-side // multiple) * multiple for side in (settings.height, settings.width))
        self.latent_size = (self.generated_size[0] // scale, self.generated_size[1] // scale)   # (height, width)
        shift = settings.target_shift if settings.target_shift is not None else DEFAULT_TARGET_SHIFT[model.family]
        direction = key_direction(settings.key, family=model.family,
                                  vae=pipe.vae if settings.key_direction == "vae" else None)
        self.noise_settings = NoiseSettings(
            latent_shape=(pipe.unet.config.in_channels, *self.latent_size),
            direction=tuple(float(v) for v in direction),
            target_shift=shift,
            region=settings.region,
            temporal=settings.temporal,
            drift_period=settings.drift_period,
        )
        self.token_indices = subject_token_indices(pipe.tokenizer, settings.prompt, settings.subject)

    def __call__(self, frame: int) -> GeneratedFrame:
        s, pipe = self.settings, self.model.pipe
        # 1. TKG-DM initial noise, a pure function of (seed, frame, settings)
        latents = keyed_noise(self.seed, frame, self.noise_settings).to(self.model.device, self.model.dtype)
        height, width = self.generated_size

        final = {}

        def keep_latents(pipeline, step, timestep, callback_kwargs):
            final["latents"] = callback_kwargs["latents"]
            return callback_kwargs

        # 2. denoise with attention capture; decode with the matting head's hook when given
        guided = s.guidance > 1.0
        head_capture = (capture_decoder_features(pipe.vae, transform=lambda feature: self.head(feature.float()))
                        if self.head is not None else nullcontext())
        with capture_attention(pipe.unet, self.token_indices, self.latent_size, s.steps,
                               s.attention_steps, guided=guided) as attention, head_capture as head_features:
            screen = pipe(
                prompt=s.prompt,
                negative_prompt=s.negative_prompt or None,
                height=height,
                width=width,
                num_inference_steps=s.steps,
                guidance_scale=s.guidance,
                latents=latents,
                generator=sampler_generator(self.seed),
                output_type="np",
                callback_on_step_end=keep_latents,
            ).images[0].astype(np.float32)

        # 3. a model overflowing in its precision gives inf / NaN latents: refuse them
        final_latents = final["latents"].float().cpu()
        if not torch.isfinite(final_latents).all():
            raise SettingError(f"{self.model.precision}: frame {frame}'s denoised latents are not finite (the model "
                               "overflows in this precision); use fp32 or bf16", setting="precision")

        # 4. the decoded image is sRGB-encoded display-referred; refuse it when not finite
        # (the VAE overflowing in its precision); linearise to the working space
        if not np.isfinite(screen).all():
            raise SettingError(f"{self.model.precision}: frame {frame}'s decoded image is not finite "
                               f"({int((~np.isfinite(screen)).sum())} values; the VAE overflows in this precision); "
                               "use fp32 or bf16", setting="precision")
        crop = self._crop
        screen = np.ascontiguousarray(screen[crop])
        rgb = convert(screen, DISPLAY_SPACE, s.working_space)

        # 5. coarse masks: the attention hint, and the matting head's output if any
        hint = np.ascontiguousarray(binarise(attention.soft_map(), (height, width))[crop])
        head_mask = None
        if self.head is not None:
            mask = head_features.output(pipe.vae, self.latent_size)[0, 0]   # tiles joined when the VAE tiles
            head_mask = np.ascontiguousarray(mask.float().cpu().numpy()[crop])
        return GeneratedFrame(frame=frame, rgb=rgb, screen=screen, hint=hint, head_mask=head_mask,
                              latents=final_latents)

    @property
    def _crop(self) -> tuple[slice, slice]:
        """Rows and columns of the settings' size, centred in the generated size."""
        (height, width), s = self.generated_size, self.settings
        top, left = (height - s.height) // 2, (width - s.width) // 2
        return slice(top, top + s.height), slice(left, left + s.width)


def check_head_key(head_key: str, key: str | tuple[float, float, float]) -> None:
    """VfxkeyError when a matting head trained on ``head_key`` screens (a name or ``#RRGGBB``)
    is used on ``key`` whose dominant colour channel differs (blue for a green head): the head
    would call the other colour's background subject and the keyer make it opaque."""
    trained = KEY_SRGB[head_key] if head_key in KEY_SRGB else parse_key(head_key)
    given = KEY_SRGB[key] if isinstance(key, str) else key
    if int(np.argmax(trained)) != int(np.argmax(given)):
        raise VfxkeyError(f"the matting head was trained on {head_key} screens and the key is {key_text(key)}: "
                          "a head marks another colour's background as subject; train a head on this key "
                          "or generate without one")
