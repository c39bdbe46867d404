"""SMPTE timecode: read a clip's, shift it by frames, write it on a render.

A plate's timecode is how editorial conforms a returned shot, so a render carries its source's:
the first rendered frame's timecode is the source's first frame's plus the range start. Timecodes
are strings ``HH:MM:SS:FF``; drop-frame ones (29.97 / 59.94 fps) separate the frames with ``;``
and skip frame numbers 0-1 (0-3 at 59.94) at each minute except every tenth, as SMPTE 12M does.

FFmpeg reads a QuickTime / MP4 ``tmcd`` track, an MXF or Matroska ``timecode`` tag into metadata
(``timecode_of``); it writes a ``tmcd`` track for ``.mov`` / ``.mp4`` and a tag for ``.mkv`` when the
video stream's metadata has ``timecode`` (``deage.video.ClipWriter``). Plates as image files carry
it in their headers, which FFmpeg neither reports nor writes: a DPX file's television header, an
EXR file's ``timeCode`` attribute (``image_timecode``, read from a sequence's first file;
``stamp_image``, written into every file of a DPX / EXR sequence output, counting up).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
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


_DPX_ORDER = {b"SDPX": ">", b"XPDS": "<"}  # magic -> struct byte order
_EXR_MAGIC = b"\x76\x2f\x31\x01"


def _dpx_packed(head: bytes) -> int | None:
    """The DPX television header's time code word, when the header holds one."""
    order = _DPX_ORDER.get(head[:4])
    if order is None or len(head) < 1924:
        return None
    image_offset, = struct.unpack(order + "I", head[4:8])
    value, = struct.unpack(order + "I", head[1920:1924])
    return value if image_offset >= 1924 and value not in (0, 0xFFFFFFFF) else None


def _exr_packed(head: bytes) -> int | None:
    """The ``timeAndFlags`` word of the first header's ``timeCode`` attribute of an EXR file."""
    for name, kind, value, _ in _exr_attributes(head):
        if name == b"timeCode" and kind == b"timecode" and len(value) >= 4:
            return struct.unpack("<I", value[:4])[0]
    return None


def _exr_attributes(data: bytes) -> Iterator[tuple[bytes, bytes, bytes, int]]:
    """``(name, type, value, end)`` of each attribute of an EXR file's first header, in order,
    then ``(b"", b"", b"", where its closing zero is)`` when the header ends there; stops early,
    without that, at a cut or malformed header (or none: not an EXR file)."""
    if data[:4] != _EXR_MAGIC:
        return
    pos = 8
    while pos < len(data):
        name_end = data.find(b"\0", pos)
        if name_end < 0:
            return
        if name_end == pos:  # the empty name that ends the header
            yield b"", b"", b"", pos
            return
        type_end = data.find(b"\0", name_end + 1)
        if type_end < 0 or type_end + 5 > len(data):
            return
        size, = struct.unpack("<i", data[type_end + 1:type_end + 5])
        end = type_end + 5 + max(size, 0)
        yield data[pos:name_end], data[name_end + 1:type_end], data[type_end + 5:end], end
        pos = end


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


def pack_smpte(text: str) -> int | None:
    """Timecode ``text`` (``HH:MM:SS:FF``, ``;`` for drop frame) as an SMPTE 12M packed time word
    (the inverse of what ``image_timecode`` reads); None when ``text`` is no timecode."""
    m = _TIMECODE.match(str(text).strip())
    if m is None or len(m[5]) != 2:
        return None
    hours, minutes, seconds, frames = int(m[1]), int(m[2]), int(m[3]), int(m[5])
    if hours > 23 or minutes > 59 or seconds > 59:
        return None

    def bcd(value: int) -> int:
        return (value // 10) << 4 | value % 10

    drop = 1 << 6 if m[4] in ";," else 0
    return bcd(hours) << 24 | bcd(minutes) << 16 | bcd(seconds) << 8 | bcd(frames) | drop


def stamp_image(data: bytes, suffix: str, text: str | None, fps: Fraction) -> bytes:
    """An encoded image file's bytes with timecode ``text`` recorded in its header, as
    ``image_timecode`` reads it: a DPX file gets (or keeps) its film and television headers with
    the time code and frame rate set; an EXR file a ``timeCode`` attribute (its chunk offsets moved
    past it). Other formats, no timecode, or a header this does not know come back unchanged."""
    word = None if text is None else pack_smpte(text)
    if word is None:
        return data
    suffix = suffix.lower()
    if suffix == ".dpx":
        return _stamp_dpx(data, word, fps)
    if suffix == ".exr":
        return _stamp_exr(data, word)
    return data


_DPX_INDUSTRY = 1664  # where SMPTE 268M's film header starts; the television header is at 1920
_DPX_INDUSTRY_SIZE = 384


def _stamp_dpx(data: bytes, word: int, fps: Fraction) -> bytes:
    order = _DPX_ORDER.get(data[:4])
    if order is None or len(data) < _DPX_INDUSTRY:
        return data
    image_offset, = struct.unpack(order + "I", data[4:8])
    out = bytearray(data)
    if image_offset < _DPX_INDUSTRY + _DPX_INDUSTRY_SIZE:
        if image_offset != _DPX_INDUSTRY:
            return data  # a header laid out some other way: leave it be
        # No industry headers (FFmpeg writes none): insert them, every field "undefined" (all ones
        # for numbers, NUL for text, as SMPTE 268M says), and move the image data after them.
        film = bytearray(256)
        film[48:68] = b"\xff" * 20  # frame position, sequence length, held count, rate, shutter
        tv = bytearray(128)
        tv[8:11] = b"\xff" * 3  # interlace, field number, video signal
        tv[12:52] = b"\xff" * 40  # sample rates, frame rate, time offset, gamma, levels...
        out[_DPX_INDUSTRY:_DPX_INDUSTRY] = film + tv
        struct.pack_into(order + "I", out, 4, image_offset + _DPX_INDUSTRY_SIZE)
        struct.pack_into(order + "I", out, 16, len(out))
        struct.pack_into(order + "I", out, 28, _DPX_INDUSTRY_SIZE)
    struct.pack_into(order + "II", out, 1920, word, 0)  # time code, user bits
    struct.pack_into(order + "f", out, 1920 + 20, float(fps))
    return bytes(out)


_EXR_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}


def _stamp_exr(data: bytes, word: int) -> bytes:
    if len(data) < 8 or data[5] & 0x1E:  # tiled, long names, deep, multi-part
        return data
    window, compression, end = None, None, None
    for name, _, value, pos in _exr_attributes(data):
        if name == b"timeCode":
            return data  # recorded already
        if name == b"dataWindow" and len(value) == 16:
            window = struct.unpack("<4i", value)
        elif name == b"compression" and len(value) == 1:
            compression = value[0]
        elif name == b"":
            end = pos
    if end is None or window is None or compression not in _EXR_LINES_PER_CHUNK:
        return data
    lines = _EXR_LINES_PER_CHUNK[compression]
    chunks = -(-(window[3] - window[1] + 1) // lines)
    table = end + 1
    if len(data) < table + 8 * chunks:
        return data
    attribute = b"timeCode\0timecode\0" + struct.pack("<iII", 8, word, 0)
    offsets = struct.unpack_from(f"<{chunks}Q", data, table)
    moved = struct.pack(f"<{chunks}Q", *(offset + len(attribute) for offset in offsets))
    return data[:end] + attribute + data[end:table] + moved + data[table + 8 * chunks:]


__all__ = ["format_timecode", "image_timecode", "pack_smpte", "parse", "shift", "stamp_image", "timecode_of"]
