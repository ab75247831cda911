"""Make the data and train the toy latent-diffusion model in ``samples/models/toy-ldm/``.

A **test and demo model**: Stable Diffusion 1.5's layout and noise schedule at toy size,
trained from scratch on :mod:`toy_data`'s procedural elements (exact alpha known), so that
vfxkey's generative claims (TKG-DM, the matting head, the attention hint, temporal modes)
can be measured on real trained weights where no SD weights can be downloaded.

Stages (each resumable; a checkpoint is written every ``--checkpoint-minutes`` and at the
end of a stage, and a rerun continues from the last one):

1. **data**: ``--train`` training samples (seeded, :func:`toy_data.make_sample`; one process per
   core), cached. ``--placement`` puts each element near the centre (``centre``, what
   ``toy-ldm`` was trained on) or anywhere in the frame (``anywhere``).
2. **vae**: ``AutoencoderKL`` (4 latent channels, 64x64 images -> 16x16 latents), L1 + MSE
   reconstruction + 1e-6 KL, AdamW, cosine decay; first on whole frames, then (stage
   ``vae_crops``) on 32x32 crops, which buy four times the optimiser steps per minute.
3. **latents**: the training set encoded once (posterior mean and std); the latent
   ``scaling_factor`` is measured as ``1 / std`` of the latents, as SD's 0.18215 was.
4. **ldm**: ``CLIPTextModel`` (trained from scratch with a word-level tokenizer over
   :data:`toy_data.VOCABULARY`) and ``UNet2DConditionModel`` with cross-attention, epsilon
   prediction (2 attention heads: at toy widths SD's 8 heads of 4 channels are twice as
   slow), SD1.5's schedule (scaled-linear betas 0.00085..0.012, 1000 steps), 10 % empty
   captions for classifier-free guidance, the epsilon loss weighted by min-SNR-gamma
   (Hang et al. 2023, ``--min-snr 5``: ``min(SNR_t, 5) / SNR_t``, so the easy low-noise
   steps do not dominate), the peak learning rate held for ``--ldm-flat`` of the steps
   before the cosine decay, and an EMA of the weights (exported).
5. **vae_decoder**: the VAE decoder fine-tuned on whole 64x64 frames, encoder frozen (the
   crop phase leaves colour casts on whole frames; the UNet's latents stay valid).
6. **export**: a ``StableDiffusionPipeline`` diffusers folder (DDIM scheduler, float16
   weights), plus ``training.json`` with the losses and times.

``--vae-from FOLDER`` keeps a toy-ldm folder's VAE as it is (weights and scaling factor; stages 2
and 5 skipped, so a matting head made for it stays valid) and trains stage 4 from scratch on it.
``--start-from FOLDER`` does the same but fine-tunes: stage 4 starts from its UNet and text encoder.

Everything is seeded: the data by ``(seed, split, index)``, each step's batch, noise and
timesteps by ``(seed, stage, step)``, so a resumed run equals an uninterrupted one.

    python samples/models/train_toy_ldm.py [--work build/toy_ldm] [--out samples/models/toy-ldm]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import toy_data  # noqa: E402

STAGES = ("vae", "ldm", "vae_crops", "vae_decoder")
MAX_TOKENS = 16          # tokenizer.model_max_length: the longest caption is 11 tokens with start and end
SD15_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                     prediction_type="epsilon")


# --- the model's parts ---------------------------------------------------------------------

def build_tokenizer() -> CLIPTokenizer:
    """A CLIP BPE tokenizer whose merges spell every vocabulary word as one token.

    Vocab: every byte character alone and with the end-of-word mark ``</w>`` (so any text
    still tokenises), each word's suffixes ending in ``</w>``, and the start/end tokens.
    Merges build each word from its end: character + suffix. The right operand always ends
    in ``</w>``, so a merge can only apply at the end of a word and never inside another.
    """
    vocab: dict[str, int] = {}
    for byte in range(256):
        vocab.setdefault(_BYTE_CHARS[byte], len(vocab))
    for byte in range(256):
        vocab.setdefault(_BYTE_CHARS[byte] + "</w>", len(vocab))
    merges: list[tuple[str, str]] = []
    for word in toy_data.VOCABULARY:
        suffix = word[-1] + "</w>"
        for char in reversed(word[:-1]):
            if (char, suffix) not in merges:
                merges.append((char, suffix))
            suffix = char + suffix
            vocab.setdefault(suffix, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_TOKENS)
    for word in toy_data.VOCABULARY:  # each word must be one token, or the merges are wrong
        ids = tokenizer(word, add_special_tokens=False).input_ids
        if len(ids) != 1:
            raise RuntimeError(f"tokenizer splits {word!r} into {tokenizer.convert_ids_to_tokens(ids)}")
    return tokenizer


_BYTE_CHARS = bytes_to_unicode()  # GPT-2/CLIP table: every byte as one visible character


def build_vae() -> AutoencoderKL:
    """SD's AutoencoderKL layout at toy size: 3 levels (x4 downsampling), 4 latent channels."""
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=16,
        sample_size=toy_data.SIZE, scaling_factor=1.0,  # measured after training (stage 3)
    )


