"""A video frame as plain numpy planes, to send to another process.

``av.VideoFrame`` cannot be pickled; ``FramePlanes`` can (a few numpy arrays and the colour tags),
and ``to_frame`` rebuilds a frame with the same bytes. Worker processes use it to send back frames
already converted for an encoder, which encodes the bytes as they are (``deage.scale.processes``:
byte-identical files). Not for decoded frames still to be converted to RGB: swscale also reads
fields PyAV cannot set (the chroma siting), so a rebuilt H.264 frame converts up to 7 levels apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from deage.video.pixels import plane_rows


@dataclass
class FramePlanes:
    """The bytes of an ``av.VideoFrame``.

    Attributes:
        format: the pixel format name (``yuv420p``, ``yuv422p10le``, ``rgb24``...).
        width, height: frame size in pixels.
        planes: per plane, uint8 (rows, line size): the plane's rows as FFmpeg stores them.
        colorspace, color_range, color_primaries, color_trc: the frame's colour tags (FFmpeg's
            AVColorSpace, AVColorRange, AVColorPrimaries, AVColorTransferCharacteristic values);
            swscale reads them all.
    """

    format: str
    width: int
    height: int
    planes: list[np.ndarray]
    colorspace: int = 2
    color_range: int = 0
    color_primaries: int = 2
    color_trc: int = 2

    @classmethod
    def of(cls, frame: av.VideoFrame) -> "FramePlanes":
        """Copy ``frame``'s planes (the copy is made by numpy, without holding the GIL)."""
        planes = [plane_rows(plane).copy() for plane in frame.planes]
        return cls(frame.format.name, frame.width, frame.height, planes, int(frame.colorspace),
                   int(frame.color_range), int(frame.color_primaries), int(frame.color_trc))

    def to_frame(self) -> av.VideoFrame:
        """A new ``av.VideoFrame`` holding these bytes and tags."""
        frame = av.VideoFrame(self.width, self.height, self.format)
        for plane, data in zip(frame.planes, self.planes):
            used = min(plane.line_size, data.shape[1])  # both hold at least the row's real bytes
            np.copyto(plane_rows(plane)[:, :used], data[:, :used])
        frame.colorspace, frame.color_range = self.colorspace, self.color_range
        frame.color_primaries, frame.color_trc = self.color_primaries, self.color_trc
        return frame


__all__ = ["FramePlanes"]
