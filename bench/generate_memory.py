"""Peak memory of one generated frame on full-size SD1.5 and SDXL architectures, through vfxkey.

    python bench/generate_memory.py --family sd15 --size 1024x1024 [--tiling] [--slicing] [--head] [--only unet|decode]
    python bench/generate_memory.py --check-configs      # parameter counts only (no weights allocated)

No weights can be downloaded here, so the UNet and VAE are built from their published diffusers
configs (:data:`CONFIGS`, written out below with their source) with random weights, in fp32
on the CPU. Memory is what the architecture, size and switches fix; the pixels are noise.
The text encoders are replaced by one-layer random CLIP encoders of the real widths (768 for
SD1.5; 768 + 1280 with a 1280 pooled projection for SDXL), so the UNet gets prompt embeddings of
the real shapes (77x768; 77x2048, pooled 1280 and the six time ids) without the real
encoders' 0.5 GB (SD1.5) / 3 GB (SDXL) of weights; that difference is stated, not measured.

Each configuration runs in its own process (``VmHWM`` is a process's high-water mark), through vfxkey's own code: :func:`vfxkey.generate.model.apply_run_options` switches the
memory savers on exactly as ``load_model`` does, and :class:`~vfxkey.generate.pipeline.KeyedGenerator`
makes one frame with one DDIM step at guidance 7.5 (the UNet runs on a batch of 2, negative and
positive prompt, as vfxkey always runs it), capturing the cross-attention hint on that step and,
with ``--head``, the matting head's mask from the decoder feature (joined from the tiles when
tiling). The process's peak resident memory is split into phases by resetting the kernel's
high-water mark (``/proc/self/clear_refs``) between them:

1. **runtime**: python, torch, diffusers and vfxkey imported;
2. **weights**: the pipeline built (UNet + VAE + the small encoders) and placed;
3. **UNet step**: prompt encoding, TKG-DM noise and one UNet call on the CFG batch of 2, up to
   the first call of the VAE decoder;
4. **VAE decode**: the latent decoded (and the head's mask), the image post-processed.

For each phase the peak and what it adds over the resident memory when it started are printed
as JSON (``--json``) and as one line. Offload is not measured: vfxkey refuses it on the CPU
(there is no GPU to offload from). Run one configuration at a time; figures and method are in
``docs/generate.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests" / "generate"

# Published diffusers configs (values as in the repositories' JSON files; keys whose value is
# diffusers' default are left out):
# - SD1.5: stable-diffusion-v1-5/stable-diffusion-v1-5, unet/config.json and vae/config.json
# - SDXL base: stabilityai/stable-diffusion-xl-base-1.0, unet/config.json and vae/config.json
# (In these configs ``attention_head_dim`` is the number of heads: 8 for SD1.5, 5/10/20 for SDXL.)
CONFIGS = {
    "sd15": {
        "unet": dict(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, norm_num_groups=32,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=768, attention_head_dim=8,
        ),
        "vae": dict(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            sample_size=512, scaling_factor=0.18215,
        ),
        "text_widths": (768,),
    },
    "sdxl": {
        "unet": dict(
            sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, norm_num_groups=32,
            block_out_channels=(320, 640, 1280),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048, use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        ),
        "vae": dict(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            sample_size=1024, scaling_factor=0.13025, force_upcast=True,
        ),
        "text_widths": (768, 1280),
    },
}
# Parameter counts of the published models, to check the configs above against.
PUBLISHED_PARAMETERS = {("sd15", "unet"): 859_520_964, ("sdxl", "unet"): 2_567_463_684,
                        ("sd15", "vae"): 83_653_863, ("sdxl", "vae"): 83_653_863}
PROMPT = "a red apple on a table"


def parameter_counts() -> dict[str, int]:
    """Parameters of each configured UNet and VAE, built on the meta device (nothing allocated)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    counts = {}
    with torch.device("meta"):
        for family, config in CONFIGS.items():
            counts[f"{family} unet"] = sum(p.numel() for p in UNet2DConditionModel(**config["unet"]).parameters())
            counts[f"{family} vae"] = sum(p.numel() for p in AutoencoderKL(**config["vae"]).parameters())
    return counts