def build_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    """A two-layer CLIP text encoder, hidden size 64, over the tokenizer's vocabulary."""
    return CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=MAX_TOKENS,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    ))


def build_unet() -> UNet2DConditionModel:
    """SD1.5's UNet layout at toy size: cross-attention in all levels but the deepest, 16x16 latents."""
    return UNet2DConditionModel(
        sample_size=toy_data.SIZE // 4, in_channels=4, out_channels=4,
        block_out_channels=(32, 64, 128), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=64, attention_head_dim=2, norm_num_groups=32,  # 2 heads: 8 tiny heads cost 2x the step
    )


# --- checkpoints: safetensors + json, never pickles ------------------------------------------

class Checkpoint:
    """Modules, an AdamW optimiser and a json state for one stage, in ``work/<stage>.*``."""

    def __init__(self, work: Path, stage: str):
        self.weights, self.state = work / f"{stage}.safetensors", work / f"{stage}.json"

    def exists(self) -> bool:
        return self.weights.is_file() and self.state.is_file()

    def save(self, modules: dict[str, torch.nn.Module], optimiser: torch.optim.Optimizer, state: dict) -> None:
        tensors = {f"{name}.{key}": value.detach().contiguous()
                   for name, module in modules.items() for key, value in module.state_dict().items()}
        opt = optimiser.state_dict()
        for index, slots in opt["state"].items():
            for slot, value in slots.items():
                tensors[f"optimiser.{index}.{slot}"] = torch.as_tensor(value).contiguous()
        state = dict(state, param_groups=opt["param_groups"])
        for path, write in ((self.weights, lambda p: save_file(tensors, p)),
                            (self.state, lambda p: Path(p).write_text(json.dumps(state, indent=1)))):
            tmp = f"{path}.tmp"
            write(tmp)
            os.replace(tmp, path)

    def load(self, modules: dict[str, torch.nn.Module], optimiser: torch.optim.Optimizer | None) -> dict:
        tensors = load_file(self.weights)
        state = json.loads(self.state.read_text())
        for name, module in modules.items():
            prefix = f"{name}."
            module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        if optimiser is not None:
            slots: dict[int, dict] = {}
            for key, value in tensors.items():
                if key.startswith("optimiser."):
                    _, index, slot = key.split(".")
                    slots.setdefault(int(index), {})[slot] = value
            optimiser.load_state_dict({"state": slots, "param_groups": state["param_groups"]})
        return state


