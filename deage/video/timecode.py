"""SMPTE timecode: read a clip's, shift it by frames, write it on a render.

A plate's timecode is how editorial conforms a returned shot, so a render carries its source's:
the first rendered frame's timecode is the source's first frame's plus the range start. Timecodes
are strings ``HH:MM:SS:FF``; drop-frame ones (29.97 / 59.94 fps) separate the frames with ``;``
and skip frame numbers 0-1 (0-3 at 59.94) at each minute except every tenth, as SMPTE 12M does.

FFmpeg reads a QuickTime / MP4 ``tmcd`` track, an MXF or Matroska ``timecode`` tag into metadata
(``timecode_of``); it writes a ``tmcd`` track for ``.mov`` / ``.mp4`` and a tag for ``.mkv`` when the
video stream's metadata has ``timecode`` (``deage.video.ClipWriter``). Plates as image files carry
it in their headers, which FFmpeg does not report: a DPX file's television header, an EXR file's
``timeCode`` attribute (``image_timecode``, read from a sequence's first file).
"""

from __future__ import annotations

import re
import struct
from fractions import Fraction
from pathlib import Path
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


def image_timecode(path: str | Path) -> str | None:
    """The timecode an image file's header records: a DPX file's television header (SMPTE 268M,
    offset 1920) or an EXR file's ``timeCode`` attribute; None for other formats, when none is
    recorded (DPX: all ones or zero) and for unreadable or malformed headers."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".dpx", ".exr"):
        return None
    try:
        with open(path, "rb") as file:
            head = file.read(1 << 16)
    except OSError:
        return None
    packed = _dpx_packed(head) if suffix == ".dpx" else _exr_packed(head)
    return None if packed is None else _unpack_smpte(packed)


def _dpx_packed(head: bytes) -> int | None:
    """The DPX television header's time code word, when the header holds one."""
    order = {b"SDPX": ">", b"XPDS": "<"}.get(head[:4])
    if order is None or len(head) < 1924:
        return None
    image_offset, = struct.unpack(order + "I", head[4:8])
    value, = struct.unpack(order + "I", head[1920:1924])
    return value if image_offset >= 1924 and value not in (0, 0xFFFFFFFF) else None


def _exr_packed(head: bytes) -> int | None:
    """The ``timeAndFlags`` word of the first header's ``timeCode`` attribute of an EXR file."""
    if head[:4] != b"\x76\x2f\x31\x01":
        return None
    pos = 8
    while pos < len(head):
        name_end = head.find(b"\0", pos)
        if name_end <= pos:  # the empty name that ends the header, or a cut one
            return None
        type_end = head.find(b"\0", name_end + 1)
        if type_end < 0 or type_end + 5 > len(head):
            return None
        size, = struct.unpack("<i", head[type_end + 1:type_end + 5])
        value = head[type_end + 5:type_end + 5 + size]
        if head[pos:name_end] == b"timeCode" and head[name_end + 1:type_end] == b"timecode" and len(value) >= 4:
            return struct.unpack("<I", value[:4])[0]
        pos = type_end + 5 + max(size, 0)
    return None


def _unpack_smpte(word: int) -> str | None:
    """An SMPTE 12M packed time word (BCD hours, minutes, seconds, frames from the top byte down;
    bit 6 = drop frame) as ``HH:MM:SS:FF`` (``;`` when drop frame); None when its digits are no time."""
    def bcd(byte: int, tens_bits: int) -> int | None:
        units, tens = byte & 0xF, (byte >> 4) & ((1 << tens_bits) - 1)
        return None if units > 9 else tens * 10 + units

    frames, seconds = bcd(word & 0xFF, 2), bcd(word >> 8 & 0xFF, 3)
    minutes, hours = bcd(word >> 16 & 0xFF, 3), bcd(word >> 24 & 0xFF, 2)
    if None in (frames, seconds, minutes, hours) or seconds > 59 or minutes > 59 or hours > 23:
        return None
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{';' if word >> 6 & 1 else ':'}{frames:02d}"


__all__ = ["format_timecode", "image_timecode", "parse", "shift", "timecode_of"]