def text_encoder(tokenizer, width: int, projection: bool):
    """A one-layer random CLIP text encoder of the real hidden ``width`` (embeddings of the real shape)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    vocab = len(tokenizer)
    config = CLIPTextConfig(vocab_size=vocab, hidden_size=width, intermediate_size=width, num_hidden_layers=1,
                            num_attention_heads=width // 64, max_position_embeddings=77, projection_dim=width,
                            bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config).eval()


def build_pipeline(family: str):
    """``family``'s pipeline with the full-size UNet and VAE, random weights, fp32 on the CPU."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, StableDiffusionXLPipeline, UNet2DConditionModel

    sys.path.insert(0, str(TESTS))
    from tiny_models import build_scheduler, build_tokenizer

    config = CONFIGS[family]
    torch.manual_seed(0)
    with torch.no_grad():
        unet = UNet2DConditionModel(**config["unet"]).eval()
        vae = AutoencoderKL(**config["vae"]).eval()
    tokenizer = build_tokenizer()
    scheduler = build_scheduler()   # DDIM, as vfxkey's default
    if family == "sd15":
        return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder(tokenizer, 768, False), tokenizer=tokenizer,
                                       unet=unet, scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    return StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder(tokenizer, 768, False),
                                     text_encoder_2=text_encoder(tokenizer, 1280, True), tokenizer=tokenizer,
                                     tokenizer_2=tokenizer, unet=unet, scheduler=scheduler, add_watermarker=False)


class Phases:
    """Peak resident memory per phase, from the kernel's high-water mark reset between phases."""

    def __init__(self):
        self.marks: list[dict] = []
        self._libc = ctypes.CDLL("libc.so.6")
        self._start = self._reset()

    @staticmethod
    def _status(field: str) -> float:
        """``field`` of /proc/self/status in MiB."""
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"/proc/self/status has no {field}")

    def _reset(self) -> dict:
        self._libc.malloc_trim(0)   # freed heap back to the system, so the next phase starts from what is live
        Path("/proc/self/clear_refs").write_text("5")   # VmHWM := VmRSS
        return {"rss_mib": self._status("VmRSS"), "time": time.perf_counter()}

    def mark(self, name: str) -> None:
        """End the phase ``name`` now: record its peak, then start the next one."""
        peak = self._status("VmHWM")
        self.marks.append({"phase": name, "peak_mib": round(peak), "start_mib": round(self._start["rss_mib"]),
                           "adds_mib": round(peak - self._start["rss_mib"]),
                           "seconds": round(time.perf_counter() - self._start["time"], 1)})
        self._start = self._reset()


class _StopAfterUNet(Exception):
    """Raised when the decoder starts, to end a UNet-only measurement there."""