def _lr(step: int, total: int, peak: float, flat: float = 0.0, warmup: int = 100) -> float:
    """Linear warm-up, ``peak`` until ``flat`` of ``total``, then cosine decay to 10 % of ``peak`` at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    start = max(warmup, int(flat * total))
    if step < start:
        return peak
    progress = min(1.0, (step - start) / max(1, total - start))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _generator(seed: int, stage: str, step: int) -> tuple[np.random.Generator, torch.Generator]:
    tag = STAGES.index(stage) + 1
    return np.random.default_rng([seed, tag, step]), torch.Generator().manual_seed(seed * 1_000_003 + tag * 10_007 + step)


class Trainer:
    """Runs one stage's steps with periodic checkpoints and a loss log."""

    def __init__(self, work: Path, stage: str, modules: dict, optimiser, total: int, peak_lr: float,
                 checkpoint_minutes: float, extend: bool = False, flat: float = 0.0):
        self.checkpoint = Checkpoint(work, stage)
        self.stage, self.modules, self.optimiser = stage, modules, optimiser
        self.total, self.peak_lr, self.flat, self.every = total, peak_lr, flat, checkpoint_minutes * 60
        self.state = {"step": 0, "seconds": 0.0, "log": [], "total": total}
        if self.checkpoint.exists():
            self.state = self.checkpoint.load(modules, optimiser)
            self.state.pop("param_groups", None)
            if self.state["total"] != total:
                if not extend or total < self.state["step"]:
                    raise SystemExit(f"{stage}: checkpoint was made for {self.state['total']} steps, not {total}; "
                                     f"pass --extend to continue to {total} or delete {self.checkpoint.state}")
                # The learning-rate schedule is stretched from here on: recorded, since a fresh
                # run with the new total follows the stretched schedule from step 0.
                self.state.setdefault("extended", []).append({"at_step": self.state["step"],
                                                              "from_total": self.state["total"], "to_total": total})
                self.state["total"] = total
            print(f"{stage}: resuming at step {self.state['step']} ({self.state['seconds'] / 60:.1f} min so far)")

    def run(self, step_fn, log_every: int = 50) -> dict:
        start = last_save = time.monotonic()
        base_seconds, window = self.state["seconds"], []
        while self.state["step"] < self.total:
            step = self.state["step"]
            for group in self.optimiser.param_groups:
                group["lr"] = _lr(step, self.total, self.peak_lr, self.flat)
            window.append(step_fn(step))
            self.state["step"] = step + 1
            self.state["seconds"] = base_seconds + time.monotonic() - start
            if self.state["step"] % log_every == 0 or self.state["step"] == self.total:
                entry = {"step": self.state["step"], "loss": float(np.mean(window)),
                         "minutes": round(self.state["seconds"] / 60, 2)}
                self.state["log"].append(entry)
                print(f"{self.stage} {entry}", flush=True)
                window = []
            if time.monotonic() - last_save > self.every or self.state["step"] == self.total:
                self.checkpoint.save(self.modules, self.optimiser, self.state)
                last_save = time.monotonic()
        return self.state


# --- stages --------------------------------------------------------------------------------

def _image_and_caption(seed_index_placement: tuple[int, int, str]) -> tuple[np.ndarray, str]:
    seed, index, placement = seed_index_placement
    sample = toy_data.make_sample(seed, "train", index, placement)
    return sample.image, sample.caption


def stage_data(work: Path, seed: int, count: int, placement: str,
               processes: int) -> tuple[np.ndarray, list[str], float]:
    """The training images ``(N, 64, 64, 3)`` uint8 sRGB and captions, cached in ``work``, and the
    minutes making them took. Sample ``i`` is a pure function of ``(seed, i, placement)``, so the
    ``processes`` that share the work do not change it."""
    name = f"train_{seed}_{count}" + ("" if placement == "centre" else f"_{placement}")
    images_path, captions_path, minutes_path = (work / f"{name}{ext}" for ext in (".npy", ".json", ".minutes"))
    if not (images_path.is_file() and captions_path.is_file()):
        started = time.monotonic()
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            samples = pool.map(_image_and_caption, [(seed, i, placement) for i in range(count)], chunksize=100)
        np.save(f"{images_path}.tmp.npy", np.stack([image for image, _ in samples]))
        os.replace(f"{images_path}.tmp.npy", images_path)
        captions_path.write_text(json.dumps([caption for _, caption in samples]))
        minutes_path.write_text(f"{(time.monotonic() - started) / 60:.2f}")
        print(f"data: {count} samples in {time.monotonic() - started:.0f} s")
    return np.load(images_path), json.loads(captions_path.read_text()), float(minutes_path.read_text())


