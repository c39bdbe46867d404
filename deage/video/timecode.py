"""SMPTE timecode: read a clip's, shift it by frames, write it on a render.

A plate's timecode is how editorial conforms a returned shot, so a render carries its source's:
the first rendered frame's timecode is the source's first frame's plus the range start. Timecodes
are strings ``HH:MM:SS:FF``; drop-frame ones (29.97 / 59.94 fps) separate the frames with ``;``
and skip frame numbers 0-1 (0-3 at 59.94) at each minute except every tenth, as SMPTE 12M does.

FFmpeg reads a QuickTime / MP4 ``tmcd`` track, an MXF or Matroska ``timecode`` tag into metadata
(``timecode_of``); it writes a ``tmcd`` track for ``.mov`` / ``.mp4`` and a tag for ``.mkv`` when the
video stream's metadata has ``timecode`` (``deage.video.ClipWriter``).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def _frames_per_second(fps: Fraction) -> int:
    """The timecode's frame count per second: the rate rounded (30 for 29.97, 24 for 23.976)."""
    return max(1, int(round(float(fps))))


def _is_drop_rate(fps: Fraction) -> bool:
    nominal = _frames_per_second(fps)
    return nominal % 30 == 0 and Fraction(fps) == Fraction(nominal * 1000, 1001)


def parse(text: str, fps: Fraction) -> int | None:
    """Frame count of timecode ``text`` at ``fps`` (the frame number since 00:00:00:00), or None
    when ``text`` is no timecode for that rate."""
    m = _TIMECODE.match(str(text).strip())
    if m is None:
        return None
    hours, minutes, seconds, sep, frames = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    base = _frames_per_second(fps)
    if minutes > 59 or seconds > 59 or frames >= base:
        return None
    count = ((hours * 60 + minutes) * 60 + seconds) * base + frames
    if sep in ";," and _is_drop_rate(fps):
        drop = 2 * base // 30
        total_minutes = hours * 60 + minutes
        count -= drop * (total_minutes - total_minutes // 10)
    return count


def format_timecode(count: int, fps: Fraction, drop: bool = False) -> str:
    """Timecode string of frame number ``count`` (wrapping at 24 hours); ``drop`` for drop-frame."""
    base = _frames_per_second(fps)
    drop = drop and _is_drop_rate(fps)
    if drop:
        skip = 2 * base // 30
        per_ten = 10 * 60 * base - 9 * skip  # frames in ten minutes
        per_minute = 60 * base - skip
        tens, rest = divmod(count, per_ten)
        count += 9 * skip * tens + (skip * ((rest - skip) // per_minute) if rest > skip else 0)
    count %= 24 * 3600 * base
    frames = count % base
    seconds = count // base
    sep = ";" if drop else ":"
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}{frames:02d}"


def shift(text: str | None, frames: int, fps: Fraction) -> str | None:
    """Timecode ``text`` moved ``frames`` frames later (None stays None, as does an unreadable one)."""
    if text is None:
        return None
    count = parse(text, fps)
    if count is None:
        return None
    return format_timecode(count + int(frames), fps, drop=";" in text or "," in text)


def timecode_of(container: Any, stream: Any) -> str | None:
    """The timecode FFmpeg found for a video ``stream`` of ``container`` (PyAV objects): the
    stream's ``timecode`` tag, else the container's, else a data (``tmcd``) stream's; None if none."""
    places = [stream.metadata, container.metadata] + [s.metadata for s in container.streams if s.type == "data"]
    for metadata in places:
        for key, value in dict(metadata).items():
            if key.lower() == "timecode" and _TIMECODE.match(str(value).strip()):
                return str(value).strip()
    return None


__all__ = ["format_timecode", "parse", "shift", "timecode_of"]
