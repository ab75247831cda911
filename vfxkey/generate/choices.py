"""The names a generation setting may take, in one place, without loading torch.

The model loader, the noise code, the shot spec reader and the command line all take
their lists from here, so a sampler or mode added once is offered, checked and
documented everywhere.
"""

SCHEDULER_NAMES = ("ddim", "euler", "euler_a", "dpmpp")  # model.SCHEDULERS: the diffusers class of each
PRECISION_NAMES = ("fp32", "fp16", "bf16")  # model.PRECISIONS: the torch dtype of each
TEMPORAL_MODES = ("locked", "drift", "follow")  # how the noise goes across frames (noise.keyed_noise)
KEY_DIRECTIONS = ("vae", "published")  # where a key's latent direction comes from (noise.key_direction)

# TKG-DM's target shift per model family (noise.shift_delta; REFERENCE 1.1). SDXL's 0.11 is the
# authors' code's. SD1.5's was the diffusers port's 0.07; it is 0.10 since issue 24, chosen on
# bench/generate_quality.py's dev prompts on the toy model (the smallest shift of 0.05, 0.07,
# 0.10, 0.15 that keeps half the background on a green key, 0.3 more than plain noise, with the
# subject's colour within 15 % of plain noise's; bench/generate_quality.md).
DEFAULT_TARGET_SHIFT = {"sd15": 0.10, "sdxl": 0.11}


def keyable(srgb: tuple[float, float, float]) -> bool:
    """Whether the keyer can key a screen of this colour (sRGB-encoded or linear: the order of
    the channels is the same): its green or blue leads its red (a key's or a screen's colour)."""
    r, g, b = srgb
    return max(g, b) > r
