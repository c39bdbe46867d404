"""Split a clip's frame range into pieces for rendering on several workers.

Pieces are cut on a grid anchored at frame 0 of the clip (``chunk``, ``2 * chunk``...), not at the
start of the requested range, so two renders of overlapping ranges share the pieces they have in
common (a resumed render finds them).

Overlap: every piece may start ``overlap`` frames early (its *lead-in*). Those frames are decoded
and rendered but not written, which warms any per-frame state a stage carries from one frame to
the next. deage's render needs none: the analysis (where the temporal smoothing lives) is computed
once for the whole clip and shipped to every worker, so a piece renders frame i exactly as a
single-process render does, with or without lead-in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrameRange:
    """One piece of a render.

    Attributes:
        start, stop: 0-based clip indices written by this piece (stop exclusive).
        lead_in: frames before ``start`` rendered first and discarded (0 <= lead_in <= start).
    """

    start: int
    stop: int
    lead_in: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop:
            raise ValueError(f"a frame range needs 0 <= start < stop, got {self.start}:{self.stop}")
        if not 0 <= self.lead_in <= self.start:
            raise ValueError(f"lead_in must be in 0..start ({self.start}), got {self.lead_in}")

    @property
    def frames(self) -> int:
        """Frames written."""
        return self.stop - self.start

    @property
    def first_decoded(self) -> int:
        """First frame decoded (``start - lead_in``)."""
        return self.start - self.lead_in

    @property
    def name(self) -> str:
        """Stable file-name stem, e.g. ``"f00000240-00000480"``."""
        return f"f{self.start:08d}-{self.stop:08d}"


def split_frames(start: int, stop: int, chunk: int, overlap: int = 0) -> list[FrameRange]:
    """Cut ``start..stop-1`` into pieces of at most ``chunk`` frames on the clip's ``chunk`` grid.

    Args:
        start, stop: the frames to render (0-based, stop exclusive).
        chunk: piece length (>= 1); boundaries fall on multiples of ``chunk``.
        overlap: lead-in frames per piece (>= 0), clipped so no piece reads before frame 0.

    Returns:
        The pieces in order; they tile ``start..stop-1`` exactly, without gaps or double frames.

    Raises:
        ValueError: an empty range, ``chunk < 1`` or ``overlap < 0``.
    """
    if not 0 <= start < stop:
        raise ValueError(f"nothing to split: {start}:{stop}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    pieces: list[FrameRange] = []
    a = start
    while a < stop:
        b = min(stop, (a // chunk + 1) * chunk)
        pieces.append(FrameRange(a, b, min(overlap, a)))
        a = b
    return pieces


__all__ = ["FrameRange", "split_frames"]
