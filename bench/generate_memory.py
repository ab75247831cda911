"""Peak memory of a full-size Stable Diffusion VAE decode, with and without VAE tiling.

    python bench/generate_memory.py --size 1920x1080 [--tiling] [--dtype fp32|bf16]

Builds SD1.5's / SDXL's ``AutoencoderKL`` architecture (the two share it: 128-256-512-512
channels, 2 layers per block) with random weights (no weights can be downloaded here), decodes
one random latent of ``--size`` on the CPU in a fresh process, and prints the process's peak
resident memory (``ru_maxrss``) and that of a process that only built the VAE, so their
difference is what the decode itself needs. Pixels are meaningless; memory is what the
architecture and size fix. Run one configuration at a time (the machine is shared):
figures are in ``docs/generate.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4,
              down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
              block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32, sample_size=512)


def measure(width: int, height: int, tiling: bool, dtype: str, decode: bool) -> dict:
    import torch
    from diffusers import AutoencoderKL

    torch.set_num_threads(2)
    vae = AutoencoderKL(**SD_VAE).eval().to({"fp32": torch.float32, "bf16": torch.bfloat16}[dtype])
    if tiling:
        vae.enable_tiling()
    if decode:
        latent = torch.randn(1, 4, height // 8, width // 8, dtype=vae.dtype)
        with torch.no_grad():
            image = vae.decode(latent).sample
        assert image.shape[-2:] == (height, width)
    return {"size": f"{width}x{height}", "tiling": tiling, "dtype": dtype, "decode": decode,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--tiling", action="store_true")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--child", choices=("build", "decode"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    if args.child:
        print(json.dumps(measure(width, height, args.tiling, args.dtype, args.child == "decode")))
        return
    results = []
    for child in ("build", "decode"):  # each in a fresh process: ru_maxrss is a process's high-water mark
        argv = [sys.executable, __file__, "--size", args.size, "--dtype", args.dtype, "--child", child]
        out = subprocess.run(argv + (["--tiling"] if args.tiling else []), capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    built, decoded = results
    print(f"VAE decode {args.size} {args.dtype} tiling={'on' if args.tiling else 'off'}: peak {decoded['peak_mib']:.0f} "
          f"MiB (VAE built, no decode: {built['peak_mib']:.0f} MiB; decode adds "
          f"{decoded['peak_mib'] - built['peak_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
