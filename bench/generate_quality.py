"""Generation quality measured on the trained toy model: TKG-DM, GSG, matting head, attention hint, time.

Every figure comes from ``samples/models/toy-ldm`` (a small SD1.5-layout model trained here on
procedural elements whose alpha is known, see ``samples/models/README.md``), with fixed
prompts, seeds and settings, so two runs print the same tables. Sections:

1. **TKG-DM**: for each key (green, blue, ``#EB8CBE`` pink) and each way of starting the
   noise: plain noise; plain noise with the prompt "... on a <colour> background"; TKG-DM
   with the published direction (``--key-direction published``: SD1.5 sign pattern for
   green; for other keys the minimum-norm solution against SD1.5's latent-to-RGB preview
   factors) and with the direction derived from this model's VAE (``--key-direction vae``,
   the default: a solid plate of the key encoded, minus mid grey). Measured on the
   *background ring* (pixels more than ``RING`` of the image size from the centre, where the
   elements of this model's data rarely reach): ``key fraction`` = share of ring pixels
   within ``DISTANCE`` (Euclidean, 8-bit sRGB) of the key colour (mean, median and worst over
   the prompts and seeds; ``above plain`` = mean minus plain noise's mean; ``improved`` = share
   of them above plain noise's); ``subject colour change`` = distance of the subject's mean
   colour (8-bit sRGB, over the keyed frame's solid pixels under the attention hint) from the
   same pixels' in the same prompt and seed's frame on plain noise, as a fraction of the
   latter's length (mean, worst, share within ``COLOUR_TOLERANCE``, over the frames where a
   subject was keyed); ``ring std`` = the ring's standard deviation (8-bit, mean of the three
   channels; lower is more uniform); ``GSG`` = DiffuMatting's measure on the whole frame
   (distance of the dominant K-Means colour to the key, 8-bit sRGB).
2. **Matting on held-out elements**: the head is trained with the real commands
   (``vfxkey make-trainset`` on training-split elements, ``vfxkey train-matte-head`` on this
   model's VAE); held-out elements are composited over generated-style green screens,
   encoded and decoded through the VAE (what a generated frame is), and each alpha is
   scored against the element's true alpha (SAD, MSE, Grad of ``vfxkey.matte.metrics``):
   GreenPost alone, the head alone (trained and untrained), GreenPost with the head's mask
   as hint, the attention hint alone and GreenPost with it. The attention hint of a known
   image comes from an img2img pass (strength 0.6) with the element's caption, capturing
   cross-attention as ``vfxkey generate`` does; its IoU with ``alpha > 0.5`` is reported.
3. **Temporal modes**: 24-frame shots of every prompt and seed in ``locked``, ``drift`` and
   ``follow`` while the foreground region moves from x = 0.35 to 0.65; keyed as ``vfxkey generate --matte-head``
   keys (GreenPost with the head's mask, the default key direction). Alpha flicker = mean |alpha_f - alpha_{f-1}| after
   shifting the previous alpha by the region's motion; centre error = mean distance of the
   element's centre from the region's centre (pixels), the element being the largest
   8-connected piece of alpha >= 0.5 of at least ``MIN_ELEMENT`` of the frame (frames without
   one are counted, not measured; see :func:`element_centre`), and centre wander = its
   frame-to-frame standard deviation; the alpha centroid's centre error (the measure before
   issue 24's second round) is printed beside it; colour wander = standard deviation over
   frames of the element's mean colour (8-bit sRGB, alpha > 0.5); GSG per frame (mean and worst).
4. **End to end**: a few prompts generated on green, keyed with the head's mask, comped
   over ``samples/shot010/plate.png``; a contact sheet PNG (screen, attention hint, head mask, alpha,
   comp) and the keyed alpha measured where there should be none (the background ring).

    python bench/generate_quality.py [--model samples/models/toy-ldm] [--out build/generate_quality]

Writes ``report.md``, ``figures.json`` and ``contact_sheet.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from vfxkey.generate.model import load_model  # first: vfxkey.generate sets diffusers up offline and quiet
from vfxkey import cli
from vfxkey.errors import InputError
from vfxkey.generate.attention import binarise, capture_attention, subject_token_indices
from vfxkey.generate.decoder_features import capture_decoder_features, decoder_feature_channels
from vfxkey.generate.choices import DEFAULT_TARGET_SHIFT
from vfxkey.generate.noise import KEY_SRGB, ForegroundPath, key_direction
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert
from vfxkey.io.write import write_preview_png
from vfxkey.matte import metrics
from vfxkey.matte.greenpost import Keyer, KeyResult, KeySettings
from vfxkey.generate.head import MattingHead, load_head, predict_mask
from vfxkey.synth.trainset import Foreground, make_sample
from vfxkey.comp.over import over
from samples.make_generated_sample import plate  # the background samples/generated is comped over

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "samples" / "models"))
import toy_data  # noqa: E402

PROMPTS = ("a red star", "a yellow ball with hair", "a white cloud", "a purple ring")
# Held out (issue 24): prompts no test, README or tuning has used; reported apart, never tuned on
# (``--prompts heldout``). Settings and the default shift are chosen on PROMPTS only.
HELD_OUT_PROMPTS = ("an orange blob", "a grey bubble", "a black ring with hair", "a brown disc",
                    "a pink cloud", "a blue ball")
SEEDS = (1, 2)
SIZE, STEPS, GUIDANCE = 64, 20, 5.0
DISTANCE = 60.0          # 8-bit sRGB units: "near the key colour"
COLOUR_TOLERANCE = 0.15  # issue 24 section 5: the subject's colour within 15 % of its plain-noise colour
RING = 0.375             # background ring: farther than this fraction of the size from the centre
KEYS = {                 # key as given to --key, the word the prompt-only baseline uses
    "green": "green",
    "blue": "blue",
    "#EB8CBE": "pink",
}
HEX_KEYS = {"#EB8CBE": (0xEB / 255, 0x8C / 255, 0xBE / 255)}
SOFT_SHAPES = ("cloud", "bubble")  # plus every element with hair
HEAD_STEPS, HEAD_SET, HEAD_FOREGROUNDS = 600, 400, 200
HELD_OUT = 60
FRAMES = range(1001, 1025)
MIN_ELEMENT = 0.01       # section 3: the smallest piece of alpha >= 0.5 taken for the element (fraction of the frame)
PATH = "1001:0.35,0.5,0.25,0.25;1024:0.65,0.5,0.25,0.25"


# --- helpers ---------------------------------------------------------------------------------

def key_srgb(key: str) -> np.ndarray:
    """The key colour, sRGB-encoded 0..1."""
    return np.array(HEX_KEYS.get(key, KEY_SRGB.get(key)), np.float32)


def ring_mask(size: int = SIZE) -> np.ndarray:
    c = (np.arange(size) + 0.5) / size - 0.5
    return np.hypot(*np.meshgrid(c, c)) > RING


def generator_for(model, prompt: str, key: str, *, shift: float, key_direction: str = "vae",
                  temporal: str = "locked", region: str = "0.5,0.5,0.25,0.25", head=None) -> KeyedGenerator:
    """``vfxkey generate``'s generator for these settings."""
    settings = GenerationSettings(prompt=prompt, width=SIZE, height=SIZE, steps=STEPS, guidance=GUIDANCE,
                                  key=HEX_KEYS.get(key, key), key_direction=key_direction, target_shift=shift,
                                  temporal=temporal, region=ForegroundPath.parse(region))
    return KeyedGenerator(model, settings, seed=0, head=head)


