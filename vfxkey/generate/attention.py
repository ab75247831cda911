"""A coarse subject mask from the UNet's cross-attention (concept distillation, ICCV 2023).

During the last reverse steps, the subject tokens' cross-attention maps of every ``attn2``
layer are captured, averaged over heads, layers and steps, and binarised:

1. **Capture**: a wrapper around each ``attn2`` processor computes
   ``softmax(Q K^T / sqrt(d))`` for the conditional half of the batch, keeps the columns
   of the subject tokens (summed), and hands the call on to the original processor, so
   the UNet's output is unchanged. Earlier steps are not captured (no extra work).
2. **Aggregate**: each map is rebuilt at its level's size (:func:`map_size`: the latent
   size halved and *rounded up* once per UNet downsampler, found from the map's token
   count, so 1280x720 frames with their 160x90 -> 80x45 -> 40x23 -> 20x12 levels work),
   resized bilinearly to latent resolution and averaged; the mean map is scaled to 0..1.
3. **Binarise**: a two-component Gaussian mixture over the map's values; the threshold is
   the mean of the two component means. Fitted on one thread, so it is bitwise repeatable.
4. **Clean orphans**: foreground islands and background holes smaller than
   ``min_area`` (fraction of the image) are removed / filled.

The result is an (H, W) float32 mask at image resolution, 1 on the subject.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from vfxkey.errors import SettingError


def subject_token_indices(tokenizer, prompt: str, subject: str | None = None) -> list[int]:
    """Positions of ``subject``'s tokens in the tokenised ``prompt`` (all prompt tokens when ``None``).

    Positions count the start token as 0, as in the text encoder's output.
    """
    ids = tokenizer(prompt, truncation=True, max_length=tokenizer.model_max_length).input_ids
    words = list(range(1, len(ids) - 1))  # without start and end tokens
    if subject is None:
        return words
    wanted = tokenizer(subject, add_special_tokens=False).input_ids
    for start in words:
        if ids[start:start + len(wanted)] == wanted:
            return list(range(start, start + len(wanted)))
    raise SettingError(f"{subject!r} does not occur in the prompt {prompt!r}", setting="subject")


def map_size(latent_size: tuple[int, int], tokens: int) -> tuple[int, int]:
    """``(h, w)`` of a UNet level whose hidden states hold ``tokens`` pixels, for a ``latent_size`` latent.

    Each downsampler of the SD1.5 and SDXL UNets (a 3x3 convolution, stride 2, padding 1)
    turns ``n`` pixels into ``ceil(n / 2)``; the level is the one whose size has that many
    pixels.
    """
    h, w = latent_size
    while h * w > tokens:
        h, w = (h + 1) // 2, (w + 1) // 2
    if h * w != tokens:
        raise RuntimeError(f"cross-attention over {tokens} tokens matches no UNet level of a "
                           f"{latent_size[1]}x{latent_size[0]} latent")
    return h, w


class _CaptureProcessor:
    """Wraps one ``attn2`` processor: records subject attention, then runs the original."""

    def __init__(self, inner, capture: "AttentionCapture"):
        self.inner = inner
        self.capture = capture

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        capture = self.capture
        if capture.active and encoder_hidden_states is not None and hidden_states.ndim == 3:
            # Conditional half of the classifier-free-guidance batch ([negative, positive]).
            half = hidden_states.shape[0] // 2 if capture.guided else 0
            query = attn.head_to_batch_dim(attn.to_q(hidden_states[half:]))
            context = encoder_hidden_states[half:]
            if attn.norm_cross:
                context = attn.norm_encoder_hidden_states(context)
            key = attn.head_to_batch_dim(attn.to_k(context))
            probs = attn.get_attention_scores(query, key, None)  # (batch*heads, pixels, tokens)
            subject = probs[:, :, capture.token_indices].sum(-1)
            capture.record(subject.reshape(-1, attn.heads, subject.shape[-1]).mean(1))
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)


@dataclass
class AttentionCapture:
    """Collects the subject's cross-attention over the last ``last_steps`` UNet calls."""

    token_indices: list[int]
    latent_size: tuple[int, int]       # (h, w) latent pixels
    start_step: int                    # first UNet call (0-based) that is captured
    guided: bool = True                # batch holds [negative, positive] halves
    step: int = -1
    total: torch.Tensor | None = None
    count: int = 0

    @property
    def active(self) -> bool:
        return self.step >= self.start_step

    def record(self, maps: torch.Tensor) -> None:
        """Add ``(batch, pixels)`` maps from one layer, resized to latent resolution."""
        grid = maps.float().reshape(maps.shape[0], 1, *map_size(self.latent_size, maps.shape[-1]))
        grid = F.interpolate(grid, size=self.latent_size, mode="bilinear", align_corners=False)[:, 0]
        self.total = grid if self.total is None else self.total + grid
        self.count += 1

    def soft_map(self) -> np.ndarray:
        """The mean captured map of the first image, ``(h, w)`` float32 scaled to 0..1."""
        if self.total is None:
            raise RuntimeError("no cross-attention was captured (was the capture attached during generation?)")
        mean = (self.total[0] / self.count).cpu().numpy()
        low, high = mean.min(), mean.max()
        return ((mean - low) / max(high - low, 1e-12)).astype(np.float32)


@contextmanager
def capture_attention(unet, token_indices: list[int], latent_size: tuple[int, int], num_steps: int,
                      last_steps: int, guided: bool = True) -> Iterator[AttentionCapture]:
    """Attach capture processors to ``unet``'s ``attn2`` layers for the duration of the block.

    UNet calls are counted with a forward pre-hook; the last ``last_steps`` of ``num_steps``
    are captured. The original processors are restored on exit.
    """
    capture = AttentionCapture(token_indices=token_indices, latent_size=latent_size,
                               start_step=max(0, num_steps - last_steps), guided=guided)
    original = unet.attn_processors
    wrapped = {name: _CaptureProcessor(proc, capture) if name.endswith("attn2.processor") else proc
               for name, proc in original.items()}

    def count_step(module, args):
        capture.step += 1

    unet.set_attn_processor(wrapped)
    handle = unet.register_forward_pre_hook(count_step)
    try:
        yield capture
    finally:
        handle.remove()
        unet.set_attn_processor(original)


def binarise(soft: np.ndarray, size: tuple[int, int], min_area: float = 0.01) -> np.ndarray:
    """Threshold a 0..1 attention map into a clean ``(height, width)`` float32 0/1 mask.

    The threshold is the mean of the two means of a two-component Gaussian mixture fitted
    to ``soft``'s values; ``soft`` is resized bilinearly to ``size = (height, width)``
    before thresholding. Islands and holes under ``min_area`` of the image are removed.
    """
    values = soft.reshape(-1, 1).astype(np.float64)
    # k-means++ seeding instead of a full K-Means, and one thread: multi-threaded K-Means sums
    # its thread-local buffers in lock order, which changes the last bits between runs.
    with threadpool_limits(limits=1):
        mixture = GaussianMixture(n_components=2, init_params="k-means++", random_state=0).fit(values)
    threshold = float(mixture.means_.mean())
    height, width = size
    upsampled = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    mask = (upsampled > threshold).astype(np.uint8)
    smallest = max(1, int(min_area * height * width))
    for value in (1, 0):  # drop foreground islands, then fill background holes
        layer = (mask == value).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(layer, connectivity=8)
        for label in range(1, count):
            if stats[label, cv2.CC_STAT_AREA] < smallest:
                mask[labels == label] = 1 - value
    return mask.astype(np.float32)