def measure(family: str, width: int, height: int, tiling: bool, slicing: bool, head: bool, only: str | None,
            cli_malloc: bool = False, tile: int | None = None) -> dict:
    """One frame of ``family`` at ``width`` x ``height`` in this process; the phases' peaks.

    ``only="unet"`` stops when the decoder starts; ``only="decode"`` skips the UNet and decodes
    one random latent of the size the way the pipeline decodes (the VAE's ``decode`` and the
    image processor), with vfxkey's decoder-feature hook and, when tiling, its tile join.
    ``cli_malloc``: glibc's thresholds and arenas as the ``vfxkey`` command sets them
    (:func:`vfxkey.cli.memory.reuse_frame_memory`); without it, glibc's defaults (vfxkey as a library).
    ``tile``: with ``tiling``, tiles of this many pixels instead of vfxkey's (``VAE_TILE_PX``, or the
    VAE's own sample size if smaller), e.g. 1024 for SDXL's own.
    """
    if cli_malloc:
        from vfxkey.cli.memory import reuse_frame_memory

        assert reuse_frame_memory()
    phases = Phases()
    import torch

    from vfxkey.generate.decoder_features import capture_decoder_features
    from vfxkey.generate.head import MattingHead
    from vfxkey.generate.model import LoadedModel, apply_run_options
    from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
    from vfxkey.generate.run_options import RunOptions

    torch.set_num_threads(1)
    phases.mark("runtime")
    options = RunOptions(vae_tiling=tiling, attention_slicing=slicing)
    with torch.no_grad():
        pipe = apply_run_options(build_pipeline(family), options, torch.device("cpu"))
    if tiling and tile:
        pipe.vae.tile_sample_min_size, pipe.vae.tile_latent_min_size = tile, tile // pipe.vae_scale_factor
    model = LoadedModel(pipe=pipe, family=family, path=Path(f"random-{family}"), hash="random", options=options)
    settings = GenerationSettings(prompt=PROMPT, width=width, height=height, steps=1, guidance=7.5,
                                  attention_steps=1)
    matting_head = MattingHead().eval() if head else None
    generator = KeyedGenerator(model, settings, seed=1, head=matting_head)
    phases.mark("weights")

    if only == "decode":
        latent_size = generator.latent_size
        latents = torch.randn(1, 4, *latent_size)
        with torch.no_grad(), capture_decoder_features(pipe.vae, transform=matting_head) as features:
            image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
            image = pipe.image_processor.postprocess(image, output_type="np")[0]
            mask = features.output(pipe.vae, latent_size) if head else None
        phases.mark("vae_decode")
        assert image.shape == (height, width, 3) and (mask is None or mask.shape[-2:] == (height, width))
    else:
        def decoder_starts(module, args):
            if not phases.marks or phases.marks[-1]["phase"] != "unet_step":
                phases.mark("unet_step")
                if only == "unet":
                    raise _StopAfterUNet

        hook = pipe.vae.decoder.register_forward_pre_hook(decoder_starts)   # once per tile when tiling
        try:
            frame = generator(1)
            phases.mark("vae_decode")
            assert frame.rgb.shape == (height, width, 3) and (frame.head_mask is not None) == head
        except _StopAfterUNet:
            pass
        hook.remove()
    return {"family": family, "size": f"{width}x{height}", "tiling": tiling,
            "tile_px": pipe.vae.tile_sample_min_size if tiling else 0, "slicing": slicing, "head": head,
            "only": only or "frame", "cli_malloc": cli_malloc, "dtype": "fp32", "phases": phases.marks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=tuple(CONFIGS), default="sd15")
    parser.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT in pixels")
    parser.add_argument("--tiling", action="store_true", help="VAE tiling (vfxkey's vae_tiling)")
    parser.add_argument("--tile", type=int, help="with --tiling: this tile size in pixels instead of vfxkey's")
    parser.add_argument("--slicing", action="store_true", help="attention slicing (vfxkey's attention_slicing)")
    parser.add_argument("--head", action="store_true", help="a (random) matting head on the decoder feature")
    parser.add_argument("--only", choices=("unet", "decode"),
                        help="measure the UNet step alone (stop at the decode) or the decode alone (no UNet step)")
    parser.add_argument("--cli-malloc", action="store_true",
                        help="glibc's allocator set as the vfxkey command sets it (mmap and trim thresholds 256 MiB)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--check-configs", action="store_true", help="compare parameter counts with the published")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check_configs:
        for name, count in parameter_counts().items():
            published = PUBLISHED_PARAMETERS[tuple(name.split())]
            print(f"{name}: {count:,} parameters (published {published:,}){'' if count == published else ' MISMATCH'}")
        return
    width, height = (int(v) for v in args.size.split("x"))
    if args.child:
        print(json.dumps(measure(args.family, width, height, args.tiling, args.slicing, args.head, args.only,
                                 args.cli_malloc, args.tile)))
        return
    argv = [sys.executable, __file__, "--child", "--family", args.family, "--size", args.size]
    argv += ["--only", args.only] if args.only else []
    argv += ["--tile", str(args.tile)] if args.tile else []
    argv += [flag for flag, on in (("--tiling", args.tiling), ("--slicing", args.slicing), ("--head", args.head),
                                   ("--cli-malloc", args.cli_malloc)) if on]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"the measuring process failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # the process's peak is the highest phase's (resetting the high-water mark resets ru_maxrss too)
    result["process_peak_mib"] = max(mark["peak_mib"] for mark in result["phases"])
    if args.json:
        print(json.dumps(result))
        return
    what = {"frame": "one frame", "unet": "UNet step only", "decode": "decode only"}[result["only"]]
    switches = ", ".join(f"tiling ({result['tile_px']} px tiles)" if name == "tiling" else name
                         for name in ("tiling", "slicing", "head") if result[name]) or "no savers"
    phases = "; ".join(f"{m['phase']} peak {m['peak_mib']} (+{m['adds_mib']}) MiB in {m['seconds']} s"
                       for m in result["phases"])
    print(f"{args.family} {args.size} fp32 CPU, {what}, {switches}: process peak {result['process_peak_mib']} MiB; {phases}")


if __name__ == "__main__":
    main()
