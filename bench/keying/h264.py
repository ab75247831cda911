"""An H.264 4:2:0 round trip of an 8-bit image, as footage delivered as a web or phone video has had.

PyAV's libx264 encodes the image as one frame (``encode``): RGB to Y'CbCr with the BT.709
matrix, limited range, chroma halved both ways (yuv420p), crf 18, tagged BT.709. swscale
places each chroma sample at the centre of its 2x2 pixels, so the stream says so
(x264 ``chromaloc=1``): libx264's default tag is H.264's "left", which would make a
decoder that honours the tag, like vfxkey's, shift the colour half a pixel. Odd sizes
are padded by repeating the last row/column (4:2:0 needs even ones) and cropped again.
The movie is decoded two ways:

- ``decode_rgb24``: back to 8-bit RGB with the same matrix (swscale's rgb24 path), the
  one input every method is given. The code values stay what they were (sRGB-encoded in
  the bench): only the video compression touches them.
- ``decode_as_vfxkey``: as ``vfxkey key`` reads a movie (``vfxkey.io.read``: float, bicubic
  chroma), scene-linear in the working space. The movie is tagged BT.709 for the player,
  but its code values are the bench's sRGB-encoded ones, so it is read as sRGB.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from vfxkey.io.colour import DISPLAY_SPACE
from vfxkey.io.read import open_source

CRF = 18


def encode(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB -> an .mp4 holding it as one libx264 yuv420p BT.709 crf 18 frame."""
    padded = np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": str(CRF), "x264-params": "chromaloc=1"})
        stream.width, stream.height, stream.pix_fmt = padded.shape[1], padded.shape[0], "yuv420p"
        context = stream.codec_context
        context.color_primaries, context.color_trc, context.colorspace, context.color_range = 1, 1, 1, 1  # BT.709, limited
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24").reformat(
            format="yuv420p", src_colorspace=Colorspace.ITU709, dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG)
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def decode_rgb24(movie: bytes, height: int, width: int) -> np.ndarray:
    """The movie's frame as (height, width, 3) uint8 RGB, BT.709 matrix, limited range."""
    with av.open(io.BytesIO(movie)) as container:
        decoded = next(container.decode(video=0))
        rgb = decoded.reformat(format="rgb24", src_colorspace=Colorspace.ITU709, dst_colorspace=Colorspace.ITU709,
                               src_color_range=ColorRange.MPEG).to_ndarray()
    return rgb[:height, :width]


def decode_as_vfxkey(movie: bytes, height: int, width: int) -> np.ndarray:
    """The movie's frame as vfxkey's reader gives it: (height, width, 3) float32 scene-linear."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.mp4"
        path.write_bytes(movie)
        rgb = open_source(str(path), input_colorspace=DISPLAY_SPACE).read(1001).rgb
    return rgb[:height, :width]

