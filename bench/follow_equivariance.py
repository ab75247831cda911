"""Does a model's picture move with its noise? The premise of ``--temporal follow``, measured.

``follow`` moves the initial noise with the foreground region (:func:`vfxkey.generate.noise.temporal_noise`),
which moves the element only if the UNet's prediction of the clean latent moves with its input.
For each model, prompt, seed and timestep: ``z`` unit-Gaussian noise of the model's latent
size, ``x0(z) = (z - sqrt(1 - a_t) eps(z, t)) / sqrt(a_t)`` the clean latent the UNet predicts
(epsilon prediction, ``a_t`` the scheduler's cumulative alpha), and the figure is

    |x0(roll(z, s)) - roll(x0(z), s)| / |roll(x0(z), s)|

over the spatial part (each channel's mean removed), with ``roll`` a circular shift of ``s``
latent pixels to the right (no new noise enters, so only the model can break it): 0 for a
model whose prediction moves with its noise. Beside it, the same figure for a model that would
ignore the shift (``x0(z)`` in place of ``x0(roll(z, s))``): where the first is not well below
the second, moving the noise does not move the picture. The last column is the same pair of
figures for the final latents of a whole sampling run (DDIM, ``STEPS`` steps, guidance
``GUIDANCE``, as ``bench/generate_quality.py`` samples): small differences per step add up.

    python bench/follow_equivariance.py samples/models/toy-ldm [more model folders] [--shift 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vfxkey.generate.model import load_model

PROMPTS = ("a red star", "a blue ball")
SEEDS = range(4)
TIMESTEPS = (999, 900, 700)   # the early steps, where the picture's layout is decided
STEPS, GUIDANCE = 20, 5.0


def x0_prediction(pipe, latents: torch.Tensor, timestep: int, context: torch.Tensor) -> torch.Tensor:
    alpha = pipe.scheduler.alphas_cumprod[timestep]
    eps = pipe.unet(latents, timestep, context).sample
    return (latents - (1 - alpha).sqrt() * eps) / alpha.sqrt()


def spatial(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=(2, 3), keepdim=True)


def relative_errors(moved: torch.Tensor, still: torch.Tensor, shift: int) -> tuple[float, float]:
    """``|moved - roll(still)| / |roll(still)|`` and ``|still - roll(still)| / |roll(still)|``."""
    expected = torch.roll(still, shift, dims=3)
    return float((moved - expected).norm() / expected.norm()), float((still - expected).norm() / expected.norm())


def equivariance_error(path: Path, shift: int) -> dict[int | str, tuple[float, float]]:
    """Per timestep, the mean relative error over PROMPTS x SEEDS and the same for a model ignoring the shift."""
    pipe = load_model(path, scheduler="ddim", device=torch.device("cpu"), dtype=torch.float32).pipe
    pipe.set_progress_bar_config(disable=True)
    shape = (1, pipe.unet.config.in_channels, pipe.unet.config.sample_size, pipe.unet.config.sample_size)
    errors: dict[int | str, list[tuple[float, float]]] = {t: [] for t in (*TIMESTEPS, "final")}
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = pipe.tokenizer([prompt], padding="max_length", max_length=pipe.tokenizer.model_max_length,
                                 truncation=True, return_tensors="pt").input_ids
            context = pipe.text_encoder(ids)[0]
            for seed in SEEDS:
                z = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
                for t in TIMESTEPS:
                    still = spatial(x0_prediction(pipe, z, t, context))
                    moved = spatial(x0_prediction(pipe, torch.roll(z, shift, dims=3), t, context))
                    errors[t].append(relative_errors(moved, still, shift))
                finals = [spatial(pipe(prompt=prompt, latents=latents, num_inference_steps=STEPS,
                                       guidance_scale=GUIDANCE, output_type="latent").images)
                          for latents in (z, torch.roll(z, shift, dims=3))]
                errors["final"].append(relative_errors(finals[1], finals[0], shift))
    return {t: (sum(e for e, _ in v) / len(v), sum(i for _, i in v) / len(v)) for t, v in errors.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--shift", type=int, default=2, help="latent pixels")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"Circular shift {args.shift} latent pixels; each cell: the model / a model ignoring the shift.\n")
    columns = (*TIMESTEPS, "final")
    print("| model | " + " | ".join(f"x0 at t = {t}" for t in TIMESTEPS) + " | final latents |\n|---|"
          + "---|" * len(columns))
    for path in args.models:
        errors = equivariance_error(path, args.shift)
        print(f"| {path} | " + " | ".join(f"{errors[c][0]:.2f} / {errors[c][1]:.2f}" for c in columns) + " |",
              flush=True)


if __name__ == "__main__":
    main()
