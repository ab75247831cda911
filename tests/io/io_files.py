"""Helpers that write small real image files with OpenImageIO, independently of vfxkey."""

from pathlib import Path

import numpy as np
import OpenImageIO as oiio


def write_image(path, pixels: np.ndarray, fmt: str = "uint8", **attributes) -> str:
    """Write ``pixels`` (H, W, C) floats in 0..1 to ``path`` as-is (straight alpha kept straight)."""
    pixels = np.asarray(pixels, np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, channels = pixels.shape
    spec = oiio.ImageSpec(width, height, channels, fmt)
    spec["oiio:UnassociatedAlpha"] = 1
    for key, value in attributes.items():
        spec[key.replace("__", ":")] = value
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), oiio.geterror()
    assert out.write_image(pixels), out.geterror()
    out.close()
    return str(path)


def write_parts(path, parts: list[tuple[str, list[str], np.ndarray]]) -> str:
    """A multi-part EXR written by OIIO: (part name, channel names, (H, W, C) float pixels) each."""
    specs = []
    for name, channels, pixels in parts:
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], len(channels), "half")
        spec.channelnames, spec["name"] = channels, name
        specs.append(spec)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), specs), oiio.geterror()
    for index, (spec, (_, _, pixels)) in enumerate(zip(specs, parts)):
        assert index == 0 or out.open(str(path), spec, "AppendSubimage"), out.geterror()
        assert out.write_image(pixels.astype(np.float32)), out.geterror()
    out.close()
    return str(path)


def read_exr(path):
    """(pixels, spec) of an EXR as stored (data window only)."""
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    spec = image.spec()
    pixels = image.read_image(0, 0, 0, spec.nchannels, "float")
    image.close()
    return pixels, spec
