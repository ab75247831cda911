"""Load a Stable Diffusion model from local files only: a diffusers folder or one checkpoint file.

vfxkey never reaches the Hugging Face hub: every load passes ``local_files_only=True`` (the
``vfxkey`` command line also sets ``HF_HUB_OFFLINE``; importing vfxkey sets nothing).
Accepted models:

- a **diffusers folder** (``model_index.json``, ``unet/``, ``vae/``, ...) of a
  ``StableDiffusionPipeline`` (SD1.x/2.x, family ``"sd15"``) or
  ``StableDiffusionXLPipeline`` (family ``"sdxl"``);
- a **single checkpoint** ``.safetensors`` in the original (LDM) layout of SD1.x or SDXL
  base (SD 2.x and SDXL-refiner checkpoints are recognised by their text encoders and
  refused by name: load those from a diffusers folder). Its configs and
  tokenizer come from ``config``: a local diffusers folder of the same family, or, when
  none is given, the family's reference repository *if it is already in the local
  Hugging Face cache*. Pickled checkpoints (``.ckpt``, ``.pt``, ``.pth``, ``.bin``) can run
  code when loaded and are refused unless ``allow_pickle=True``.

A diffusers folder that holds only a weight *variant* (``unet/diffusion_pytorch_model.fp16.safetensors``
and the like, a common download) loads that variant.

Precision (``"fp32"``, ``"fp16"``, ``"bf16"``; :func:`resolve_precision`) defaults to fp16 on
CUDA when a GPU is present, else fp32 on the CPU. :class:`RunOptions` holds the rest of how
a model runs: a LoRA's scale, memory savers (model CPU offload, VAE tiling, attention
slicing) and torch's deterministic algorithms; each is recorded in the outputs' metadata.
SDXL loads without the invisible watermarker (a hidden pattern in a VFX element is damage).
:func:`model_hash` identifies the weights for output metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch
import transformers
from diffusers import (
    DDIMScheduler,
    DiffusionPipeline,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.loaders.single_file_utils import (
    DIFFUSERS_DEFAULT_PIPELINE_PATHS,
    SingleFileComponentError,
)
from safetensors import SafetensorError, safe_open

from vfxkey.errors import ModelError, SettingError, VfxkeyError
from vfxkey.generate.run_options import VAE_TILE_PX, RunOptions

PIPELINES = {"sd15": StableDiffusionPipeline, "sdxl": StableDiffusionXLPipeline}
FAMILY_OF_PIPELINE = {"StableDiffusionPipeline": "sd15", "StableDiffusionXLPipeline": "sdxl"}
SCHEDULERS = {
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "dpmpp": DPMSolverMultistepScheduler,
}
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
WEIGHT_SUFFIXES = (".safetensors",) + PICKLE_SUFFIXES
HOW_TO_POINT = ("give the model as a diffusers folder (with model_index.json and unet/) "
                "or a single .safetensors Stable Diffusion checkpoint")
_HASH_CHUNK = 1 << 20  # bytes read from each end of every weight file


@dataclass
class LoadedModel:
    """A ready pipeline and what it is, for the generation loop and the output metadata."""

    pipe: DiffusionPipeline      # StableDiffusionPipeline or StableDiffusionXLPipeline
    family: str                  # "sd15" | "sdxl"
    path: Path
    hash: str                    # see model_hash
    lora: Path | None = None
    options: RunOptions = RunOptions()

    @property
    def device(self) -> torch.device:
        """Where the model computes (with offload, where each part moves to when it runs)."""
        return self.pipe._execution_device

    @property
    def dtype(self) -> torch.dtype:
        return self.pipe.unet.dtype

    @property
    def precision(self) -> str:
        """``"fp32"``, ``"fp16"`` or ``"bf16"``: the UNet's dtype by name."""
        return next(name for name, dtype in PRECISIONS.items() if dtype == self.dtype)

    def metadata(self) -> dict[str, str]:
        """What the outputs record about the model: its name, family, weight hashes and LoRA."""
        return model_metadata(self.path, self.family, self.lora, self.options, weights_hash=self.hash)


