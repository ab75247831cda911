"""IP-Adapter and its CLIP image encoder, from local files only: the image as a condition.

An IP-Adapter (Ye et al. 2023) adds a second, image-fed key/value projection to every
cross-attention layer of the UNet; its input is the embedding of an image by a CLIP vision
encoder. Tight Inversion (REFERENCE §1.3) conditions inversion and editing on the source
frame itself through it. Accepted files:

- the **adapter**: one diffusers-format ``.safetensors`` with ``image_proj.*`` and
  ``ip_adapter.*`` weights, as published (``ip-adapter_sd15.safetensors``,
  ``ip-adapter-plus_sdxl_vit-h.safetensors``, ...). A pickled ``.bin`` can run code when
  loaded and is refused unless ``allow_pickle=True`` (then it is read with
  ``torch.load(weights_only=True)``);
- the **image encoder**: a local folder of a ``CLIPVisionModelWithProjection``
  (``config.json`` and ``model.safetensors``; ``preprocessor_config.json`` if present, else
  CLIP's preprocessing at the encoder's size, as diffusers does). By default the folder
  ``image_encoder/`` beside the adapter file, which is where the published adapters keep it.

Nothing here reaches a hub: the encoder loads with ``local_files_only=True``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import diffusers
import numpy as np
import torch
from diffusers.models.attention_processor import SlicedAttnProcessor
from safetensors import SafetensorError, safe_open
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

from vfxkey.errors import VfxkeyError
from vfxkey.generate.model import PICKLE_SUFFIXES, LoadedModel, model_hash

ADAPTER_HELP = "give a diffusers-format IP-Adapter .safetensors (e.g. ip-adapter_sd15.safetensors)"
ENCODER_HELP = "give a local CLIP image encoder folder (config.json and model.safetensors) as the image encoder"
ENCODER_MODEL_TYPES = ("clip_vision_model", "clip")


def read_adapter(path: str | Path, *, allow_pickle: bool = False) -> dict[str, dict[str, torch.Tensor]]:
    """The adapter's state dict ``{"image_proj": {...}, "ip_adapter": {...}}`` from a local file."""
    path = Path(path)
    if not path.exists():
        raise VfxkeyError(f"IP-Adapter {path} does not exist; {ADAPTER_HELP}")
    if path.is_dir():
        raise VfxkeyError(f"IP-Adapter {path} is a folder; {ADAPTER_HELP}")
    if path.suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise VfxkeyError(f"IP-Adapter {path} is a pickled file, which can run code when loaded; "
                              "use its .safetensors version, or allow pickles (allow_pickle) if you trust it")
        try:
            flat = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad pickle
            raise VfxkeyError(f"IP-Adapter {path} cannot be read: {str(exc).splitlines()[0]}") from None
        nested = flat if isinstance(flat, dict) and "image_proj" in flat else _nest(flat)
    elif path.suffix == ".safetensors":
        try:
            with safe_open(str(path), framework="pt") as handle:
                nested = _nest({key: handle.get_tensor(key) for key in handle.keys()})
        except (SafetensorError, OSError) as exc:
            raise VfxkeyError(f"IP-Adapter {path} cannot be read as safetensors ({exc}); {ADAPTER_HELP}") from None
    else:
        raise VfxkeyError(f"IP-Adapter {path} is not a .safetensors file; {ADAPTER_HELP}")
    if not nested.get("image_proj") or not nested.get("ip_adapter"):
        raise VfxkeyError(f"IP-Adapter {path} holds no image_proj.* and ip_adapter.* weights, so it is not an "
                          f"IP-Adapter; {ADAPTER_HELP}")
    return nested


def _nest(flat: dict) -> dict[str, dict[str, torch.Tensor]]:
    """``{"image_proj.proj.weight": t, ...}`` -> ``{"image_proj": {"proj.weight": t}, ...}``."""
    nested: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
    for key, value in flat.items():
        part, _, rest = str(key).partition(".")
        if part in nested and isinstance(value, torch.Tensor):
            nested[part][rest] = value
    return nested


