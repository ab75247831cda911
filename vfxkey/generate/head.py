"""DiffuMatting's matting head: a coarse mask from the VAE decoder's last feature map.

DiffuMatting (arXiv 2403.06168, REFERENCE §1.2) attaches ``ConR``, two stacked 2-D
convolutions with SiLU between them, to the 128-channel full-resolution feature of the VAE
decoder (the output of ``vae.decoder.up_blocks[-1]``, captured during the normal decode by
:mod:`vfxkey.generate.decoder_features`). Its one output channel, through a sigmoid, is a
coarse foreground mask in 0..1 that the keyer then refines. It is trained with L1 + Dice
against ground-truth masks while the VAE stays frozen.

A head only makes sense for the VAE it was trained on, so a saved head records a
fingerprint of that VAE (:func:`vae_fingerprint`) and :func:`load_head` refuses any other.
Heads are stored as ``.safetensors`` with their settings in the file's metadata; vfxkey
never unpickles a head.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vfxkey import __version__
from vfxkey.errors import VfxkeyError
from vfxkey.generate.decoder_features import capture_decoder_features, decoder_feature_channels
from vfxkey.io.files import atomic_output

if TYPE_CHECKING:  # annotations only
    from diffusers import AutoencoderKL

HEAD_FORMAT = "vfxkey-matting-head"
HEAD_FORMAT_VERSION = "1"

# VAE config entries that change the decoder feature for the same weights; with the decoder
# weights they make up the fingerprint.
FINGERPRINT_CONFIG_KEYS = (
    "latent_channels",
    "block_out_channels",
    "layers_per_block",
    "norm_num_groups",
    "act_fn",
    "up_block_types",
    "use_post_quant_conv",
    "mid_block_add_attention",
)


class MattingHead(torch.nn.Module):
    """``ConR``: conv 3x3 -> SiLU -> conv 3x3 -> sigmoid, decoder feature to a coarse mask.

    Input ``(B, in_channels, H, W)`` decoder features (any float dtype; cast to the head's);
    output ``(B, 1, H, W)`` mask in 0..1 (1 = foreground) at the same resolution.
    """

    def __init__(self, in_channels: int = 128, hidden_channels: int = 32):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.conv1 = torch.nn.Conv2d(in_channels, hidden_channels, kernel_size=3, padding=1)
        self.act = torch.nn.SiLU()
        self.conv2 = torch.nn.Conv2d(hidden_channels, 1, kernel_size=3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.act(self.conv1(features.to(self.conv1.weight.dtype)))
        return torch.sigmoid(self.conv2(hidden))


def predict_mask(head: MattingHead, features: torch.Tensor) -> np.ndarray:
    """The coarse mask of one image, ``(H, W)`` float32 in 0..1, from its ``(1, C, H, W)`` features."""
    if features.ndim == 3:
        features = features[None]
    if features.shape[0] != 1:
        raise ValueError(f"predict_mask takes one image's features, got a batch of {features.shape[0]}")
    with torch.no_grad():
        mask = head(features)
    return mask[0, 0].float().cpu().numpy()


def matting_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 + Dice between ``(B, 1, H, W)`` masks in 0..1; a scalar, 0 for a perfect mask.

    L1 is the mean absolute error over all pixels. Dice is ``1 - 2|P T| / (|P| + |T|)``
    per image (sums over pixels, +1 in numerator and denominator so empty masks score 0),
    averaged over the batch. Each term is in 0..1, so the loss is in 0..2.
    """
    l1 = (pred - target).abs().mean()
    pred, target = pred.flatten(1), target.flatten(1)
    overlap = (pred * target).sum(1)
    dice = 1.0 - (2.0 * overlap + 1.0) / (pred.sum(1) + target.sum(1) + 1.0)
    return l1 + dice.mean()


def vae_fingerprint(vae: AutoencoderKL) -> str:
    """A stable 16-hex-digit fingerprint of what produces the decoder feature.

    SHA-256 over: the :data:`FINGERPRINT_CONFIG_KEYS` entries of ``vae.config`` (as sorted
    JSON), then every tensor of ``vae.post_quant_conv`` and ``vae.decoder`` in name order
    (name, shape, and the values rounded to float16). The rounding makes the same VAE give
    the same fingerprint whether it is loaded in float32 or float16, on CPU or GPU; any
    fine-tune of the decoder changes it. The encoder is not included: the head never sees it.
    """
    digest = hashlib.sha256()
    config = {key: vae.config.get(key) for key in FINGERPRINT_CONFIG_KEYS}
    digest.update(json.dumps(config, sort_keys=True).encode())
    parts = {"decoder": vae.decoder}
    if vae.post_quant_conv is not None:
        parts["post_quant_conv"] = vae.post_quant_conv
    for prefix, module in sorted(parts.items()):
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(f"{prefix}.{name}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().to("cpu", torch.float16).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_head(path: str | os.PathLike, head: MattingHead, vae: AutoencoderKL, **info: object) -> None:
    """Write ``head`` as ``.safetensors`` (atomically), recording the VAE it was trained for.

    Metadata (all strings): ``format``, ``format_version``, ``vae_fingerprint``,
    ``in_channels``, ``hidden_channels``, ``vfxkey_version``, and each ``info`` entry
    (e.g. ``key``: the screen colour it was trained on, ``model``, ``steps``, ``lr``,
    ``final_loss``) as ``str(value)``.
    """
    metadata = {key: str(value) for key, value in info.items()}
    metadata.update(
        format=HEAD_FORMAT,
        format_version=HEAD_FORMAT_VERSION,
        vae_fingerprint=vae_fingerprint(vae),
        in_channels=str(head.in_channels),
        hidden_channels=str(head.hidden_channels),
        vfxkey_version=__version__,
    )
    state = {name: tensor.detach().to("cpu", torch.float32).contiguous() for name, tensor in head.state_dict().items()}
    with atomic_output(path) as tmp:
        save_file(state, tmp, metadata=metadata)


def load_head(path: str | os.PathLike, vae: AutoencoderKL) -> MattingHead:
    """Load a head saved by :func:`save_head` for ``vae``, on the VAE's device and dtype, in eval mode.

    Raises:
        VfxkeyError: the file is missing, not ``.safetensors`` (pickled ``.pt``/``.ckpt``
            heads are refused, never unpickled), not a vfxkey matting head, or trained for
            a different VAE (the message names both fingerprints).
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise VfxkeyError(
            f"{path}: a matting head must be a .safetensors file (vfxkey never unpickles "
            f".pt/.ckpt files); train one with `vfxkey train-matte-head`"
        )
    if not path.is_file():
        raise VfxkeyError(f"{path}: no such matting head file")
    try:
        with safe_open(str(path), framework="pt") as reader:
            metadata = reader.metadata() or {}
            state = {name: reader.get_tensor(name) for name in reader.keys()}
    except (SafetensorError, OSError) as exc:
        raise VfxkeyError(f"{path}: not a readable .safetensors file ({exc})") from None
    if metadata.get("format") != HEAD_FORMAT:
        raise VfxkeyError(f"{path}: not a vfxkey matting head (its metadata has no format={HEAD_FORMAT})")

    trained_for, this_vae = metadata.get("vae_fingerprint"), vae_fingerprint(vae)
    if trained_for != this_vae:
        model = f" (model {metadata['model']})" if "model" in metadata else ""
        raise VfxkeyError(
            f"{path}: head was trained for VAE {trained_for}{model} but this model's VAE is "
            f"{this_vae}; train a head for this model with `vfxkey train-matte-head`"
        )

    head = MattingHead(int(metadata["in_channels"]), int(metadata["hidden_channels"]))
    try:
        head.load_state_dict(state)
    except RuntimeError as exc:
        raise VfxkeyError(f"{path}: matting head weights do not match its metadata: {exc}") from None
    # The key it learnt screens of (``head.key``, a name or #RRGGBB); heads that record none were
    # trained on `vfxkey make-trainset`'s sets, which have only ever been green.
    head.key = metadata.get("key", "green")
    return head.to(device=vae.device, dtype=vae.dtype).eval()


def encode_decode_features(vae: AutoencoderKL, images: torch.Tensor) -> torch.Tensor:
    """Decoder features of ``images`` as the head sees them after generation.

    ``images`` is ``(B, 3, H, W)`` sRGB-encoded in 0..1 (the VAE's own input space, not
    linear); they are encoded to the latent mode and decoded with the hook, giving
    ``(B, C, H, W)`` features (C = ``block_out_channels[0]``). H and W must be multiples of
    the VAE's downsampling factor.
    """
    with torch.no_grad():
        sample = images.to(device=vae.device, dtype=vae.dtype) * 2.0 - 1.0
        latents = vae.encode(sample).latent_dist.mode()
        with capture_decoder_features(vae) as captured:
            vae.decode(latents)
    return captured.output()


@dataclass
class TrainedHead:
    """The result of :func:`train_head`: the head (fp32, eval mode) and each step's batch loss."""

    head: MattingHead
    losses: list[float]


def train_head(
    vae: AutoencoderKL,
    dataset: Sequence[tuple[np.ndarray, np.ndarray]],
    steps: int,
    lr: float = 1e-3,
    *,
    batch_size: int = 4,
    hidden_channels: int = 32,
    seed: int = 0,
    cache_bytes: int = 2**30,
    progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
) -> TrainedHead:
    """Train a matting head on ``dataset`` with L1 + Dice, the VAE frozen.

    ``dataset[i]`` is ``(image, mask)``: ``(H, W, 3)`` float32 sRGB-encoded in 0..1 and
    ``(H, W)`` float32 in 0..1, all items the same size (see
    :class:`vfxkey.synth.trainset.MattePairs`). ``vae`` is switched to eval mode with
    gradients off. Each item's decoder feature is computed once and kept (on CPU) while
    the whole set's features fit in ``cache_bytes``; otherwise it is recomputed every time
    the item is drawn. Batches are drawn without replacement, reshuffled every epoch.
    ``progress`` wraps the step iterator (e.g. a progress bar). The run is a pure function
    of ``seed`` and the inputs on a given device.
    """
    if len(dataset) == 0:
        raise VfxkeyError("the training set is empty")
    vae.requires_grad_(False).eval()
    device = vae.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = MattingHead(decoder_feature_channels(vae), hidden_channels).to(device)
    optimiser = torch.optim.AdamW(head.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)

    # Features are kept (on CPU, with their masks) while the whole set's fit in cache_bytes.
    height, width = dataset[0][1].shape
    keep = decoder_feature_channels(vae) * height * width * 4 * len(dataset) <= cache_bytes
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def load(indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features, masks)`` of a batch: ``(B, C, H, W)`` and ``(B, 1, H, W)`` on the VAE's device."""
        missing = sorted({i for i in indices if i not in cache})
        fresh = {}
        if missing:
            pairs = [dataset[i] for i in missing]
            images = torch.from_numpy(np.stack([image for image, _ in pairs])).permute(0, 3, 1, 2)
            features = encode_decode_features(vae, images).float().cpu()
            masks = [torch.from_numpy(mask)[None] for _, mask in pairs]
            fresh = dict(zip(missing, zip(features, masks, strict=True), strict=True))
            if keep:
                cache.update(fresh)
        items = [cache[i] if i in cache else fresh[i] for i in indices]
        return torch.stack([f for f, _ in items]).to(device), torch.stack([m for _, m in items]).to(device)

    order: list[int] = []
    losses = []
    head.train()
    for _ in (progress or iter)(range(steps)):
        while len(order) < batch_size:
            order += torch.randperm(len(dataset), generator=generator).tolist()
        batch, order = order[:batch_size], order[batch_size:]
        features, masks = load(batch)

        loss = matting_loss(head(features), masks)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return TrainedHead(head.eval(), losses)