def render(generator: KeyedGenerator, seed: int, frame: int):
    """One frame of ``seed``'s shot (the sampler's noise is seeded from (seed, frame) by vfxkey)."""
    generator.seed = seed
    return generator(frame)


def key_frame(result, key: str, hint: np.ndarray) -> KeyResult:
    """The frame keyed as ``vfxkey generate`` keys it: a fresh GreenPost with the coarse mask as hint.

    A frame in which GreenPost finds no screen of the key's colour (it raises InputError)
    counts as keyed to nothing: alpha 0 everywhere, ``qc["no_screen"]`` set.
    """
    screen = key if key in ("green", "blue") else tuple(
        float(c) for c in convert(key_srgb(key)[None, None], DISPLAY_SPACE, WORKING_SPACE)[0, 0])
    try:
        return Keyer(KeySettings(screen=screen, temporal=0.0)).key(result.rgb, hint=hint)
    except InputError:
        return KeyResult(np.zeros(result.rgb.shape[:2], np.float32), np.zeros_like(result.rgb), {"no_screen": True})


def table(header: list[str], rows: list[list]) -> str:
    def cell(value):
        return f"{value:.3f}" if isinstance(value, float) else str(value)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# --- 1. TKG-DM -----------------------------------------------------------------------------

def tkg_dm(model, shifts: list[float], keys: dict[str, str] = KEYS) -> tuple[str, dict]:
    vae = model.pipe.vae
    ring = ring_mask()
    rows, figures = [], {}
    for key, word in keys.items():
        target = key_srgb(key) * 255.0
        rgb_key = tuple(float(v) for v in key_srgb(key))
        published = key_direction(key if key in KEY_SRGB else rgb_key, family="sd15")
        from_vae = key_direction(key if key in KEY_SRGB else rgb_key, family="sd15", vae=vae)
        conditions = [("plain noise", 0.0, "vae", False), ("prompt only", 0.0, "vae", True)]
        for shift in shifts:
            conditions += [(f"TKG-DM published {shift:g}", shift, "published", False),
                           (f"TKG-DM VAE {shift:g}", shift, "vae", False)]
        plain = plain_screens = None
        for name, shift, direction, say_it in conditions:
            fractions, stds, gsgs, screens, changes = [], [], [], [], []
            for prompt in PROMPTS:
                text = f"{prompt} on {'an' if word[0] in 'aeiou' else 'a'} {word} background" if say_it else prompt
                generator = generator_for(model, text, key, shift=shift, key_direction=direction)
                for seed in SEEDS:
                    result = render(generator, seed, 1001)
                    screen = result.screen * 255.0
                    background = screen[ring]
                    fractions.append(float((np.linalg.norm(background - target, axis=1) <= DISTANCE).mean()))
                    stds.append(float(background.std(axis=0).mean()))
                    gsgs.append(metrics.gsg(screen, target))
                    screens.append(screen)
                    if plain_screens is not None:
                        subject = (key_frame(result, key, None).alpha > 0.5) & (result.hint > 0.5)
                        changes.append(colour_change(screen, plain_screens[len(screens) - 1], subject))
            if plain is None:
                plain, plain_screens, changes = fractions, screens, [0.0] * len(screens)
            change = np.array(changes)
            figures[f"{key} / {name}"] = {"key_fraction": fractions, "ring_std": stds, "gsg": gsgs,
                                          "colour_change": change.tolist()}
            improved = float(np.mean(np.array(fractions) > np.array(plain)))
            rows.append([key, name, float(np.mean(fractions)), float(np.median(fractions)), float(np.min(fractions)),
                         float(np.mean(fractions) - np.mean(plain)), improved, *colour_figures(change),
                         float(np.mean(stds)), float(np.mean(gsgs))])
        figures[f"{key} / directions"] = {"published": published.tolist(), "vae": from_vae.tolist()}
    text = table(["key", "noise", "key fraction (mean)", "(median)", "(worst)", "above plain", "improved",
                  "subject colour change (mean)", "(worst)", f"within {COLOUR_TOLERANCE:.0%}", "ring std", "GSG"], rows)
    return text, figures


