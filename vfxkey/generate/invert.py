"""Tight Inversion (arXiv 2502.20376): DDIM inversion conditioned on the image itself, made exact.

Notation (DDIM, Song et al. 2021, eta = 0): ``a_t`` is ``alphas_cumprod[t]``; ``z_0`` the
clean latent (VAE mean times ``scaling_factor``); ``eps(z_t, t)`` the UNet's noise
prediction. One DDIM step from ``z_t`` to the timestep ``s`` is

    z0_hat = (z_t - sqrt(1 - a_t) eps) / sqrt(a_t)          (predicted clean latent)
    z_s    = sqrt(a_s) z0_hat + sqrt(1 - a_s) eps             (:func:`ddim_step`)

Denoising takes ``s`` less noisy than ``t``; inversion runs the same formula the other way.

1. **Conditioning** (:func:`condition`): every UNet call sees the text prompt *and* the
   IP-Adapter embedding of the source image (:mod:`.adapter`), at its own scale per phase
   (``ip_scale`` for inversion, ``edit_ip_scale`` for editing). Inversion runs without
   guidance (guidance 1: the source prompt and the positive image embedding only); editing
   may use classifier-free guidance ``[negative text + negative image, prompt + image]``.
   Conditioning on the image pins the inversion to this image: the noise it finds
   reconstructs it more faithfully and still follows an edit prompt (Tight Inversion).
2. **Plain DDIM inversion** (:func:`invert`, ``iterations=0``): solve the step for the
   noisier ``z_t`` given ``z_s``, using ``eps(z_s, t)`` for the unknown ``eps(z_t, t)``:
   ``z_t = sqrt(a_t) (z_s - sqrt(1 - a_s) eps) / sqrt(a_s) + sqrt(1 - a_t) eps``.
   It assumes the noise prediction barely changes between the two latents.
3. **Fixed-point refinement** (ReNoise; the Tight Inversion code): repeat step 2 with
   ``eps(z_t^k, t)`` of the current estimate, ``iterations`` times. The fixed point is the
   ``z_t`` whose DDIM denoising step lands exactly on ``z_s``, so denoising with the same
   conditioning retraces the inversion.
4. **Denoising** (:func:`denoise`): DDIM steps from the inverted latent with the edit
   conditioning. With a mask, *blended latent diffusion*: after each step, outside the
   mask the latent is replaced by the inversion's latent at the same timestep, so the edit
   grows into an unchanged surround.

``strength < 1`` inverts only the first ``int(steps * strength)`` of ``steps`` steps (the
least noisy ones, as in image-to-image) and denoises from there. No noise is drawn
anywhere: the result is a pure function of the image, the model and the settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from vfxkey.errors import VfxkeyError
from vfxkey.generate.edit_settings import check_steps


# --- 1. conditioning -----------------------------------------------------------------------

@dataclass
class Conditioning:
    """What the UNet sees besides the latent and the timestep, for one phase (inversion or editing)."""

    text: torch.Tensor         # (B, tokens, width): B = 1, or 2 = [negative, positive] when guided
    added: dict = field(default_factory=dict)  # added_cond_kwargs: image_embeds (a list), SDXL text_embeds, time_ids
    guidance: float = 1.0      # classifier-free guidance scale; 1 = one unguided batch
    ip_scale: float | None = None  # IP-Adapter scale of this phase; None = no adapter

    @property
    def guided(self) -> bool:
        return self.guidance > 1.0


def condition(model, prompt: str, *, negative_prompt: str = "", guidance: float = 1.0,
              image_embeds: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None,
              ip_scale: float | None = None, size: tuple[int, int] | None = None) -> Conditioning:
    """Encode the text (and attach the image embedding) of one phase.

    ``model`` is a :class:`~vfxkey.generate.model.LoadedModel`; ``image_embeds`` is
    ``(positive, negative)`` from :func:`vfxkey.generate.adapter.encode_image`, or None
    without an adapter. ``size`` ``(height, width)`` in pixels is SDXL's size conditioning.
    """
    pipe, device, guided = model.pipe, model.device, guidance > 1.0
    negative = negative_prompt or None
    added: dict = {}
    if model.family == "sdxl":
        text, negative_text, pooled, negative_pooled = pipe.encode_prompt(
            prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=guided,
            negative_prompt=negative)
        height, width = size
        time_ids = pipe._get_add_time_ids((height, width), (0, 0), (height, width), dtype=text.dtype,
                                          text_encoder_projection_dim=pipe.text_encoder_2.config.projection_dim)
        added["text_embeds"] = torch.cat([negative_pooled, pooled]) if guided else pooled
        added["time_ids"] = time_ids.to(device).repeat(2 if guided else 1, 1)
    else:
        text, negative_text = pipe.encode_prompt(prompt, device, 1, guided, negative)
    if guided:
        text = torch.cat([negative_text, text])
    if image_embeds is not None:
        positive, negative_image = image_embeds
        added["image_embeds"] = ([torch.cat([n, p]) for n, p in zip(negative_image, positive)] if guided
                                 else list(positive))
    return Conditioning(text=text, added=added, guidance=guidance,
                        ip_scale=ip_scale if image_embeds is not None else None)


class NoisePredictor:
    """``eps(z_t, t)``: the UNet's noise prediction under one :class:`Conditioning`.

    v-prediction models are converted to ``eps = sqrt(a_t) v + sqrt(1 - a_t) z_t``.
    """

    def __init__(self, model, conditioning: Conditioning):
        self.pipe, self.conditioning = model.pipe, conditioning
        self.alphas = model.pipe.scheduler.alphas_cumprod
        self.prediction = model.pipe.scheduler.config.prediction_type
        if self.prediction not in ("epsilon", "v_prediction"):
            raise VfxkeyError(f"model {model.path} predicts {self.prediction!r}; inversion needs an epsilon- or "
                              "v-prediction model")
        # One IP-Adapter attention processor tells which scale is set (setting it walks every layer).
        self.ip_processor = next((p for p in model.pipe.unet.attn_processors.values() if hasattr(p, "to_k_ip")), None)
        self.calls = 0

    def __call__(self, latents: torch.Tensor, t: int) -> torch.Tensor:
        c, unet = self.conditioning, self.pipe.unet
        if c.ip_scale is not None and self.ip_processor.scale != [c.ip_scale] * len(self.ip_processor.scale):
            self.pipe.set_ip_adapter_scale(c.ip_scale)
        batch = torch.cat([latents, latents]) if c.guided else latents
        timestep = torch.tensor(t, device=latents.device)
        with torch.no_grad():
            out = unet(batch, timestep, encoder_hidden_states=c.text, added_cond_kwargs=c.added or None).sample
        self.calls += 1
        if c.guided:
            unconditional, conditional = out.chunk(2)
            out = unconditional + c.guidance * (conditional - unconditional)
        if self.prediction == "v_prediction":
            a_t = float(self.alphas[t])
            out = math.sqrt(a_t) * out + math.sqrt(1 - a_t) * latents
        return out


# --- the DDIM schedule and step ------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """The denoising steps as DDIMScheduler takes them: ``(t, a_t, a_s)``, noisiest first.

    ``s = t - train_steps // steps`` is the step's target; ``a_s`` is the scheduler's final
    alpha for the last step (``s < 0``).
    """

    steps: tuple[tuple[int, float, float], ...]

    @classmethod
    def ddim(cls, scheduler, steps: int, strength: float = 1.0) -> "Schedule":
        """``steps`` DDIM steps of ``scheduler``'s configuration; the last ``int(steps * strength)`` of them."""
        check_steps(steps, strength)
        scheduler.set_timesteps(steps)
        stride = scheduler.config.num_train_timesteps // steps
        alphas, final = scheduler.alphas_cumprod, float(scheduler.final_alpha_cumprod)
        timesteps = [int(t) for t in scheduler.timesteps][steps - int(steps * strength):]
        return cls(tuple((t, float(alphas[t]), float(alphas[t - stride]) if t - stride >= 0 else final)
                         for t in timesteps))

    def __len__(self) -> int:
        return len(self.steps)


