"""How a loaded model runs besides its weights and precision: LoRA scale, memory savers, determinism.

Kept apart from :mod:`.model` (which imports diffusers) so the shot spec can hold one without
loading torch. Applied by :func:`vfxkey.generate.model.load_model`; recorded in every output.
"""

from __future__ import annotations

from dataclasses import dataclass

from vfxkey.fields import setting

# The largest VAE tile side, pixels, with ``vae_tiling``. diffusers takes a VAE's own
# ``sample_size``: 512 for SD1.5's, 1024 for SDXL's, with which tiling saved nothing for SDXL up
# to 1024x1024. 512 px tiles take SDXL's 1024x1024 decode from +3889 to +1526 MiB and its
# 1920x1080 one from +4088 (1024 px tiles) to +2379 MiB (bench/generate_memory.py, fp32 CPU);
# docs/generate.md has the figures and what the smaller tiles change in the pixels.
VAE_TILE_PX = 512


@dataclass(frozen=True)
class RunOptions:
    """How a loaded model runs, besides its precision.

    - ``lora_scale``: the LoRA's weight (1 = as trained, 0 = without it);
    - ``offload``: diffusers' model CPU offload: each part (text encoders, UNet, VAE) moves to
      the GPU only while it runs (a GPU only; same pixels, less GPU memory, slower);
    - ``vae_tiling``: the VAE decodes (and encodes) in overlapping tiles blended together
      (diffusers' tiled decode), tiles of at most :data:`VAE_TILE_PX` pixels (a VAE whose own
      sample size is smaller keeps it): a 1080p decode's memory stays about that of one tile.
      The pixels differ slightly from an untiled decode, so it is part of the settings, recorded
      as the tile size (``vae_tiling``: 0 untiled, else :data:`VAE_TILE_PX`);
    - ``attention_slicing``: **deprecated**. diffusers' sliced attention, a few heads at a time,
      replaces torch's scaled-dot-product attention, which already never holds the attention
      matrix, with one that holds a slice of it: **more** memory, not less, and slower (a
      full-size SD1.5 UNet step at 1024x1024: +8835 MiB instead of +1261 MiB,
      ``bench/generate_memory.py``). vfxkey needs torch >= 2.1, which has that attention on the
      CPU and on CUDA, so there is no run it helps; it still runs as asked (frames made with it
      stay reproducible) and is warned (:meth:`cautions`);
    - ``deterministic``: torch's deterministic algorithms (``torch.use_deterministic_algorithms``,
      cuDNN deterministic without benchmarking, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``): on a
      GPU, the same bits for the same settings on the same GPU model and driver; an operation
      without a deterministic kernel then stops the run instead of varying.
    """

    # The settings (vfxkey.fields): generate's and edit's [element] keys and their commands' options.
    lora_scale: float = setting(1.0, "Weight of the LoRA (0 = without it, 1 = as trained).", minimum=0.0)
    offload: bool = setting(False, "GPU only: move each part of the model (text encoders, UNet, VAE) to the GPU "
                                   "only while it runs. Same pixels, much less GPU memory, slower.")
    vae_tiling: bool = setting(False, "Decode (and encode) in overlapping tiles of 512 px: the VAE's memory stays "
                                      "about that of one tile at any size. Pixels differ slightly from an untiled "
                                      "decode (recorded); works with a matting head.")
    attention_slicing: bool = setting(False, "Deprecated, to be removed: diffusers' sliced attention costs MORE "
                                             "memory and time than torch's default attention, not less (warned; "
                                             "docs/generate.md).")
    deterministic: bool = setting(False, "torch's deterministic algorithms: on a GPU the same bits for the same "
                                         "settings on the same GPU model and driver (recorded; an operation with no "
                                         "deterministic kernel stops the run). Without it a GPU may vary in the last "
                                         "bits between runs.")

    def cautions(self) -> list[str]:
        """Warnings for a run with these options: a memory saver that costs memory."""
        if not self.attention_slicing:
            return []
        return ["attention slicing (attention_slicing) is deprecated and will be removed: it replaces torch's "
                "memory-efficient attention with diffusers' sliced attention, which holds part of the attention "
                "matrix, so it costs memory and time instead of saving them (a full-size SD1.5 UNet step at "
                "1024x1024: +8835 MiB instead of +1261 MiB); leave it off and use VAE tiling or offload"]

    def metadata(self) -> dict[str, int | float]:
        return {"lora_scale": self.lora_scale, "offload": int(self.offload),
                "vae_tiling": VAE_TILE_PX if self.vae_tiling else 0, "attention_slicing": int(self.attention_slicing),
                "deterministic": int(self.deterministic)}
