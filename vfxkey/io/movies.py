"""The movie reader: movies through PyAV, decoded forward.

Steps 1-5 of :mod:`vfxkey.io.read` for movies: frame N (counting from 0) is shot frame
``first + N``; Y'CbCr is decoded with the tagged matrix (BT.709 unless tagged BT.601) and
range into ``Camera Rec.709`` R'G'B' (or the given input colour space); movie alpha is
straight.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from vfxkey.errors import DataError, where
from vfxkey.io.colour import VIDEO_SPACE
from vfxkey.io.frame import Frame
from vfxkey.io.sequence import FrameRange
from vfxkey.io.source import Source, SourceInfo, check_missing
from vfxkey.io.window import Window


def _rate(rate) -> Fraction | None:
    """An exact rational from PyAV: a ``Fraction`` in PyAV 18, an ``AVRational`` (``num``/``den``,
    unset = 0/1) in PyAV 19. None when unset."""
    if rate is None:
        return None
    num = getattr(rate, "numerator", None)
    num, den = (rate.num, rate.den) if num is None else (num, rate.denominator)
    return Fraction(int(num), int(den)) if num and den else None


def _movie_timecode(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                    first: int) -> tuple[int, str] | None:
    """A movie's timecode (its tmcd track, as FFmpeg's demuxer tags the video stream, or
    the file's tag) at shot frame ``first``, its first frame."""
    tag = stream.metadata.get("timecode") or container.metadata.get("timecode")
    return (first, tag) if tag else None


class MovieSource(Source):
    """Movies through PyAV, decoded forward; seeking back only when a caller asks to."""

    def __init__(self, path: str, frames: FrameRange | None, first: int, *,
                 input_colorspace: str | None, **options):
        super().__init__(**options)
        self.path = path
        try:
            self._container = av.open(path)
        except (av.FFmpegError, OSError) as exc:
            raise DataError(f"{path}: cannot read movie: {exc}") from None
        if not self._container.streams.video:
            self._container.close()
            raise DataError(f"{path}: movie has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._stream = stream
        self.fps = _rate(stream.average_rate) or _rate(stream.guessed_rate) or _rate(stream.base_rate)
        if self.fps is None:
            raise DataError(f"{path}: movie has no frame rate")
        self.first = first
        self._time_base = _rate(stream.time_base)
        self._start_pts = stream.start_time or 0
        count = stream.frames or self._count_packets()
        if count == 0:
            raise DataError(f"{path}: movie has no frames")
        self._available = list(range(first, first + count))
        asked = list(frames) if frames is not None else self._available
        missing = check_missing(path, asked, self._available, self.missing_policy)
        context = stream.codec_context
        pix_fmt = context.format
        window = Window(0, 0, context.width, context.height).check_size(path, "picture")
        has_alpha = bool(pix_fmt) and any(c.is_alpha for c in pix_fmt.components)
        self.info = SourceInfo(
            path=path, kind="movie", frames=asked, missing=missing,
            width=context.width, height=context.height,
            channels=4 if has_alpha else 3,
            channel_names=f"R, G, B{', A' if has_alpha else ''} from {pix_fmt.name if pix_fmt else 'an unknown pixel format'}",
            bit_depth=f"uint{pix_fmt.components[0].bits}" if pix_fmt else "unknown",
            colorspace=input_colorspace or VIDEO_SPACE, fps=self.fps,
            display_window=window, data_window=window, timecode=_movie_timecode(self._container, stream, first),
        )
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._next = first

    def _file(self, frame: int) -> str:
        return self.path

    def _count_packets(self) -> int:
        """Frame count for containers that do not store it: count the video packets."""
        count = sum(1 for packet in self._container.demux(self._stream) if packet.size)
        self._container.seek(0)
        return count

    def _number(self, av_frame: av.VideoFrame) -> int:
        """Shot frame number of a decoded frame, from its timestamp (decode order without one)."""
        if av_frame.pts is None:
            return self._next
        seconds = (av_frame.pts - self._start_pts) * self._time_base
        return self.first + round(seconds * self.fps)

    def _seek(self, frame: int) -> None:
        """Restart decoding at the keyframe at or before ``frame``."""
        target = self._start_pts + int((frame - self.first) / self.fps / self._time_base)
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._decoder = self._container.decode(self._stream)

    def _decode(self, frame: int) -> Frame:
        if self._decoder is None or frame < self._next:
            self._seek(frame)
        try:
            for av_frame in self._decoder:
                number = self._number(av_frame)
                self._next = number + 1
                if number == frame:
                    return self._to_frame(frame, av_frame)
                if number > frame:
                    break
        except av.FFmpegError as exc:
            raise DataError(f"{where(self.path, frame)}: cannot decode: {exc}") from None
        raise DataError(f"{where(self.path, frame)}: frame not found in the movie")

    def _to_frame(self, frame: int, av_frame: av.VideoFrame) -> Frame:
        # Y'CbCr -> R'G'B' with the tagged matrix (BT.709 unless tagged BT.601) and range.
        matrix = Colorspace.ITU601 if av_frame.colorspace in (5, 6) else Colorspace.ITU709
        # Full range when tagged AVCOL_RANGE_JPEG or in a yuvj* (JPEG-style) pixel format.
        full_range = av_frame.color_range == 2 or av_frame.format.name.startswith("yuvj")
        # 4:2:0 and 4:2:2 chroma is brought to full size with a bicubic filter, at the
        # siting the frame is tagged with (swscale's default, bilinear, softens colour
        # detail: on bench/keying's H.264 photos bicubic keys with 6-8 % lower SAD).
        # PyAV 18 returns a gbrpf32le frame's G, B, R planes as an array in R, G, B order.
        rgb = av_frame.reformat(
            format="gbrpf32le",
            src_colorspace=matrix,
            src_color_range=ColorRange.JPEG if full_range else ColorRange.MPEG,
            interpolation=Interpolation.BICUBIC,
        ).to_ndarray()
        alpha = _alpha_plane(av_frame) if self.info.channels == 4 else None
        return self._finish(frame, self.path, rgb, alpha, False)


def _alpha_plane(av_frame: av.VideoFrame) -> np.ndarray:
    """Straight alpha in 0..1 read from the frame's own alpha plane.

    Read directly rather than through swscale, which scales 12-bit alpha to 65520/65535.
    """
    component = next(c for c in av_frame.format.components if c.is_alpha)
    plane = av_frame.planes[component.plane]
    dtype = np.uint16 if component.bits > 8 else np.uint8
    samples = np.frombuffer(plane, dtype).reshape(plane.height, -1)[:, : plane.width]
    return samples.astype(np.float32) / float(2**component.bits - 1)
