"""How a loaded model runs besides its weights and precision: LoRA scale, memory savers, determinism.

Kept apart from :mod:`.model` (which imports diffusers) so the shot spec can hold one without
loading torch. Applied by :func:`vfxkey.generate.model.load_model`; recorded in every output.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunOptions:
    """How a loaded model runs, besides its precision.

    - ``lora_scale``: the LoRA's weight (1 = as trained, 0 = without it);
    - ``offload``: diffusers' model CPU offload: each part (text encoders, UNet, VAE) moves to
      the GPU only while it runs (a GPU only; same pixels, less GPU memory, slower);
    - ``vae_tiling``: the VAE decodes (and encodes) in overlapping tiles blended together
      (diffusers' ``enable_tiling``): a 1080p decode's memory stays that of one tile; the
      pixels differ slightly from an untiled decode, so it is part of the settings;
    - ``attention_slicing``: attention computed one head slice at a time (less memory);
    - ``deterministic``: torch's deterministic algorithms (``torch.use_deterministic_algorithms``,
      cuDNN deterministic without benchmarking, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``): on a
      GPU, the same bits for the same settings on the same GPU model and driver; an operation
      without a deterministic kernel then stops the run instead of varying.
    """

    lora_scale: float = 1.0
    offload: bool = False
    vae_tiling: bool = False
    attention_slicing: bool = False
    deterministic: bool = False

    def metadata(self) -> dict[str, int | float]:
        return {"lora_scale": self.lora_scale, "offload": int(self.offload), "vae_tiling": int(self.vae_tiling),
                "attention_slicing": int(self.attention_slicing), "deterministic": int(self.deterministic)}