def colour_figures(change: np.ndarray) -> tuple[float, float, float]:
    """Mean, worst and share within ``COLOUR_TOLERANCE`` of the frames where a subject was found."""
    found = change[~np.isnan(change)]
    if not len(found):
        return float("nan"), float("nan"), float("nan")
    return float(found.mean()), float(found.max()), float((found <= COLOUR_TOLERANCE).mean())


def colour_change(screen: np.ndarray, plain: np.ndarray, subject: np.ndarray) -> float:
    """How far the subject's colour moved from plain noise's: the distance between the mean
    colours (8-bit sRGB) of ``screen`` and of the same prompt and seed's ``plain``-noise frame
    over ``subject`` (the keyed frame's solid pixels under the attention hint: the plain frame
    has no key to find its subject with, and its element sits where the keyed one does, the
    foreground's noise being the same), as a fraction of the plain colour's length. NaN when
    no subject pixel is found."""
    if not subject.any():
        return float("nan")
    keyed, original = screen[subject].mean(axis=0), plain[subject].mean(axis=0)
    return float(np.linalg.norm(keyed - original) / max(float(np.linalg.norm(original)), 1.0))


# --- 2. matting on held-out elements -------------------------------------------------------

def vfxkey(args: list[str]) -> None:
    """Run a ``vfxkey`` command in this process, as the shell would (raises on failure)."""
    cli.main(args=args, prog_name="vfxkey", standalone_mode=False)


