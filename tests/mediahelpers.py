"""Clips encoded directly with PyAV, the way a camera or another tool writes them (not through deage's writer)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av

from deage.video.info import ColourTags


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