def model_metadata(path: Path, family: str, lora: Path | None = None, options: RunOptions = RunOptions(), *,
                   weights_hash: str | None = None) -> dict[str, str]:
    """What the outputs record about a model run with ``options``, from its files
    (:meth:`LoadedModel.metadata` of it loaded)."""
    return {"model": path.name, "model_family": family, "model_hash": weights_hash or model_hash(path),
            "lora": lora.name if lora else "", "lora_hash": model_hash(lora) if lora else "",
            **options.metadata()}


def model_family(path: Path, allow_pickle: bool = False) -> str:
    """``"sd15"`` or ``"sdxl"`` of a model folder or checkpoint, from its files; a pickled
    checkpoint is refused unless ``allow_pickle`` (reading it can run code)."""
    if not path.exists():
        raise VfxkeyError(f"model {path} does not exist; {HOW_TO_POINT}")
    if path.is_file() and path.suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise VfxkeyError(f"model file {path} is a pickled checkpoint, which can run code when loaded; "
                              "convert it to .safetensors, or allow pickles (allow_pickle) if you trust it")
        return _pickled_checkpoint_family(path)
    return detect_family(path)


@contextmanager
def upcast_vae(vae) -> Iterator[torch.dtype]:
    """Inside the block, a float16 VAE whose config asks for it (``force_upcast``, as SDXL's VAE
    does because it overflows the half range) runs in float32, as diffusers' SDXL pipeline
    decodes; yields the dtype to feed it. Afterwards it is back as it came (float16 -> float32
    -> float16 gives back the very same weights)."""
    dtype = vae.dtype
    upcast = dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    try:
        if upcast:
            torch.nn.Module.to(vae, torch.float32)  # torch's own: diffusers' prints a notice on every cast
        yield vae.dtype
    finally:
        torch.nn.Module.to(vae, dtype)


def default_device() -> tuple[torch.device, torch.dtype]:
    """CUDA float16 when a GPU is present, else CPU float32."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.float16
    return torch.device("cpu"), torch.float32


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """``precision`` checked against :data:`PRECISIONS`; ``None`` gives fp16 on CUDA, fp32 elsewhere."""
    if precision is None:
        return "fp16" if device.type == "cuda" else "fp32"
    if precision not in PRECISIONS:
        raise SettingError(f"{precision}: use one of {', '.join(PRECISIONS)}", setting="precision")
    return precision


def model_hash(path: str | Path) -> str:
    """A fingerprint of a model's weight files, cheap even for multi-GB checkpoints.

    sha256 over, for every weight file (``.safetensors``, ``.ckpt``, ``.pt``, ``.pth``,
    ``.bin``; for a folder, all of them below it in sorted relative-path order): its relative
    path, its size in bytes, its first MiB and its last MiB. Returned as 64 hex digits.
    """
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in WEIGHT_SUFFIXES)
    digest = hashlib.sha256()
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path) if file != path else file.name}\0{size}\0".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(_HASH_CHUNK))
            handle.seek(max(0, size - _HASH_CHUNK))
            digest.update(handle.read(_HASH_CHUNK))
    return digest.hexdigest()


def detect_family(path: str | Path) -> str:
    """``"sd15"`` or ``"sdxl"`` for a diffusers folder or a single checkpoint; VfxkeyError otherwise."""
    path = Path(path)
    if path.is_dir():
        index = path / "model_index.json"
        if not index.is_file() or not (path / "unet").is_dir():
            missing = "model_index.json" if not index.is_file() else "unet/"
            raise VfxkeyError(f"model folder {path} has no {missing}; {HOW_TO_POINT}")
        name = json.loads(index.read_text()).get("_class_name", "")
        if name not in FAMILY_OF_PIPELINE:
            raise VfxkeyError(f"model folder {path} holds a {name or 'unknown'} pipeline; "
                              "vfxkey generates with StableDiffusionPipeline or StableDiffusionXLPipeline models")
        return FAMILY_OF_PIPELINE[name]
    if path.suffix != ".safetensors":
        raise VfxkeyError(f"model file {path} is not a .safetensors checkpoint; {HOW_TO_POINT}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = set(handle.keys())
    except (SafetensorError, OSError) as exc:
        raise VfxkeyError(f"model file {path} cannot be read as safetensors ({exc}); {HOW_TO_POINT}") from None
    return checkpoint_family(keys, path)


def checkpoint_family(keys: set[str], path: str | Path) -> str:
    """``"sd15"`` or ``"sdxl"`` from the key names of an original-layout checkpoint; VfxkeyError otherwise.

    The text encoders tell the models apart: SD1.x has CLIP ViT-L (``cond_stage_model.transformer.``),
    SD 2.x OpenCLIP ViT-H (``cond_stage_model.model.``), SDXL base CLIP ViT-L and OpenCLIP
    bigG (``conditioner.embedders.0.`` and ``.1.``), the SDXL refiner OpenCLIP bigG alone
    (``conditioner.embedders.0.model.``). SD 2.x and the refiner need configs vfxkey does not
    pick for single files, so they are refused by name rather than built as SD1.5.
    """
    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if not (has("model.diffusion_model.input_blocks.") and has("first_stage_model.")):
        raise VfxkeyError(f"model file {path} is not a Stable Diffusion checkpoint (no UNet and VAE weights in "
                          f"the original layout; a LoRA is given as the lora setting); {HOW_TO_POINT}")
    if has("conditioner.embedders.1."):
        return "sdxl"
    if has("conditioner.embedders.0.model."):
        raise VfxkeyError(f"model file {path} is an SDXL refiner checkpoint (an img2img second stage); "
                          "vfxkey generates with SD1.x, SD 2.x or SDXL base models")
    if has("cond_stage_model.model."):
        raise VfxkeyError(f"model file {path} is an SD 2.x checkpoint, which vfxkey does not load from a single "
                          "file; give the model's diffusers folder instead")
    if has("cond_stage_model.transformer."):
        return "sd15"
    raise VfxkeyError(f"model file {path} has a text encoder vfxkey does not know; {HOW_TO_POINT}")


def _pickled_checkpoint_family(path: Path) -> str:
    """:func:`checkpoint_family` of a pickled checkpoint (only called once the user allowed pickles)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as exc:  # a pickle can raise anything
        raise VfxkeyError(f"model file {path} cannot be read as a checkpoint ({type(exc).__name__}: {exc})") from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else {}
    return checkpoint_family(set(state), path)