def train_head_with_cli(model_path: Path, work: Path) -> tuple[Path, float]:
    """``vfxkey make-trainset`` + ``vfxkey train-matte-head`` on training-split elements; the head's path."""
    foregrounds = work / "foregrounds"
    for index in range(HEAD_FOREGROUNDS):
        sample = toy_data.make_sample(0, "train", index)
        write_preview_png(foregrounds / f"el{index:04d}.png", sample.foreground, alpha=sample.alpha)
    head = work / "head.safetensors"
    started = time.monotonic()
    vfxkey(["make-trainset", "--fg", str(foregrounds), "-o", str(work / "trainset"), "--count", str(HEAD_SET),
            "--seed", "0"])
    vfxkey(["train-matte-head", "--model", str(model_path), "--data", str(work / "trainset"), "-o", str(head),
            "--steps", str(HEAD_STEPS), "--size", str(SIZE), "--batch", "8"])
    return head, time.monotonic() - started


def held_out_cases(count: int) -> list[tuple[toy_data.Sample, np.ndarray, np.ndarray]]:
    """Held-out elements over generated-style green screens: ``(sample, linear image, true alpha)``."""
    cases = []
    for index in range(count):
        sample = toy_data.make_sample(0, "heldout", index)
        image, alpha = make_sample(Foreground(f"h{index}", sample.foreground, sample.alpha),
                                   np.random.default_rng([7, index]))
        cases.append((sample, image, alpha))
    return cases