def _to_vae_input(images: np.ndarray) -> torch.Tensor:
    """uint8 sRGB ``(B, H, W, 3)`` -> ``(B, 3, H, W)`` in -1..1, the VAE's input space."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def stage_vae(work: Path, images: np.ndarray, args) -> tuple[AutoencoderKL, list[dict]]:
    """Two phases: ``--vae-steps`` on whole 64x64 frames, then ``--vae-crop-steps`` on random
    ``--vae-crop`` squares (a quarter of the pixels, so four times the optimiser steps for the
    same time; the VAE is convolutional, its mid-block attention takes any size)."""
    torch.manual_seed(args.seed)
    vae = build_vae()
    states = []
    for stage, steps, crop in (("vae", args.vae_steps, toy_data.SIZE), ("vae_crops", args.vae_crop_steps, args.vae_crop)):
        optimiser = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
        trainer = Trainer(work, stage, {"vae": vae}, optimiser, steps, args.vae_lr, args.checkpoint_minutes)

        def step(index: int, stage=stage, crop=crop, optimiser=optimiser) -> float:
            rng, gen = _generator(args.seed, stage, index)
            rows = rng.choice(len(images), args.vae_batch, replace=False)
            top, left = rng.integers(0, toy_data.SIZE - crop + 1, 2)
            batch = _to_vae_input(images[rows, top:top + crop, left:left + crop])
            posterior = vae.encode(batch).latent_dist
            latent = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen)
            recon = vae.decode(latent).sample
            loss = (recon - batch).abs().mean() + F.mse_loss(recon, batch) + 1e-6 * posterior.kl().mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            return loss.item()

        vae.train()
        states.append(trainer.run(step))
    return vae.eval().requires_grad_(False), states


def stage_latents(work: Path, vae: AutoencoderKL, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Posterior mean and std of every training image ``(N, 4, 16, 16)``, the measured scaling
    factor and the minutes encoding took."""
    path = work / "latents.npz"
    if not path.is_file():
        started = time.monotonic()
        means, stds = [], []
        with torch.no_grad():
            for start in range(0, len(images), 128):
                posterior = vae.encode(_to_vae_input(images[start:start + 128])).latent_dist
                means.append(posterior.mean.numpy())
                stds.append(posterior.std.numpy())
        mean, std = np.concatenate(means), np.concatenate(stds)
        np.savez(f"{path}.tmp.npz", mean=mean, std=std, minutes=(time.monotonic() - started) / 60)
        os.replace(f"{path}.tmp.npz", path)
    data = np.load(path)
    mean, std = data["mean"], data["std"]
    spread = float(np.sqrt(np.mean(mean ** 2 + std ** 2) - np.mean(mean) ** 2))
    return mean, std, 1.0 / spread, float(data["minutes"])