def _single_file_config(path: Path, family: str, config: str | Path | None) -> str:
    """The local folder whose configs and tokenizer build a single-file checkpoint."""
    if config is not None:
        config = Path(config)
        if detect_family(config) != family:
            raise SettingError(f"{config} is not a {family} model like {path}", setting="model_config")
        return str(config)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    # The family's reference repository, as diffusers would pick it; only its cached copy is used.
    repo = DIFFUSERS_DEFAULT_PIPELINE_PATHS["v1" if family == "sd15" else "xl_base"]["pretrained_model_name_or_path"]
    try:
        return snapshot_download(repo, local_files_only=True, allow_patterns=["*.json", "*.txt"])
    except (LocalEntryNotFoundError, OSError):
        raise VfxkeyError(
            f"single-file checkpoint {path} needs the {family} configs and tokenizer, and {repo} is not in the "
            "local Hugging Face cache; give its model_config: a local diffusers folder of the same family"
        ) from None


def scheduler_config(path: Path, family: str, scheduler: str, config: str | Path | None = None) -> dict:
    """The config of the scheduler :func:`load_model` gives the model (``scheduler`` made from
    the model's own scheduler), from the files alone: no weights are loaded."""
    folder = path if path.is_dir() else Path(_single_file_config(path, family, config))
    stored = DDIMScheduler.load_config(str(folder), subfolder="scheduler")
    original = getattr(diffusers, stored["_class_name"]).from_config(stored)
    return dict(SCHEDULERS[scheduler].from_config(original.config).config)


def weight_variant(folder: Path) -> str | None:
    """The weight variant a diffusers folder's ``unet/`` holds only (``"fp16"`` for
    ``diffusion_pytorch_model.fp16.safetensors``), or None when it holds the plain weights."""
    names = [p.name for p in (folder / "unet").iterdir() if p.suffix in WEIGHT_SUFFIXES]
    if not names or any(name.count(".") == 1 for name in names):
        return None
    variants = sorted({name.split(".")[-2] for name in names})
    return variants[0] if "fp16" not in variants else "fp16"