def read_image_encoder(folder: str | Path, *, allow_pickle: bool = False) -> tuple[CLIPVisionModelWithProjection, CLIPImageProcessor]:
    """A CLIP vision encoder and its preprocessing from a local folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VfxkeyError(f"image encoder {folder} {'is a file' if folder.exists() else 'does not exist'}; "
                          f"{ENCODER_HELP}")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise VfxkeyError(f"image encoder folder {folder} has no config.json, so it is not a model; {ENCODER_HELP}")
    try:
        model_type = json.loads(config_path.read_text()).get("model_type", "")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise VfxkeyError(f"image encoder {config_path} is not a JSON model config; {ENCODER_HELP}") from None
    if model_type not in ENCODER_MODEL_TYPES:
        raise VfxkeyError(f"image encoder folder {folder} holds a {model_type or 'unknown'} model, not a CLIP "
                          f"image encoder; {ENCODER_HELP}")
    try:
        encoder = CLIPVisionModelWithProjection.from_pretrained(
            str(folder), local_files_only=True, use_safetensors=None if allow_pickle else True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "" if allow_pickle else " (pickled .bin weights need allow_pickle)"
        raise VfxkeyError(f"image encoder {folder} could not be loaded: {first_line}{hint}; {ENCODER_HELP}") from None
    if (folder / "preprocessor_config.json").is_file():
        processor = CLIPImageProcessor.from_pretrained(str(folder), local_files_only=True)
    else:
        size = encoder.config.image_size
        processor = CLIPImageProcessor(size=size, crop_size=size)
    return encoder.eval(), processor


def attach_ip_adapter(pipe, state_dict: dict, encoder: CLIPVisionModelWithProjection,
                      processor: CLIPImageProcessor, *, name: str = "IP-Adapter") -> None:
    """Install the adapter's attention processors and image projection in ``pipe``'s UNet, and the encoder.

    Checks that the three fit together by embedding a grey image; ``name`` labels errors.
    A UNet with attention slicing (``attention_slicing``) keeps it in its self-attention; its
    cross-attention takes the adapter's processor, unsliced (its map is the latent's pixels by
    the prompt's and image's tokens, small beside self-attention's pixels by pixels).
    """
    pipe.register_modules(image_encoder=encoder.to(pipe.unet.device, pipe.unet.dtype), feature_extractor=processor)
    # diffusers' adapter loader rebuilds each processor it keeps without arguments, which a
    # SlicedAttnProcessor cannot take: unslice, load, then slice again where the adapter is not.
    sliced = {name: module.processor.slice_size for name, module in pipe.unet.named_modules()
              if isinstance(getattr(module, "processor", None), SlicedAttnProcessor)}
    for name in sliced:
        pipe.unet.get_submodule(name).set_attention_slice(None)
    verbosity = diffusers.utils.logging.get_verbosity()
    diffusers.utils.logging.set_verbosity_error()  # not its notice about casting the UNet to its own dtype
    try:
        pipe.load_ip_adapter(state_dict, subfolder="", weight_name="", image_encoder_folder=None)
        for name, size in sliced.items():
            if not hasattr(pipe.unet.get_submodule(name).processor, "to_k_ip"):
                pipe.unet.get_submodule(name).set_attention_slice(size)
        positive, _ = encode_image(pipe, np.full((64, 64, 3), 0.5, np.float32))
        pipe.unet.encoder_hid_proj(positive)
    except (RuntimeError, KeyError, ValueError, IndexError) as exc:
        pipe.unload_ip_adapter()
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VfxkeyError(f"{name} does not fit this model and image encoder: {first_line}") from None
    finally:
        diffusers.utils.logging.set_verbosity(verbosity)


@dataclass
class IPAdapter:
    """An IP-Adapter and its image encoder read from local files, ready to attach to a model."""

    state_dict: dict[str, dict[str, torch.Tensor]]
    encoder: CLIPVisionModelWithProjection
    processor: CLIPImageProcessor
    path: Path
    encoder_path: Path

    @classmethod
    def read(cls, adapter: str | Path, image_encoder: str | Path | None = None, *,
             allow_pickle: bool = False) -> "IPAdapter":
        """Read the adapter file and the encoder folder (default: ``image_encoder/`` beside the adapter)."""
        adapter = Path(adapter)
        state_dict = read_adapter(adapter, allow_pickle=allow_pickle)
        if image_encoder is None:
            image_encoder = adapter.parent / "image_encoder"
            if not image_encoder.is_dir():
                raise VfxkeyError(f"no image encoder for IP-Adapter {adapter}: {image_encoder} does not exist; "
                                  f"{ENCODER_HELP}")
        image_encoder = Path(image_encoder)
        encoder, processor = read_image_encoder(image_encoder, allow_pickle=allow_pickle)
        return cls(state_dict, encoder, processor, adapter, image_encoder)

    def attach(self, model: LoadedModel) -> None:
        """Install the adapter and the encoder in ``model``'s pipeline (on its device and dtype)."""
        attach_ip_adapter(model.pipe, self.state_dict, self.encoder, self.processor,
                          name=f"IP-Adapter {self.path} with image encoder {self.encoder_path}")

    def metadata(self) -> dict[str, str]:
        """What the outputs record: the adapter's and the encoder's names and weight hashes (model_hash)."""
        return adapter_metadata(self.path, self.encoder_path)


def adapter_metadata(adapter: str | Path, image_encoder: str | Path | None = None) -> dict[str, str]:
    """:meth:`IPAdapter.metadata` of the adapter that :meth:`IPAdapter.read` would read, from the
    files alone (the encoder is not loaded)."""
    adapter = Path(adapter)
    encoder = Path(image_encoder) if image_encoder is not None else adapter.parent / "image_encoder"
    return {"ip_adapter": adapter.name, "ip_adapter_hash": model_hash(adapter),
            "image_encoder": encoder.name, "image_encoder_hash": model_hash(encoder)}


def encode_image(pipe, image: np.ndarray) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The IP-Adapter embeddings ``(positive, negative)`` of one image, as ``added_cond_kwargs["image_embeds"]`` takes them.

    ``image`` is ``(H, W, 3)`` float32, sRGB-encoded (display-referred) 0..1, as the model
    sees images. Each is a list with one tensor per adapter, batch 1: ``(1, 1, D)`` for the
    basic adapter's pooled embedding, ``(1, 1, tokens, D)`` for "plus" adapters' hidden
    states. The negative is what diffusers pairs with the unconditional text under
    classifier-free guidance (zeros, or the embedding of a black image for "plus").
    """
    pixels = pipe.feature_extractor(images=np.clip(image, 0.0, 1.0), do_rescale=False,
                                    return_tensors="pt").pixel_values
    with torch.no_grad():
        pairs = pipe.prepare_ip_adapter_image_embeds(pixels, None, pipe.unet.device, 1, True)
    negative, positive = zip(*(pair.chunk(2) for pair in pairs))
    return list(positive), list(negative)
