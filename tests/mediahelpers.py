"""Clips encoded directly with PyAV, the way a camera or another tool writes them (not through deage's writer)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import cv2
import numpy as np

from deage.video.info import ColourTags


def smeared(image: np.ndarray, length: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` (RGB uint8) as a panning camera records it: a horizontal motion blur of
    ``length`` pixels, then sensor noise (Gaussian, ``noise`` levels, from ``rng``); RGB uint8."""
    out = cv2.filter2D(image, -1, np.full((1, length), 1.0 / length, np.float32)).astype(np.float64)
    return np.clip(out + rng.normal(0.0, noise, out.shape), 0, 255).astype(np.uint8)


def encode_clip(path: Path, frames: Iterable[av.VideoFrame], codec: str, *, rate: int = 24,
                options: dict[str, str] | None = None, tags: ColourTags | None = None,
                metadata: dict[str, str] | None = None) -> Path:
    """Encode ``frames`` (already in the stream's pixel format and size, taken from the first)
    with ``codec`` into ``path``, numbered 0, 1, ...; ``tags`` go on the stream (encoders write
    them into the bitstream), ``metadata`` on the video stream (``{"timecode": ...}``: a tmcd track)."""
    frames = list(frames)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, frames[0].format.name
        stream.options = dict(options or {})
        stream.metadata.update(metadata or {})
        if tags is not None:
            cc = stream.codec_context
            cc.colorspace, cc.color_primaries, cc.color_trc = tags.matrix, tags.primaries, tags.transfer
            cc.color_range = 2 if tags.full_range else 1
        for i, frame in enumerate(frames):
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
