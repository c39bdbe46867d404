"""Encoding an edited frame over its decoded source: the pixels an edit left alone pass through.

A render decodes each frame to RGB, edits the faces and encodes the result. Converting the whole
edited frame back to the codec's YUV would re-quantise every pixel (a YUV -> RGB -> YUV round trip
moves code values by a level or two) and costs a full-frame conversion. When the output stores the
source's own pixel format with the source's matrix and range (an H.264 clip rendered to ``.mp4``,
a ProRes plate rendered to ``.mov``), ``encode_over`` instead copies the decoded frame's planes
and converts back only the box the edit changed:

- every pixel the edit left alone keeps the source's exact code values (the encoder's input equals
  the decoder's output there, in luma and chroma);
- the changed pixels get exactly the values a whole-frame conversion would give them: the box is
  converted with a margin (``MARGIN``) so swscale's chroma filter sees the same neighbours, and is
  aligned to the chroma grid;
- chroma samples are replaced where any of the luma pixels they cover changed.

``FrameChange`` is that box, small enough to send between processes (``deage.scale.processes``).
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from deage.video.pixels import colour_tags, plane_rows
from deage.video.writer import EncoderConversion

MARGIN = 8
"""Unchanged pixels converted around a change and discarded: swscale's chroma filters (bicubic
subsampling) reach this far at most, so the changed pixels convert as in a whole frame (tested)."""

#: Planar YUV formats whose planes ``encode_over`` copies: 8-bit, and little-endian 10/12/16-bit.
_PLANAR_YUV = {f"yuv{sub}p{depth}" for sub in ("420", "422", "444") for depth in ("", "10le", "12le", "16le")}
_PLANAR_YUV |= {"yuvj420p", "yuvj422p", "yuvj444p"}

Box = tuple[int, int, int, int]


@dataclass
class FrameChange:
    """What an edit changed in one frame.

    Attributes:
        box: ``(x0, y0, x1, y1)`` frame pixels, exclusive ends, on even coordinates (or the frame
            edge): every changed pixel plus ``MARGIN`` unchanged ones around them.
        before, after: the frame's RGB (H, W, 3) pixels in ``box`` before and after the edit
            (uint8, or float32 for full-precision plates; the same dtype as the frames compared).
    """

    box: Box
    before: np.ndarray
    after: np.ndarray

    @property
    def changed(self) -> np.ndarray:
        """bool (H, W) over ``box``: the pixels the edit changed."""
        differs = np.not_equal(self.before, self.after)
        return differs[..., 0] | differs[..., 1] | differs[..., 2]


def find_change(before: np.ndarray, after: np.ndarray, margin: int = MARGIN) -> FrameChange | None:
    """The ``FrameChange`` from ``before`` to ``after`` (RGB (H, W, 3), same shape and dtype), or
    None when they are equal."""
    if before.shape != after.shape or before.dtype != after.dtype:
        raise ValueError(f"frames differ: {before.shape} {before.dtype} and {after.shape} {after.dtype}")
    height, width = before.shape[:2]
    row_bytes = before[0].nbytes
    word = np.uint64 if row_bytes % 8 == 0 else np.uint8  # compare 8 bytes at a time where rows allow
    a = np.ascontiguousarray(before).view(np.uint8).reshape(height, row_bytes).view(word)
    b = np.ascontiguousarray(after).view(np.uint8).reshape(height, row_bytes).view(word)
    differs = np.not_equal(a, b)
    rows = np.flatnonzero(differs.any(axis=1))
    if rows.size == 0:
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    words = np.flatnonzero(differs[y0:y1].any(axis=0))
    size, pixel = np.dtype(word).itemsize, row_bytes // width  # bytes per word, per pixel
    x0, x1 = int(words[0]) * size // pixel, (int(words[-1]) * size + size - 1) // pixel + 1
    x0, y0 = max(0, (x0 - margin) & ~1), max(0, (y0 - margin) & ~1)
    x1, y1 = min(width, (x1 + margin + 1) & ~1), min(height, (y1 + margin + 1) & ~1)
    return FrameChange((x0, y0, x1, y1), before[y0:y1, x0:x1].copy(), after[y0:y1, x0:x1].copy())


def can_encode_over(decoded: av.VideoFrame, conversion: EncoderConversion | None) -> bool:
    """Whether ``decoded`` can be encoded over (``encode_over``) for an encoder converting with
    ``conversion``: the same planar YUV layout (``yuvj420p`` counts as full-range ``yuv420p``),
    matrix and range. (The caller also checks that the frame was edited as decoded: a rotated or
    mirrored source is turned before editing.)"""
    if conversion is None or not conversion.yuv:
        return False
    name = decoded.format.name
    if name not in _PLANAR_YUV or _same_layout(name) != _same_layout(conversion.pix_fmt):
        return False
    tags = colour_tags(decoded)
    return tags.matrix == conversion.colour.matrix and tags.full_range == conversion.colour.full_range


def _same_layout(pix_fmt: str) -> str:
    """``yuvj420p`` and ``yuv420p`` (with a full-range tag) hold the same bytes: one name for both."""
    return pix_fmt.replace("yuvj", "yuv")


def encode_over(decoded: av.VideoFrame, change: FrameChange | None, conversion: EncoderConversion) -> av.VideoFrame:
    """A new frame holding ``decoded``'s planes with ``change`` converted in.

    Args:
        decoded: the source frame as decoded (not modified: decoders keep using its buffers).
        change: what the edit changed, or None.
        conversion: the encoder's conversion (RGB -> its pixel format, ``decoded``'s; see
            ``can_encode_over``).

    Returns:
        The frame, colour-tagged as ``conversion`` tags its frames.
    """
    width, height = decoded.width, decoded.height
    fmt = decoded.format
    out = av.VideoFrame(width, height, conversion.pix_fmt)  # yuvj420p bytes as yuv420p: the encoder's name
    dtype = np.uint8 if all(c.bits <= 8 for c in fmt.components) else np.dtype("<u2")
    sizes = [(height, width)] + [(fmt.chroma_height(height), fmt.chroma_width(width))] * 2
    for source, target, (h, w) in zip(decoded.planes, out.planes, sizes):
        np.copyto(plane_rows(target, dtype)[:h, :w], plane_rows(source, dtype)[:h, :w])
    conversion.tag(out)
    if change is None:
        return out
    x0, y0, x1, y1 = change.box
    region = conversion(np.ascontiguousarray(change.after))
    changed = change.changed
    sy, sx = (2 if sizes[1][0] < height else 1), (2 if sizes[1][1] < width else 1)  # chroma subsampling
    ch = (changed.shape[0] + sy - 1) // sy, (changed.shape[1] + sx - 1) // sx
    padded = np.zeros((ch[0] * sy, ch[1] * sx), bool)
    padded[: changed.shape[0], : changed.shape[1]] = changed
    chroma_changed = padded.reshape(ch[0], sy, ch[1], sx).any(axis=(1, 3))
    for i, (target, source) in enumerate(zip(out.planes, region.planes)):
        mask, (bx, by) = (changed, (x0, y0)) if i == 0 else (chroma_changed, (x0 // sx, y0 // sy))
        h, w = mask.shape
        np.copyto(plane_rows(target, dtype)[by:by + h, bx:bx + w], plane_rows(source, dtype)[:h, :w], where=mask)
    return out


__all__ = ["MARGIN", "FrameChange", "can_encode_over", "encode_over", "find_change"]
