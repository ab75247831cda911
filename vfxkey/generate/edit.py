"""The edit loop: one frame changed by an edit prompt without re-imagining it (Tight Inversion).

For each frame, read top to bottom like a diffusers pipeline:

1. **prepare**: a keyed element (a frame with alpha) is composited, premultiplied, over its
   key colour (scene-linear), so the model sees what it would have generated; the frame
   is converted to the model's image space, sRGB-encoded (display-referred) 0..1
   (values outside are clipped, so highlights above display white do not survive an edit);
2. **encode**: the VAE's mean latent ``z_0`` (not a sample: nothing here is random); a
   float16 VAE that asks for it (``force_upcast``, SDXL's) encodes and decodes in float32,
   and latents or pixels that are not finite (a model overflowing in its precision) stop
   the frame with an error naming it;
3. **image condition**: the IP-Adapter embedding of that image (:mod:`.adapter`);
4. **invert**: DDIM inversion under the source prompt, the image embedding at ``ip_scale``
   and no guidance, refined to the exact fixed point (:func:`.invert.invert`);
5. **denoise**: DDIM steps under the edit prompt, the image embedding at ``edit_ip_scale``
   and ``guidance``; with a mask, the latent outside it follows the inversion
   (:func:`.invert.denoise`). A keyed input's **background is held** (``hold_background``):
   its subject (alpha at least :data:`SUBJECT_ALPHA`) grown by one latent pixel is a mask
   of its own (:func:`subject_mask`, times the user's mask if any), so outside the subject
   the latent follows the inversion back to the source's ``z_0``, which is on the key;
6. **decode**: VAE decode, sRGB-encoded 0..1 -> scene-linear working space;
7. **key**: a keyed input is keyed again on its key colour (:mod:`.keycolour`, GreenPost,
   with the shot's keyer settings as a generated element is) into a premultiplied element,
   its QC verdicts and warnings kept; a plate keeps alpha 1;
8. **mask**: ``out = m * edited + (1 - m) * source`` with the mask feathered *inside* its
   edge (a held background's mask ramps over its one latent pixel of growth); where
   ``m = 0`` the output is the source's own values, bit for bit.

The result is handed to the writer by the caller. A frame depends only on itself, its
mask, the model and the settings, so any chunking of a shot gives the same frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from vfxkey.errors import SettingError, VfxkeyError, where
from vfxkey.generate.adapter import IPAdapter, encode_image
from vfxkey.generate.edit_settings import EditSettings
from vfxkey.generate.invert import (
    NoisePredictor,
    Schedule,
    condition,
    denoise,
    invert,
    relative_error,
)
from vfxkey.generate.keycolour import KeyColour, key_on_screen
from vfxkey.generate.model import LoadedModel, upcast_vae
from vfxkey.generate.run_options import RunOptions
from vfxkey.io.colour import DISPLAY_SPACE, convert
from vfxkey.io.frame import Frame
from vfxkey.matte.failures import keying
from vfxkey.matte.greenpost import KeySettings

# Holding a keyed element's background (steps 5 and 8): its subject is where the source's alpha
# is at least SUBJECT_ALPHA (the toy model's backgrounds carry faint specks below it), grown by
# one latent pixel (the VAE's factor in pixels), the room an edit has to change the outline.
SUBJECT_ALPHA = 0.5


@dataclass
class EditedFrame:
    """One edited frame."""

    frame: int
    rgba: np.ndarray            # (H, W, 4) float32, premultiplied, scene-linear, working space
    screen: np.ndarray          # (H, W, 3) float32, the decoded edit as is: sRGB-encoded 0..1
    latent_error: float         # ||z_edited - z_0|| / ||z_0||: the reconstruction error in reconstruct mode
    psnr: float                 # dB, decoded edit vs the image the model was given (sRGB-encoded 0..1)
    unet_calls: int
    qc: dict = field(default_factory=dict)  # a keyed input's: the re-key's verdicts and warnings, and the hold's


def feather(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` (``(H, W)`` 0..1, 1 = edit) with a soft inside edge: 0 stays 0, and the ramp
    reaches the mask's value ``pixels`` pixels (Euclidean) inside its edge."""
    if pixels == 0:
        return mask.astype(np.float32)
    inside = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 5)
    return (mask * np.clip(inside / pixels, 0.0, 1.0)).astype(np.float32)


