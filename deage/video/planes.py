"""A decoded or converted video frame as plain numpy planes, to send to another process.

``av.VideoFrame`` cannot be pickled; ``FramePlanes`` can (a few numpy arrays and the tags the
RGB conversion reads), and ``to_frame`` rebuilds a frame with the same bytes, so converting the
rebuilt frame gives exactly the pixels the original would (``deage.scale.processes``).
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np


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
        planes = [np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size).copy()
                  for plane in frame.planes]
        return cls(frame.format.name, frame.width, frame.height, planes, int(frame.colorspace),
                   int(frame.color_range), int(frame.color_primaries), int(frame.color_trc))

    def to_frame(self) -> av.VideoFrame:
        """A new ``av.VideoFrame`` holding these bytes and tags."""
        frame = av.VideoFrame(self.width, self.height, self.format)
        for plane, data in zip(frame.planes, self.planes):
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            used = min(plane.line_size, data.shape[1])  # both hold at least the row's real bytes
            np.copyto(rows[:, :used], data[:, :used])
        frame.colorspace, frame.color_range = self.colorspace, self.color_range
        frame.color_primaries, frame.color_trc = self.color_primaries, self.color_trc
        return frame

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.planes)


__all__ = ["FramePlanes"]