def vae_round_trip(vae, image_linear: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    """Encode and decode a linear image through the VAE: ``(decoded sRGB 0..1, decoder feature)``."""
    encoded = np.clip(convert(image_linear, WORKING_SPACE, DISPLAY_SPACE), 0.0, 1.0)
    sample = torch.from_numpy(encoded).permute(2, 0, 1)[None] * 2.0 - 1.0
    with torch.no_grad(), capture_decoder_features(vae) as captured:
        decoded = vae.decode(vae.encode(sample).latent_dist.mode()).sample
    decoded = ((decoded[0].permute(1, 2, 0) + 1.0) / 2.0).clamp(0, 1).numpy()
    return decoded.astype(np.float32), captured.output()


def attention_hint(img2img, decoded: np.ndarray, prompt: str, seed: int) -> np.ndarray:
    """The cross-attention hint of a known image: img2img (strength 0.6) with capture, binarised."""
    strength = 0.6
    steps_run = int(STEPS * strength)
    tokens = subject_token_indices(img2img.tokenizer, prompt)
    latent = SIZE // img2img.vae_scale_factor
    with capture_attention(img2img.unet, tokens, (latent, latent), steps_run, 5, guided=GUIDANCE > 1) as attention:
        img2img(prompt=prompt, image=decoded[None], strength=strength, num_inference_steps=STEPS,
                guidance_scale=GUIDANCE, generator=torch.Generator().manual_seed(seed), output_type="np")
    return binarise(attention.soft_map(), (SIZE, SIZE))


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(mask, truth).sum()
    return float(np.logical_and(mask, truth).sum() / union) if union else 1.0


def matting(model, model_path: Path, work: Path) -> tuple[str, dict, MattingHead]:
    from diffusers import StableDiffusionImg2ImgPipeline

    vae = model.pipe.vae
    head_path, head_seconds = train_head_with_cli(model_path, work)
    head = load_head(head_path, vae)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the initial state train_head starts from
        untrained = MattingHead(decoder_feature_channels(vae), 32).eval()
    img2img = StableDiffusionImg2ImgPipeline(**{k: v for k, v in model.pipe.components.items()},
                                             requires_safety_checker=False)
    img2img.set_progress_bar_config(disable=True)

    methods = ("GreenPost alone", "head (untrained)", "head", "GreenPost + head hint",
               "attention hint", "GreenPost + attention hint")
    scores = {m: [] for m in methods}
    kinds, ious = [], []
    for index, (sample, image, truth) in enumerate(held_out_cases(HELD_OUT)):
        decoded, feature = vae_round_trip(vae, image)
        rgb = convert(decoded, DISPLAY_SPACE, WORKING_SPACE)
        head_mask = predict_mask(head, feature)
        hint = attention_hint(img2img, decoded, toy_data.caption_for(sample.colour, sample.shape,
                                                                    "with hair" in sample.caption), index)
        ious.append(iou(hint > 0.5, truth > 0.5))
        alphas = {
            "GreenPost alone": Keyer(KeySettings(screen="green", temporal=0.0)).key(rgb).alpha,
            "head (untrained)": predict_mask(untrained, feature),
            "head": head_mask,
            "GreenPost + head hint": Keyer(KeySettings(screen="green", temporal=0.0)).key(rgb, hint=head_mask).alpha,
            "attention hint": hint,
            "GreenPost + attention hint": Keyer(KeySettings(screen="green", temporal=0.0)).key(rgb, hint=hint).alpha,
        }
        for method, alpha in alphas.items():
            scores[method].append((metrics.sad(alpha, truth), metrics.mse(alpha, truth),
                                   metrics.gradient_error(alpha, truth)))
        kinds.append("soft" if sample.shape in SOFT_SHAPES or "hair" in sample.caption else "hard")
    kinds = np.array(kinds)
    rows = []
    for method in methods:
        values = np.array(scores[method])
        for group in ("all", "soft", "hard"):
            chosen = values if group == "all" else values[kinds == group]
            rows.append([method, group, len(chosen), *(float(v) for v in chosen.mean(axis=0))])
    ious = np.array(ious)
    text = table(["alpha from", "elements", "n", "SAD", "MSE", "Grad"], rows)
    text += (f"\n\nAttention hint IoU with alpha > 0.5 on the same held-out elements: mean {ious.mean():.3f}, "
             f"median {np.median(ious):.3f}, worst {ious.min():.3f} (soft {ious[kinds == 'soft'].mean():.3f}, "
             f"hard {ious[kinds == 'hard'].mean():.3f}).\nHead: {HEAD_FOREGROUNDS} training-split elements, "
             f"{HEAD_SET} composites, {HEAD_STEPS} steps, make-trainset + train-matte-head {head_seconds:.0f} s wall.")
    figures = {"scores": {m: np.array(v).tolist() for m, v in scores.items()}, "kinds": kinds.tolist(),
               "hint_iou": ious.tolist(), "head_seconds": head_seconds}
    return text, figures, head


# --- 3. temporal modes ---------------------------------------------------------------------

def element_centre(alpha: np.ndarray) -> np.ndarray:
    """The element's centre ``(x, y)`` in pixels: the centroid of the largest 8-connected piece of
    ``alpha >= 0.5``, or NaN when no piece covers ``MIN_ELEMENT`` of the frame.

    The whole alpha's centroid (:func:`centroid`) also counts what the keyer leaves on the
    background: a soft ring of alpha 0.2-0.5 over the whole frame on this model's screens,
    whose centroid is the frame's centre, and stray specks; both pull the measure towards the
    middle whatever the element does. The element is one solid piece (every toy shape is
    connected at alpha >= 0.5 but the cloud, which is soft throughout); a frame where no solid
    piece is found has no element to place and is counted instead (``lost`` frames)."""
    pieces, labels, stats, centres = cv2.connectedComponentsWithStats((alpha >= 0.5).astype(np.uint8),
                                                                       connectivity=8)
    if pieces <= 1:
        return np.full(2, np.nan)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[largest, cv2.CC_STAT_AREA] < MIN_ELEMENT * alpha.size:
        return np.full(2, np.nan)
    return centres[largest] + 0.5   # pixel centres, as centroid()


def centroid(alpha: np.ndarray) -> np.ndarray:
    """The alpha-weighted centroid ``(x, y)`` in pixels of the whole frame (the centre error before issue 24's
    second round; see :func:`element_centre`)."""
    total = alpha.sum()
    ys, xs = np.mgrid[:alpha.shape[0], :alpha.shape[1]] + 0.5
    return np.array([(alpha * xs).sum() / total, (alpha * ys).sum() / total]) if total > 0 else np.full(2, np.nan)


def temporal(model, head, key: str = "green", shift: float = 0.07,
             modes: tuple[str, ...] = ("locked", "drift", "follow")) -> tuple[str, dict]:
    """Each mode over every prompt and seed of the run (dev or held-out); figures are means over the shots."""
    region = ForegroundPath.parse(PATH)
    targets = np.array([[region.at(frame).cx, region.at(frame).cy] for frame in FRAMES]) * SIZE
    rows, figures = [], {}
    for mode in modes:
        shots = []
        for prompt in PROMPTS:
            generator = generator_for(model, prompt, key, shift=shift, temporal=mode, region=PATH, head=head)
            for seed in SEEDS:
                shots.append(temporal_shot(generator, seed, key, targets))
                shots[-1]["prompt"], shots[-1]["seed"] = prompt, seed
        rows.append([mode, *(float(np.nanmean([shot[name] for shot in shots]))
                             for name in ("flicker", "centre_error", "centroid_error", "centre_wander", "colour_wander",
                                          "gsg_mean")),
                     float(np.nanmax([shot["centre_error"] for shot in shots])),
                     float(np.max([shot["gsg_worst"] for shot in shots])), sum(shot["no_screen"] for shot in shots),
                     sum(shot["lost"] for shot in shots)])
        figures[mode] = shots
    text = table(["mode", "alpha flicker", "centre error px", "(alpha centroid) px", "centre wander px",
                  "colour wander", "GSG mean", "centre error worst shot px", "GSG worst", "frames without screen",
                  "frames without element"], rows)
    text += f"\n\nMeans over {len(PROMPTS)} prompts x {len(SEEDS)} seeds, {len(FRAMES)} frames each."
    return text, figures


def temporal_shot(generator: KeyedGenerator, seed: int, key: str, targets: np.ndarray) -> dict:
    """One shot's figures: ``targets`` are the region's centres per frame (pixels)."""
    alphas, colours, centres, centroids, gsgs, no_screen = [], [], [], [], [], 0
    for frame in FRAMES:
        result = render(generator, seed, frame)
        keyed = key_frame(result, key, result.head_mask)
        no_screen += "no_screen" in keyed.qc
        alphas.append(keyed.alpha)
        solid = keyed.alpha > 0.5
        colour = convert(keyed.foreground, WORKING_SPACE, DISPLAY_SPACE)
        colours.append(np.clip(colour[solid], 0, 1).mean(axis=0) * 255 if solid.any() else np.full(3, np.nan))
        centres.append(element_centre(keyed.alpha))
        centroids.append(centroid(keyed.alpha))
        gsgs.append(metrics.gsg(result.screen * 255.0, key_srgb(key) * 255.0))
    flicker = []
    for previous, current, t0, t1 in zip(alphas, alphas[1:], targets, targets[1:]):
        move = np.float32([[1, 0, t1[0] - t0[0]], [0, 1, t1[1] - t0[1]]])
        moved = cv2.warpAffine(previous, move, (SIZE, SIZE), flags=cv2.INTER_LINEAR)
        flicker.append(float(np.abs(current - moved).mean()))
    errors = np.linalg.norm(np.array(centres) - targets, axis=1)
    colours = np.array(colours)
    return {"flicker": float(np.mean(flicker)), "centre_error": float(np.nanmean(errors)),
            "centroid_error": float(np.nanmean(np.linalg.norm(np.array(centroids) - targets, axis=1))),
            "lost": int(np.isnan(errors).sum()),
            "centre_wander": float(np.nanstd(np.diff(errors))),
            "colour_wander": float(np.linalg.norm(np.nanstd(colours, axis=0))), "gsg_mean": float(np.mean(gsgs)),
            "gsg_worst": float(np.max(gsgs)), "no_screen": no_screen, "centres": np.array(centres).tolist(),
            "errors": errors.tolist()}


# --- 4. end to end + contact sheet ---------------------------------------------------------

def end_to_end(model, head, out: Path, shift: float = 0.07) -> tuple[str, dict]:
    ring = ring_mask()
    background = plate()
    rows, sheet_rows, figures = [], [], {}
    for prompt in PROMPTS:
        generator = generator_for(model, prompt, "green", shift=shift, head=head)
        result = render(generator, 1, 1001)
        keyed = key_frame(result, "green", result.head_mask)
        comp = over(keyed.premultiplied_rgba(), background)
        leak = float(keyed.alpha[ring].mean())
        rows.append([prompt, "no screen found" if "no_screen" in keyed.qc else "", leak,
                     float((keyed.alpha[ring] > 0.05).mean()),
                     iou(result.hint > 0.5, keyed.alpha > 0.5), iou(result.head_mask > 0.5, keyed.alpha > 0.5),
                     metrics.gsg(result.screen * 255.0, key_srgb("green") * 255.0)])
        grey = [np.repeat(m[..., None], 3, axis=2) for m in (result.hint, result.head_mask, keyed.alpha)]
        sheet_rows.append(np.concatenate([result.rgb, *(convert(g, DISPLAY_SPACE, WORKING_SPACE) for g in grey), comp],
                                         axis=1))
        figures[prompt] = rows[-1][2:]
    sheet = np.concatenate(sheet_rows, axis=0)
    sheet = cv2.resize(sheet, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)
    write_preview_png(out / "contact_sheet.png", sheet)
    text = table(["prompt", "key", "alpha in ring (mean)", "ring > 0.05", "hint IoU vs key", "head IoU vs key", "GSG"], rows)
    text += ("\n\nContact sheet columns: generated frame, attention hint, head mask, keyed alpha, comp over the "
             "plate; one row per prompt.")
    return text, figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "samples" / "models" / "toy-ldm")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "generate_quality")
    parser.add_argument("--scheduler", default="ddim", help="sampler (vfxkey generate --scheduler)")
    default = DEFAULT_TARGET_SHIFT["sd15"]  # the toy model is SD1.5's layout: vfxkey's default shift for it
    parser.add_argument("--shifts", default=f"{default:g},0.15", help="TKG-DM target shifts to measure")
    parser.add_argument("--shift", type=float, default=default, help="target shift for sections 3-4")
    parser.add_argument("--sections", default="1234")
    parser.add_argument("--keys", default=",".join(KEYS), help="section 1's keys (of " + ", ".join(KEYS) + ")")
    parser.add_argument("--modes", default="locked,drift,follow", help="section 3's temporal modes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-head", type=Path, help="also keep section 2's matting head here")
    parser.add_argument("--head", type=Path, help="matting head for sections 3-4 when section 2 is not run")
    parser.add_argument("--quick", action="store_true", help="a few images per section, to try the bench out")
    parser.add_argument("--prompts", choices=("dev", "heldout"), default="dev",
                        help="section 1, 3 and 4's prompts: the bench's own (dev: tune on these) or the held-out list "
                             "(report only, never tune on it)")
    args = parser.parse_args(argv)
    global PROMPTS
    if args.prompts == "heldout":
        PROMPTS = HELD_OUT_PROMPTS
    if args.quick:
        global SEEDS, HEAD_STEPS, HEAD_SET, HEAD_FOREGROUNDS, HELD_OUT, FRAMES
        PROMPTS, SEEDS, HEAD_STEPS, HEAD_SET, HEAD_FOREGROUNDS, HELD_OUT = PROMPTS[:2], SEEDS[:1], 20, 16, 8, 4
        FRAMES = range(1001, 1005)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model, scheduler=args.scheduler, device=torch.device("cpu"), dtype=torch.float32)

    started = time.monotonic()
    report = [f"# Generation quality on {args.model.name}\n",
              f"{SIZE}x{SIZE}, {args.scheduler} {STEPS} steps, guidance {GUIDANCE}, {args.prompts} prompts "
              f"{', '.join(PROMPTS)}, seeds "
              f"{SEEDS}; key distance {DISTANCE:g} (8-bit sRGB), ring r > {RING} of the size; sections 3-4 key green "
              f"at shift {args.shift}.\n"]
    figures: dict = {}
    head = None
    with tempfile.TemporaryDirectory() as tmp:
        sections = [("1", "TKG-DM", lambda: tkg_dm(model, [float(s) for s in args.shifts.split(",")],
                                                          {k: KEYS[k] for k in args.keys.split(",")}))]
        sections.append(("2", "Matting on held-out elements", lambda: matting(model, args.model, Path(tmp))))
        for number, title, run in sections:
            if number in args.sections:
                result = run()
                if number == "2":
                    text, figures[title], head = result
                    if args.save_head:
                        shutil.copy(Path(tmp) / "head.safetensors", args.save_head)
                else:
                    text, figures[title] = result
                report.append(f"## {number}. {title}\n\n{text}\n")
                print(report[-1], flush=True)
    if head is None and args.head:
        head = load_head(args.head, model.pipe.vae)
    if head is None and ("3" in args.sections or "4" in args.sections):
        raise SystemExit("sections 3 and 4 use the matting head of section 2 (or give --head)")
    for number, title, run in (("3", "Temporal modes", lambda: temporal(model, head, shift=args.shift,
                                                                            modes=tuple(args.modes.split(",")))),
                               ("4", "End to end", lambda: end_to_end(model, head, args.out, shift=args.shift))):
        if number in args.sections:
            text, figures[title] = run()
            report.append(f"## {number}. {title}\n\n{text}\n")
            print(report[-1], flush=True)
    report.append(f"Run time {time.monotonic() - started:.0f} s.\n")
    (args.out / "report.md").write_text("\n".join(report))
    (args.out / "figures.json").write_text(json.dumps(figures, indent=1))
    print(f"wrote {args.out / 'report.md'}, figures.json, contact_sheet.png")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