def subject_mask(alpha: np.ndarray, margin: int) -> np.ndarray:
    """Where a keyed element may change (``(H, W)`` 0..1, 1 = change): its subject (``alpha``
    ``(H, W)`` at least :data:`SUBJECT_ALPHA`) grown by ``margin`` pixels, ramping from 1 at the
    subject's edge to 0 at the grown edge (:func:`feather`); 0 holds the source's background."""
    subject = (alpha >= SUBJECT_ALPHA).astype(np.uint8)
    grown = cv2.dilate(subject, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1,) * 2))
    return feather(grown.astype(np.float32), margin)


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two 0..1 images (``inf`` when equal)."""
    mse = float(np.mean((image.astype(np.float64) - reference) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def load_editor(settings: EditSettings, key: str | tuple[float, float, float], model_path: str,
                model_config: str | None, adapter: IPAdapter, allow_pickle: bool = False, *,
                precision: str | None = None, lora: str | None = None, options: RunOptions = RunOptions(),
                keyer: KeySettings = KeySettings()) -> Editor:
    """Load the model for DDIM in ``precision`` (None: fp16 on CUDA, fp32 on the CPU) with
    ``lora`` and ``options``, attach ``adapter`` and build the :class:`Editor` of ``settings``
    keying on ``key`` (a name or sRGB 0..1 triple, ``noise.parse_key``) with the ``keyer``
    settings. What the outputs record of the model, :func:`.provenance.planned_model_metadata`
    gives without loading it."""
    from vfxkey.generate.model import load_model

    model = load_model(model_path, config=model_config, scheduler="ddim", allow_pickle=allow_pickle,
                       precision=precision, lora=lora, options=options)
    adapter.attach(model)
    return Editor(model, settings, KeyColour.of(key, settings.working_space), keyer)


class Editor:
    """Edits frames with one loaded model (an IP-Adapter attached, or none) and fixed settings."""

    def __init__(self, model: LoadedModel, settings: EditSettings, key: KeyColour | None = None,
                 keyer: KeySettings = KeySettings()):
        settings.check()
        self.model, self.settings, self.keyer = model, settings, keyer
        self.key = key or KeyColour.of("green", settings.working_space)
        self.schedule = Schedule.ddim(model.pipe.scheduler, settings.steps, settings.strength)
        self.adapter = getattr(model.pipe.unet, "encoder_hid_proj", None) is not None

    def __call__(self, frame: Frame, mask: np.ndarray | None = None) -> EditedFrame:
        """Edit ``frame`` (scene-linear, working space); ``mask`` ``(H, W)`` 0..1, 1 = change."""
        s, pipe, model = self.settings, self.model.pipe, self.model
        height, width = frame.rgb.shape[:2]
        scale = pipe.vae_scale_factor
        if height % scale or width % scale:
            raise VfxkeyError(f"{where(frame.source, frame.number)}: {width}x{height} is not a multiple of "
                              f"{scale} pixels on both sides, as the model's VAE needs")
        source = frame.premultiplied_rgba()
        keyed = frame.alpha is not None

        # 1. prepare: a keyed element over its key colour; into the model's sRGB-encoded 0..1
        linear = source[..., :3]
        if keyed:
            linear = linear + (1.0 - source[..., 3:]) * np.array(self.key.linear, np.float32)
        image = np.clip(convert(linear, s.working_space, DISPLAY_SPACE), 0.0, 1.0)
        # a held background leaves only the subject to edit; without one, the frame is the input's
        held = subject_mask(source[..., 3], scale) if keyed and s.hold_background else None
        if held is not None and not held.any():
            warning = (f"no alpha of {SUBJECT_ALPHA} or more: with its background held there is no subject to "
                       "edit, so the frame is the input's (hold_background off edits it all)")
            return EditedFrame(frame=frame.number, rgba=source, screen=image, latent_error=0.0, psnr=math.inf,
                               unet_calls=0, qc={"verdicts": ["blank_key"], "warnings": [warning]})

        # 2. encode: the VAE's mean latent (in float32 for a float16 VAE that overflows, as SDXL's does)
        pixels = torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1
        with torch.no_grad(), upcast_vae(pipe.vae) as vae_dtype:
            z_0 = pipe.vae.encode(pixels.to(model.device, vae_dtype)).latent_dist.mean
        z_0 = self._finite(z_0 * pipe.vae.config.scaling_factor, "VAE's encoding", frame).to(model.dtype)

        # 3. image condition: the IP-Adapter embedding of the source image
        embeds = encode_image(pipe, image) if self.adapter else None

        # 4. invert: source prompt, image at ip_scale, no guidance, exact by fixed-point refinement
        inverting = NoisePredictor(model, condition(model, s.source_prompt, image_embeds=embeds,
                                                    ip_scale=s.ip_scale, size=(height, width)))
        trajectory = invert(z_0, inverting, self.schedule, s.inversion_iters)

        # 5. denoise: edit prompt, image at edit_ip_scale, guidance; outside the mask follow the inversion
        editing = NoisePredictor(model, condition(model, s.prompt, negative_prompt=s.negative_prompt,
                                                  guidance=s.guidance, image_embeds=embeds,
                                                  ip_scale=s.edit_ip_scale, size=(height, width)))
        soft = feather(mask, s.feather) if mask is not None else None
        if held is not None:  # a keyed input's background is held: only its subject changes
            soft = held if soft is None else soft * held
        latent_mask = None
        if soft is not None:
            small = cv2.resize(soft, (width // scale, height // scale), interpolation=cv2.INTER_AREA)
            latent_mask = torch.from_numpy(small)[None, None].to(model.device, model.dtype)
        z_edit = denoise(trajectory[-1], editing, self.schedule, mask=latent_mask, trajectory=trajectory)

        # 6. decode (upcast like the encode): sRGB-encoded 0..1, then scene-linear in the working space
        with torch.no_grad(), upcast_vae(pipe.vae) as vae_dtype:
            decoded = pipe.vae.decode(self._finite(z_edit, "edited latent", frame).to(vae_dtype)
                                      / pipe.vae.config.scaling_factor).sample
        decoded = self._finite(decoded, "decoded edit", frame)
        screen = (decoded[0].permute(1, 2, 0).float().cpu().numpy() / 2 + 0.5).clip(0.0, 1.0).astype(np.float32)
        edited_rgb = convert(screen, DISPLAY_SPACE, s.working_space)

        # 7. key: a keyed input is keyed again on its key colour; a plate keeps alpha 1
        if keyed:
            try:
                with keying(frame.source, frame.number, (width, height)):
                    keyed_again = key_on_screen(edited_rgb, self.key, settings=self.keyer)
                    edited = keyed_again.premultiplied_rgba()
            except ValueError as exc:  # the edit left no key-colour background
                raise VfxkeyError(f"{where(frame.source, frame.number)}: edited frame: {exc}") from None
            qc = {"verdicts": keyed_again.qc["verdicts"], "warnings": keyed_again.qc["warnings"]}
        else:
            edited = np.concatenate([edited_rgb, np.ones((height, width, 1), np.float32)], axis=-1)
            qc = {}

        # 8. mask: the source itself where the mask is 0, a feathered blend inside
        rgba = edited.astype(np.float32)
        if soft is not None:
            m = soft[..., None]
            rgba = np.where(m > 0, m * rgba + (1 - m) * source, source).astype(np.float32)
        return EditedFrame(frame=frame.number, rgba=rgba, screen=screen,
                           latent_error=relative_error(z_edit, z_0), psnr=psnr(screen, image),
                           unet_calls=inverting.calls + editing.calls, qc=qc)

    def _finite(self, values: torch.Tensor, what: str, frame: Frame) -> torch.Tensor:
        """``values``, or a VfxkeyError naming the frame when any is inf or NaN (the model
        overflowing in its precision: written out, they would be black)."""
        if not torch.isfinite(values).all():
            raise SettingError(f"{self.model.precision}: the {what} is not finite (the model overflows in this "
                               "precision); use fp32 or bf16", path=frame.source, frame=frame.number,
                               setting="precision")
        return values
