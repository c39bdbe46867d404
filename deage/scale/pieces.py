"""Lossless intermediate files for the pieces of a distributed render, and reading them back.

A piece holds the rendered RGB uint8 frames of one ``FrameRange`` (FFmpeg's Ut Video, planar
RGB, in a NUT container: bit-exact, about half the raw size, and quick to read back, which
matters because the join reads every piece on one machine: ~115 fps to write and ~165 fps to read
at 720p, ~30 and ~80 fps at 1080p, on one loaded core of the 2-core development machine; FFV1
reads at a fifth of that) and, when a matte was asked for, a second file with the 16-bit matte
(``ffvhuff`` ``gray16le``; Ut Video has no 16-bit format). Reading a piece gives back exactly the arrays that were written, so
frames joined from pieces are bit-identical to the frames a single-process render encodes.

Files are written under a temporary name and renamed when complete
(``deage.safe_write.atomic_output``): a piece file that exists is a whole piece.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deage.errors import MediaError, OutputError
from deage.safe_write import atomic_output

PIECE_SUFFIX = ".nut"
_RGB = "rgb24"  # what callers pass and get back
_GREY16 = "gray16le"
_STORED = {_RGB: ("utvideo", "gbrp"), _GREY16: ("ffvhuff", _GREY16)}  # codec, pixel format in the file


class PieceWriter:
    """Write one piece's frames (and optionally its matte) losslessly; a context manager.

    Args:
        path: the frames file (``.nut``).
        width, height: frame size.
        matte_path: the matte file, or None for no matte.

    ``write(frame, matte)``: frame RGB uint8 (H, W, 3); matte uint16 (H, W) or None.
    Leaving the ``with`` block on an exception deletes the temporary files.
    """

    def __init__(self, path: str | Path, width: int, height: int, matte_path: str | Path | None = None) -> None:
        self.path = Path(path)
        self.matte_path = Path(matte_path) if matte_path is not None else None
        self.width, self.height = int(width), int(height)
        self.count = 0
        self._stack = contextlib.ExitStack()
        self._outputs: list[tuple[av.container.OutputContainer, av.video.stream.VideoStream]] = []

    def __enter__(self) -> "PieceWriter":
        try:
            self._outputs.append(self._open(self.path, _RGB))
            if self.matte_path is not None:
                self._outputs.append(self._open(self.matte_path, _GREY16))
        except BaseException as exc:
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def _open(self, path: Path, pix_fmt: str):
        tmp = self._stack.enter_context(atomic_output(path))
        try:
            container = av.open(str(tmp), "w", format="nut")
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write a render piece ({getattr(exc, 'strerror', exc)})", path) from None
        self._stack.callback(container.close)
        codec, stored = _STORED[pix_fmt]
        stream = container.add_stream(codec, rate=Fraction(1))
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, stored
        stream.time_base = Fraction(1)
        return container, stream

    def write(self, frame: np.ndarray, matte: np.ndarray | None = None) -> None:
        images = [(frame, _RGB)]
        if self.matte_path is not None:
            if matte is None:
                raise ValueError(f"{self.matte_path}: this piece has a matte; pass one with every frame")
            images.append((matte, _GREY16))
        for (container, stream), (image, fmt) in zip(self._outputs, images):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
            if stream.pix_fmt != fmt:
                vf = vf.reformat(format=stream.pix_fmt)  # rgb24 -> gbrp: a lossless reordering
            vf.pts = self.count
            try:
                for packet in stream.encode(vf):
                    container.mux(packet)
            except (av.error.FFmpegError, OSError) as exc:
                raise OutputError(f"writing a render piece failed ({getattr(exc, 'strerror', exc)})",
                                  container.name) from None
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                for container, stream in self._outputs:
                    for packet in stream.encode(None):
                        container.mux(packet)
            except BaseException as error:
                self._stack.__exit__(type(error), error, error.__traceback__)
                raise
        self._stack.__exit__(exc_type, exc, tb)  # closes the containers, then renames (or deletes)


def read_piece(path: str | Path, expected: int | None = None, *, matte: bool = False) -> Iterator[np.ndarray]:
    """Frames of a piece file in order: RGB uint8 (H, W, 3), or with ``matte`` uint16 (H, W).

    Raises:
        MediaError: the file is missing or damaged, or holds a different number of frames than
            ``expected``.
    """
    p = Path(path)
    fmt = _GREY16 if matte else _RGB
    count = 0
    try:
        with av.open(str(p)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                count += 1
                yield frame.to_ndarray(format=fmt)
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise MediaError(f"render piece is missing or damaged ({getattr(exc, 'strerror', None) or exc})", p) from None
    if expected is not None and count != expected:
        raise MediaError(f"render piece holds {count} frames, expected {expected}", p)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["PIECE_SUFFIX", "PieceWriter", "file_sha256", "read_piece"]