def ddim_step(z_t: torch.Tensor, eps: torch.Tensor, a_t: float, a_s: float) -> torch.Tensor:
    """Move ``z_t`` (at ``a_t``) to ``a_s`` along the DDIM path of ``eps``: both denoising and inversion."""
    z0_hat = (z_t - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    return math.sqrt(a_s) * z0_hat + math.sqrt(1 - a_s) * eps


# --- 2. and 3. inversion -------------------------------------------------------------------

def invert(z_0: torch.Tensor, predict, schedule: Schedule, iterations: int) -> list[torch.Tensor]:
    """Invert the clean latent ``z_0`` along ``schedule``; ``iterations`` fixed-point refinements per step.

    Returns the trajectory ``[z_0, z_{t_n}, ..., z_{t_1}]`` from clean to noisiest: entry
    ``i`` is the latent that denoising step ``len(schedule) - i`` lands on; the last entry
    is where denoising starts. ``iterations = 0`` is plain DDIM inversion.
    """
    trajectory = [z_0]
    for t, a_t, a_s in reversed(schedule.steps):
        z_s = trajectory[-1]
        # 2. plain DDIM inversion: the noise predicted at the less noisy latent
        eps = predict(z_s, t)
        z_t = ddim_step(z_s, eps, a_s, a_t)
        # 3. fixed-point refinement: the z_t whose denoising step lands on z_s
        for _ in range(iterations):
            eps = predict(z_t, t)
            z_t = ddim_step(z_s, eps, a_s, a_t)
        trajectory.append(z_t)
    return trajectory


# --- 4. denoising --------------------------------------------------------------------------

def denoise(z_t: torch.Tensor, predict, schedule: Schedule, *, mask: torch.Tensor | None = None,
            trajectory: list[torch.Tensor] | None = None) -> torch.Tensor:
    """DDIM-denoise ``z_t`` (at the schedule's first timestep) to a clean latent.

    With ``mask`` (``(1, 1, h, w)`` in 0..1 at latent resolution, 1 = edit), each step's
    result outside the mask is taken from ``trajectory`` (:func:`invert`'s output) at the
    step's target timestep.
    """
    for step, (t, a_t, a_s) in enumerate(schedule.steps):
        z_t = ddim_step(z_t, predict(z_t, t), a_t, a_s)
        if mask is not None:
            kept = trajectory[len(schedule) - 1 - step]
            z_t = mask * z_t + (1 - mask) * kept
    return z_t


def relative_error(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """``||estimate - reference|| / ||reference||`` (Frobenius norms)."""
    return float((estimate - reference).float().norm() / reference.float().norm())