def load_model(path: str | Path, *, config: str | Path | None = None, lora: str | Path | None = None,
               scheduler: str = "ddim", allow_pickle: bool = False,
               device: torch.device | None = None, dtype: torch.dtype | None = None,
               precision: str | None = None, options: RunOptions = RunOptions()) -> LoadedModel:
    """Load a local SD1.5-family or SDXL model, optionally with a LoRA, ready to generate.

    ``config`` is only used for single-file checkpoints (see the module docstring).
    ``device`` defaults to CUDA when present, else the CPU; the weights' dtype is
    ``precision`` by name (:func:`resolve_precision`) or ``dtype``; ``options`` as
    :class:`RunOptions` says. The loading bars of diffusers and transformers are turned
    off: vfxkey's commands show their own progress.
    """
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    path = Path(path)
    family, single = model_family(path, allow_pickle), path.is_file()
    if scheduler not in SCHEDULERS:
        raise SettingError(f"{scheduler!r}: use one of {', '.join(SCHEDULERS)}", setting="scheduler")
    if device is None:
        device = default_device()[0]
    if dtype is None:
        dtype = PRECISIONS[resolve_precision(precision, device)]
    if options.offload and device.type != "cuda":
        raise SettingError(f"offload moves each part of the model to the GPU while it runs; the device is "
                           f"{device.type}, where there is nothing to offload", setting="offload")
    if options.deterministic:
        _set_deterministic()

    pipeline_class = PIPELINES[family]
    extra = ({"safety_checker": None, "requires_safety_checker": False} if family == "sd15"
             else {"add_watermarker": False})
    try:
        if single:
            pipe = pipeline_class.from_single_file(
                str(path), config=_single_file_config(path, family, config), local_files_only=True,
                dtype=dtype, **extra)
        else:
            variant = weight_variant(path)
            pipe = pipeline_class.from_pretrained(str(path), local_files_only=True, dtype=dtype, variant=variant,
                                                  **extra)
    except (OSError, ValueError, KeyError, RuntimeError, SingleFileComponentError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        found = ""
        if not single:
            weights = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.suffix in WEIGHT_SUFFIXES)
            found = f" (its weight files: {', '.join(weights[:6]) or 'none'}{', ...' if len(weights) > 6 else ''})"
        raise VfxkeyError(f"model {path} could not be loaded{found}: {first_line}; {HOW_TO_POINT}") from None

    pipe.scheduler = SCHEDULERS[scheduler].from_config(pipe.scheduler.config)
    if lora is not None:
        lora = Path(lora)
        if not lora.is_file() or lora.suffix != ".safetensors":
            raise SettingError(f"{lora}: expected an existing .safetensors LoRA file", setting="lora")
        try:
            pipe.load_lora_weights(str(lora.parent), weight_name=lora.name, local_files_only=True,
                                   adapter_name="lora")
            pipe.set_adapters("lora", options.lora_scale)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"{lora} does not fit model {path}: {str(exc).splitlines()[0]}", setting="lora") from None
    pipe = apply_run_options(pipe, options, device)
    return LoadedModel(pipe=pipe, family=family, path=path, hash=model_hash(path), lora=lora, options=options)


def apply_run_options(pipe: DiffusionPipeline, options: RunOptions, device: torch.device) -> DiffusionPipeline:
    """``pipe``'s memory savers switched on as ``options`` asks, placed on ``device`` (moved there,
    or offloaded to it), its progress bar off. :func:`load_model` ends with it; the memory
    benchmark (``bench/generate_memory.py``) runs random full-size models through it."""
    if options.vae_tiling:
        pipe.vae.enable_tiling()
        tile = min(pipe.vae.tile_sample_min_size, VAE_TILE_PX)
        pipe.vae.tile_sample_min_size, pipe.vae.tile_latent_min_size = tile, tile // pipe.vae_scale_factor
    if options.attention_slicing:
        pipe.enable_attention_slicing()
    if options.offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _set_deterministic() -> None:
    """torch's deterministic algorithms for this process (see :class:`RunOptions`)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS reads it when it starts
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
