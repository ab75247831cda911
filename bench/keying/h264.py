"""An H.264 4:2:0 round trip of an 8-bit image, as footage delivered as a web or phone video has had.

PyAV's libx264 encodes the image as one frame: RGB to Y'CbCr with the BT.709 matrix,
limited range, chroma halved both ways (yuv420p), crf 18, tagged BT.709; the frame is
decoded back to RGB with the same matrix. Odd sizes are padded by repeating the last
row/column (4:2:0 needs even ones) and cropped again. The code values stay what they
were (sRGB-encoded in the bench): only the video compression touches them.
"""

from __future__ import annotations

import io

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

CRF = 18


def round_trip(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> the same after libx264 yuv420p BT.709 crf 18 and back."""
    height, width = image.shape[:2]
    padded = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": str(CRF)})
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
    buffer.seek(0)
    with av.open(buffer) as container:
        decoded = next(container.decode(video=0))
        rgb = decoded.reformat(format="rgb24", src_colorspace=Colorspace.ITU709, dst_colorspace=Colorspace.ITU709,
                               src_color_range=ColorRange.MPEG).to_ndarray()
    return rgb[:height, :width]