def stage_decoder(work: Path, vae: AutoencoderKL, images: np.ndarray, latents: tuple[np.ndarray, np.ndarray],
                  args) -> dict:
    """The decoder fine-tuned on whole frames with the encoder frozen (as SD's ft-MSE VAE was):
    the crop phase leaves colour casts on whole frames, and the latents the UNet learned on
    stay valid because the encoder does not change."""
    decoder_params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    optimiser = torch.optim.AdamW(decoder_params, lr=args.decoder_lr, weight_decay=0.0)
    trainer = Trainer(work, "vae_decoder", {"vae": vae}, optimiser, args.decoder_steps, args.decoder_lr,
                      args.checkpoint_minutes)
    mean, std = (torch.from_numpy(a) for a in latents)

    def step(index: int) -> float:
        rng, gen = _generator(args.seed, "vae_decoder", index)
        rows = rng.choice(len(images), args.vae_batch, replace=False)
        latent = mean[rows] + std[rows] * torch.randn(mean[rows].shape, generator=gen)
        batch = _to_vae_input(images[rows])
        recon = vae.decode(latent).sample
        loss = (recon - batch).abs().mean() + F.mse_loss(recon, batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.item()

    vae.requires_grad_(False)
    for param in decoder_params:
        param.requires_grad_(True)
    vae.train()
    state = trainer.run(step, log_every=25)
    vae.eval().requires_grad_(False)
    return state


def stage_ldm(work: Path, latents: tuple[np.ndarray, np.ndarray], captions: list[str], scaling: float,
              tokenizer: CLIPTokenizer, args) -> tuple[UNet2DConditionModel, CLIPTextModel, dict]:
    torch.manual_seed(args.seed + 1)
    if args.start_from:
        unet = UNet2DConditionModel.from_pretrained(args.start_from, subfolder="unet", torch_dtype=torch.float32)
        text_encoder = CLIPTextModel.from_pretrained(args.start_from, subfolder="text_encoder",
                                                     torch_dtype=torch.float32)
    else:
        unet, text_encoder = build_unet(), build_text_encoder(tokenizer)
    ema_unet, ema_text = copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(text_encoder).requires_grad_(False)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    optimiser = torch.optim.AdamW(params, lr=args.ldm_lr, weight_decay=0.01)
    modules = {"unet": unet, "text_encoder": text_encoder, "ema_unet": ema_unet, "ema_text_encoder": ema_text}
    trainer = Trainer(work, "ldm", modules, optimiser, args.ldm_steps, args.ldm_lr, args.checkpoint_minutes,
                      extend=args.extend, flat=args.ldm_flat)
    noise_schedule = DDPMScheduler(**SD15_SCHEDULE)
    # Min-SNR-gamma loss weights for epsilon prediction (Hang et al. 2023): min(SNR_t, gamma) / SNR_t,
    # so the low-noise steps, which are easy and otherwise dominate the gradient, count less.
    snr = noise_schedule.alphas_cumprod / (1 - noise_schedule.alphas_cumprod)
    snr_weight = torch.clamp(snr, max=args.min_snr) / snr if args.min_snr > 0 else torch.ones_like(snr)
    mean, std = (torch.from_numpy(a) for a in latents)
    # Every caption tokenised once, as the pipeline does: padded to max length, no attention mask.
    vocabulary = sorted(set(captions) | {""})
    token_ids = tokenizer(vocabulary, padding="max_length", max_length=MAX_TOKENS, truncation=True,
                          return_tensors="pt").input_ids
    caption_index = torch.tensor([vocabulary.index(c) for c in captions])
    empty = vocabulary.index("")

    def step(index: int) -> float:
        rng, gen = _generator(args.seed, "ldm", index)
        rows = torch.from_numpy(rng.choice(len(captions), args.ldm_batch, replace=False))
        # 1. latents of the batch, sampled from the posterior and scaled to unit variance
        z0 = (mean[rows] + std[rows] * torch.randn(mean[rows].shape, generator=gen)) * scaling
        # 2. captions, 10 % dropped to the empty prompt for classifier-free guidance
        ids = caption_index[rows].clone()
        ids[torch.from_numpy(rng.random(len(rows)) < 0.1)] = empty
        context = text_encoder(token_ids[ids])[0]
        # 3. forward diffusion at uniform timesteps; the UNet predicts the noise (epsilon)
        noise = torch.randn(z0.shape, generator=gen)
        timesteps = torch.randint(0, SD15_SCHEDULE["num_train_timesteps"], (len(rows),), generator=gen)
        noisy = noise_schedule.add_noise(z0, noise, timesteps)
        error = (unet(noisy, timesteps, context).sample - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (snr_weight[timesteps] * error).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        # 4. EMA of the weights (what is exported)
        decay = min(args.ema, (1 + index) / (10 + index))
        with torch.no_grad():
            for ema, live in ((ema_unet, unet), (ema_text, text_encoder)):
                for e, p in zip(ema.parameters(), live.parameters(), strict=True):
                    e.lerp_(p, 1 - decay)
        return error.mean().item()  # logged unweighted: the plain epsilon MSE, comparable across weightings

    unet.train()
    text_encoder.train()
    state = trainer.run(step)
    return ema_unet.eval(), ema_text.eval(), state


def export(out: Path, vae, text_encoder, tokenizer, unet, scaling: float, report: dict) -> None:
    """Write the diffusers folder (float16 weights) atomically: into ``out.tmp``, then renamed."""
    vae.register_to_config(scaling_factor=scaling)
    scheduler = DDIMScheduler(**SD15_SCHEDULE, clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.to(torch.float16).save_pretrained(tmp, safe_serialization=True)
    (tmp / "training.json").write_text(json.dumps(report, indent=1))
    # The slow tokenizer's files too (vocab.json + merges.txt), for readers without tokenizer.json.
    vocab = tokenizer.get_vocab()
    (tmp / "tokenizer" / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    (tmp / "tokenizer" / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{' '.join(m) if isinstance(m, list) else m}\n" for m in merges))
    readme = out / "README.md"
    if readme.is_file():
        shutil.copy(readme, tmp / "README.md")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--work", type=Path, default=here.parents[1] / "build" / "toy_ldm",
                        help="checkpoints, cached data and latents (resume from here)")
    parser.add_argument("--out", type=Path, default=here / "toy-ldm", help="the diffusers folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=10000, help="training samples")
    parser.add_argument("--placement", choices=toy_data.PLACEMENTS, default="centre",
                        help="where the data puts each element (toy_data.PLACEMENTS)")
    parser.add_argument("--vae-steps", type=int, default=600)
    parser.add_argument("--vae-crop-steps", type=int, default=2400)
    parser.add_argument("--vae-crop", type=int, default=32, help="pixels, square, a multiple of 4")
    parser.add_argument("--vae-batch", type=int, default=16)
    parser.add_argument("--vae-lr", type=float, default=1e-3)
    parser.add_argument("--decoder-steps", type=int, default=200)
    parser.add_argument("--decoder-lr", type=float, default=5e-4)
    parser.add_argument("--ldm-steps", type=int, default=4500)
    parser.add_argument("--ldm-batch", type=int, default=16)
    parser.add_argument("--ldm-lr", type=float, default=1e-3)
    parser.add_argument("--ldm-flat", type=float, default=0.3,
                        help="fraction of the ldm steps at the peak learning rate before the cosine decay")
    parser.add_argument("--min-snr", type=float, default=5.0,
                        help="min-SNR-gamma loss weighting of the ldm stage (0: plain epsilon MSE)")
    parser.add_argument("--ema", type=float, default=0.995)
    parser.add_argument("--extend", action="store_true",
                        help="continue the ldm stage to a larger --ldm-steps than its checkpoint was made for")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: at these sizes 2 threads gain little on a quiet 2-core machine and "
                             "lose 4x when another job holds a core; the data is made by one process per core)")
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0)
    parser.add_argument("--vae-from", type=Path,
                        help="keep a toy-ldm folder's VAE (weights and scaling factor) as it is, so a matting head "
                             "made for it stays valid (stages 2 and 5 skipped; its training.json's VAE stages are "
                             "copied into the report); the UNet and text encoder are trained from scratch")
    parser.add_argument("--start-from", type=Path,
                        help="fine-tune a toy-ldm folder: as --vae-from, and the UNet and text encoder start from "
                             "its weights")
    args = parser.parse_args(argv)
    if args.start_from:
        if args.vae_from and args.vae_from != args.start_from:
            parser.error("--vae-from and --start-from name different folders")
        args.vae_from = args.start_from
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)

    wall = time.monotonic()
    images, captions, data_minutes = stage_data(args.work, args.seed, args.train, args.placement, os.cpu_count() or 1)
    if args.vae_from:
        # The VAE as it is (weights and scaling factor): stages 2 and 5 are skipped, and a matting
        # head trained for that VAE stays valid.
        vae = AutoencoderKL.from_pretrained(args.vae_from, subfolder="vae", torch_dtype=torch.float32)
        vae = vae.eval().requires_grad_(False)
    else:
        vae, vae_states = stage_vae(args.work, images, args)
    mean, std, scaling, latents_minutes = stage_latents(args.work, vae, images)
    if args.vae_from:
        scaling = vae.config.scaling_factor
    print(f"latents: scaling_factor {scaling:.5f}")
    tokenizer = build_tokenizer()
    unet, text_encoder, ldm_state = stage_ldm(args.work, (mean, std), captions, scaling, tokenizer, args)
    if args.vae_from:
        vae_states = json.loads((args.vae_from / "training.json").read_text())["vae"]
    else:
        vae_states = [{"stage": name, "steps": s["step"], "minutes": round(s["seconds"] / 60, 2), "log": s["log"]}
                      for name, s in zip(("vae", "vae_crops"), vae_states, strict=True)]
        state = stage_decoder(args.work, vae, images, (mean, std), args)
        vae_states.append({"stage": "vae_decoder", "steps": state["step"], "minutes": round(state["seconds"] / 60, 2),
                           "log": state["log"]})
    report = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("work", "out")},
        "scaling_factor": scaling,
        "data": {"samples": len(images), "minutes": round(data_minutes, 2)},
        "latents": {"minutes": round(latents_minutes, 2)},
        "vae": vae_states,
        "ldm": {"steps": ldm_state["step"], "minutes": round(ldm_state["seconds"] / 60, 2),
                "extended": ldm_state.get("extended", []), "log": ldm_state["log"]},
        "parameters": {"vae": sum(p.numel() for p in vae.parameters()),
                       "unet": sum(p.numel() for p in unet.parameters()),
                       "text_encoder": sum(p.numel() for p in text_encoder.parameters())},
        "this_run_wall_minutes": round((time.monotonic() - wall) / 60, 2),
    }
    export(args.out, vae, text_encoder, tokenizer, unet, scaling, report)
    print(f"wrote {args.out}: vae {sum(s['minutes'] for s in report['vae'])} min, ldm {report['ldm']['minutes']} min")


if __name__ == "__main__":
    main()
