"""A photo's colour profile and camera data, carried from the source photo into the rendered one.

A phone's photo is usually Display P3 with an ICC profile saying so, and carries EXIF (camera,
lens, exposure, date, place). Written without them, the render's same RGB values are shown as
sRGB by colour-managed viewers (a P3 face turns dull and shifted against the original) and the
picture loses its date and camera. ``read_photo_tags`` takes both from the source (Pillow reads
only the header), ``embed_photo_tags`` writes them into an encoded JPEG, PNG or WebP file's
bytes, without re-encoding the picture.

EXIF goes in with its orientation set to 1 (a render's pixels are already upright), without the
embedded thumbnail (the unedited picture in small, which some viewers show), and with
``Software`` naming deage. A TIFF output gets the ICC profile (its colours then read as the
source's) but not the EXIF (an EXIF directory's offsets would have to be rebuilt); EXR and DPX
outputs get neither.

A JPEG photo rendered to JPEG is encoded as its camera encoded it (``PhotoTags.jpeg``,
``encode_like``: the source's quantisation tables and chroma subsampling, by libjpeg through
Pillow, the library that decoded it): the file keeps the source's size and quality, and outside
the edit the pixels come back as the source's (a quality-85 JPEG of a real portrait: 0.05 levels
on average, 96 % exact at 4:4:4; 0.4 levels, 81 % exact at 4:2:0, whose chroma is subsampled
again; FFmpeg's MJPEG encoder, with its own colour conversion and tables, moved them 1.4-1.5
levels, 18-20 % exact, in files nearly twice the size). It is also stored as the source was: a
phone's portrait JPEG, stored sideways with EXIF orientation 6, is written sideways with the same
tag (and its EXIF otherwise as above), so the blocks fall where the camera's fell; turned upright
and encoded with the same tables it lost twice as much outside the edit (0.65 levels against
0.31 for the same photo stored upright).
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_ORIENTATION = 0x0112
_SOFTWARE = 0x0131
_EXIF_IFD, _PIXEL_X, _PIXEL_Y = 0x8769, 0xA002, 0xA003
_JPEG_ICC_CHUNK = 65519 - 14  # an APP2 segment's payload after "ICC_PROFILE\0" + sequence bytes
_EMBEDS_IN = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")
_TIFF_ICC = 34675  # the ICC profile tag, stored as UNDEFINED (type 7) bytes


@dataclass(frozen=True)
class JpegEncoding:
    """How a JPEG photo was encoded: its quantisation tables (Pillow's ``qtables``: table number
    -> 64 values in natural order), chroma subsampling (Pillow's: 0 = 4:4:4, 1 = 4:2:2,
    2 = 4:2:0) and the orientation it was stored in (EXIF orientation 1-8: a phone stores a
    portrait photo sideways, tagged 6). ``exif``: the source's EXIF as stored (its orientation and
    pixel dimensions, ``Software`` naming deage), for a render stored the same way; None for an
    upright source."""

    qtables: dict[int, list[int]]
    subsampling: int
    orientation: int = 1
    exif: bytes | None = None


# Pillow's transposes that take upright pixels back to how a photo of each EXIF orientation is
# stored (the inverses of what viewers apply: 6 is shown turned 90 degrees clockwise, so it is
# stored turned 90 degrees counter-clockwise).
_STORED_FROM_UPRIGHT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                        6: "ROTATE_90", 7: "TRANSVERSE", 8: "ROTATE_270"}


@dataclass(frozen=True)
class PhotoTags:
    """A photo's ICC profile (the raw profile bytes) and EXIF (TIFF-structured bytes, without the
    ``Exif\\0\\0`` prefix), either None when the photo has none."""

    icc: bytes | None = None
    exif: bytes | None = None
    jpeg: JpegEncoding | None = None

    def __bool__(self) -> bool:
        """Whether there is anything to embed (a profile or EXIF; ``jpeg`` is how to encode)."""
        return bool(self.icc or self.exif)


def read_photo_tags(path: str | Path, software: str = "deage") -> PhotoTags:
    """The ICC profile, EXIF and (for an RGB JPEG) encoding of the photo at ``path`` (JPEG, PNG,
    WebP, TIFF, HEIF where Pillow reads it), EXIF made ready to go with a render (see the module
    docstring); an empty ``PhotoTags`` for a file Pillow cannot open (a DPX, an EXR) or one
    without any."""
    from PIL import Image, UnidentifiedImageError

    from deage.video.sequence import register_pillow_plugins

    register_pillow_plugins()
    try:
        with Image.open(path) as image:
            icc = image.info.get("icc_profile") or None
            exif = image.getexif()
            jpeg = _jpeg_encoding(image)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return PhotoTags()
    exif_bytes = _exif_bytes(exif, software, upright=True) if len(exif) else None
    orientation = int(exif.get(_ORIENTATION, 1)) if len(exif) else 1
    if jpeg is not None and orientation in _STORED_FROM_UPRIGHT:
        stored = _exif_bytes(exif, software, upright=False)
        if stored is not None:  # a render encoded as the source was is stored as it was, tag and all
            jpeg = dataclasses.replace(jpeg, orientation=orientation, exif=stored)
    return PhotoTags(icc=bytes(icc) if icc else None, exif=exif_bytes, jpeg=jpeg)


def _exif_bytes(exif, software: str, upright: bool) -> bytes | None:
    """A copy of Pillow's ``exif`` as TIFF-structured bytes (IFD0 and its Exif / GPS sub-IFDs, no
    thumbnail) with ``Software`` set; ``upright``: for upright pixels (orientation 1, the pixel
    dimensions swapped where the source was stored turned by 90 degrees). None when Pillow cannot
    write it."""
    from PIL import Image

    copy = Image.Exif()
    try:
        copy.load(exif.tobytes())
    except (ValueError, struct.error, TypeError, OSError):
        return None
    if upright:
        if int(copy.get(_ORIENTATION, 1)) >= 5:  # stored turned by 90 degrees: the render is upright
            sub = copy.get_ifd(_EXIF_IFD)
            if _PIXEL_X in sub and _PIXEL_Y in sub:
                sub[_PIXEL_X], sub[_PIXEL_Y] = sub[_PIXEL_Y], sub[_PIXEL_X]
        copy[_ORIENTATION] = 1
    copy[_SOFTWARE] = software
    try:
        data = copy.tobytes()
    except (ValueError, struct.error, TypeError):
        return None
    return data[6:] if data.startswith(b"Exif\x00\x00") else data


def _jpeg_encoding(image) -> JpegEncoding | None:
    """The encoding of an open Pillow image if it is an RGB JPEG whose layout Pillow can repeat
    (not greyscale or CMYK, two tables or more, 4:4:4 / 4:2:2 / 4:2:0), else None."""
    from PIL import JpegImagePlugin

    if image.format != "JPEG" or image.mode != "RGB":
        return None
    tables = {int(k): list(v) for k, v in (image.quantization or {}).items()}
    subsampling = JpegImagePlugin.get_sampling(image)
    if len(tables) < 2 or subsampling not in (0, 1, 2):
        return None
    return JpegEncoding(tables, int(subsampling))


def encode_like(image: np.ndarray, encoding: JpegEncoding) -> bytes:
    """RGB uint8 (H, W, 3) upright ``image`` encoded as a baseline JPEG with ``encoding``'s tables
    and subsampling (libjpeg through Pillow; optimised Huffman tables), stored in ``encoding``'s
    orientation (turned back as the source was stored: the same block grid, so outside the edit the
    source's pixels come back as from an upright source; the file's EXIF must then be
    ``encoding.exif``)."""
    import io

    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(image), "RGB")
    if encoding.orientation in _STORED_FROM_UPRIGHT:
        picture = picture.transpose(getattr(Image.Transpose, _STORED_FROM_UPRIGHT[encoding.orientation]))
    out = io.BytesIO()
    picture.save(out, "JPEG", qtables=encoding.qtables, subsampling=encoding.subsampling, optimize=True)
    return out.getvalue()


def embed_photo_tags(data: bytes, suffix: str, tags: PhotoTags) -> bytes:
    """An encoded image's bytes with ``tags`` put in: JPEG (APP1 Exif, APP2 ICC_PROFILE segments
    after SOI), PNG (iCCP and eXIf chunks after IHDR; the sRGB, gAMA and cHRM chunks dropped when
    a profile goes in, as the PNG specification asks), WebP (the extended format's ICCP and EXIF
    chunks). Other formats, empty ``tags`` or a file laid out some other way come back unchanged."""
    suffix = suffix.lower()
    if not tags or suffix not in _EMBEDS_IN:
        return data
    if suffix in (".jpg", ".jpeg"):
        return _embed_jpeg(data, tags)
    if suffix == ".png":
        return _embed_png(data, tags)
    if suffix in (".tif", ".tiff"):
        return _embed_tiff(data, tags)
    return _embed_webp(data, tags)


def _embed_tiff(data: bytes, tags: PhotoTags) -> bytes:
    """The ICC profile added to the first image directory: the profile and a copy of the directory
    with its tag are appended, and the header points at the copy (no other offset moves)."""
    if not tags.icc or data[:4] not in (b"II*\x00", b"MM\x00*"):
        return data
    order = "<" if data[:2] == b"II" else ">"
    (first,) = struct.unpack(order + "I", data[4:8])
    if first + 2 > len(data):
        return data
    (count,) = struct.unpack(order + "H", data[first:first + 2])
    end = first + 2 + 12 * count
    if end + 4 > len(data):
        return data
    entries = [data[first + 2 + 12 * i:first + 14 + 12 * i] for i in range(count)]
    entries = [e for e in entries if struct.unpack(order + "H", e[:2])[0] != _TIFF_ICC]
    (next_ifd,) = struct.unpack(order + "I", data[end:end + 4])
    out = bytearray(data)
    if len(out) % 2:
        out += b"\x00"
    icc_at = len(out)
    out += tags.icc
    if len(out) % 2:
        out += b"\x00"
    entries.append(struct.pack(order + "HHII", _TIFF_ICC, 7, len(tags.icc), icc_at))
    entries.sort(key=lambda e: struct.unpack(order + "H", e[:2])[0])  # directories are in tag order
    ifd_at = len(out)
    out += struct.pack(order + "H", len(entries)) + b"".join(entries) + struct.pack(order + "I", next_ifd)
    out[4:8] = struct.pack(order + "I", ifd_at)
    return bytes(out)


def _embed_jpeg(data: bytes, tags: PhotoTags) -> bytes:
    if data[:2] != b"\xff\xd8":
        return data
    segments = []
    if tags.exif:
        payload = b"Exif\x00\x00" + tags.exif
        if len(payload) + 2 <= 0xFFFF:
            segments.append(b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload)
    if tags.icc:
        parts = [tags.icc[i:i + _JPEG_ICC_CHUNK] for i in range(0, len(tags.icc), _JPEG_ICC_CHUNK)]
        if len(parts) <= 255:
            for number, part in enumerate(parts, 1):
                payload = b"ICC_PROFILE\x00" + bytes([number, len(parts)]) + part
                segments.append(b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload)
    # after SOI and a JFIF APP0 segment, where readers look for them
    at = 2
    if data[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:at] + b"".join(segments) + data[at:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _embed_png(data: bytes, tags: PhotoTags) -> bytes:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return data
    chunks, at = [], 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        end = at + 12 + length
        if end > len(data):
            return data
        chunks.append((kind, data[at:end]))
        at = end
    if not chunks or chunks[0][0] != b"IHDR":
        return data
    added = []
    if tags.icc:
        added.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(tags.icc)))
    if tags.exif:
        added.append(_png_chunk(b"eXIf", tags.exif))
    dropped = {b"sRGB", b"gAMA", b"cHRM", b"iCCP"} if tags.icc else set()
    if tags.exif:
        dropped.add(b"eXIf")
    kept = [raw for kind, raw in chunks[1:] if kind not in dropped]
    return data[:8] + chunks[0][1] + b"".join(added) + b"".join(kept) + data[at:]


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def _embed_webp(data: bytes, tags: PhotoTags) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return data
    chunks, at = [], 12
    while at + 8 <= len(data):
        kind, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        end = at + 8 + size + (size % 2)
        if end > len(data) + 1:
            return data
        chunks.append((kind, data[at + 8:at + 8 + size]))
        at = end
    image = [(k, b) for k, b in chunks if k in (b"VP8L", b"VP8 ", b"ALPH")]
    if not image:
        return data
    if chunks[0][0] == b"VP8X":
        flags, width, height = chunks[0][1][0], chunks[0][1][4:7], chunks[0][1][7:10]
    else:
        kind, body = image[-1]
        if kind == b"VP8L":  # 14-bit width-1 and height-1 after the signature byte, then the alpha bit
            bits = int.from_bytes(body[1:5], "little")
            w1, h1, alpha = bits & 0x3FFF, (bits >> 14) & 0x3FFF, (bits >> 28) & 1
        else:  # lossy VP8: 14-bit width and height after the 3-byte frame tag and the start code
            w1, h1, alpha = (struct.unpack("<H", body[6:8])[0] & 0x3FFF) - 1, (struct.unpack("<H", body[8:10])[0] & 0x3FFF) - 1, 0
        flags, width, height = 0x10 if alpha else 0, w1.to_bytes(3, "little"), h1.to_bytes(3, "little")
    flags |= (0x20 if tags.icc else 0) | (0x08 if tags.exif else 0)
    body = _riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + width + height)
    if tags.icc:
        body += _riff_chunk(b"ICCP", tags.icc)
    body += b"".join(_riff_chunk(k, b) for k, b in chunks if k not in (b"VP8X", b"ICCP", b"EXIF"))
    if tags.exif:
        body += _riff_chunk(b"EXIF", tags.exif)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
