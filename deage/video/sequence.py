"""Image-sequence names (``shot.%04d.exr``, ``shot.####.exr``, ``shot.1001.exr``) and single-image I/O.

Naming rules:

- ``%04d`` / ``%d`` (printf) and runs of ``#`` (one ``#`` per digit, Nuke's convention) mark the
  frame number; ``shot.####.exr`` and ``shot.%04d.exr`` are the same sequence.
- An image whose name ends in a frame number of 3 or more digits after ``.``, ``_`` or ``-``
  (``shot.1001.exr``, ``frame_0007.png``) stands for the whole sequence around it, with the
  padding of its digits. Shorter or glued numbers (``source_s12.jpg``, ``take2.png``) are part of
  a still's name. A numbered photo such as ``IMG_1234.jpg`` therefore opens with its numbered
  siblings when they run without a gap; among gappy siblings (a camera folder) it opens alone,
  with a warning (a pattern, ``IMG_%04d.jpg``, still insists on every frame);
  ``open_clip(path, still=True)`` always opens just that file.
- Frames may start at any number (1001 is the VFX habit); numbers wider than the padding are
  accepted (``%04d`` matches ``12345``), narrower or differently padded names are not part of it.

Images are decoded and encoded with PyAV's codecs (FFmpeg's png, mjpeg, tiff, exr, dpx), chosen
by extension. OpenCV is not used for this: its wheels here are built without OpenEXR. JPEG and
WebP are the exceptions on the way in: they are decoded with Pillow (libjpeg, libwebp), as every
viewer, OpenCV and browser decodes them. FFmpeg's decoders upsample chroma and convert to RGB
their own way, a level or three off on most pixels, so an untouched background would not read
back as the photo. (An animated WebP / PNG / AVIF opened as a file is a clip of all its frames,
``deage.video.animation.AnimationSource``; as a still or a sequence's frame, its first frame,
with a warning.)
HEIC / HEIF and AVIF photos are decoded by Pillow only (libheif through pillow-heif, libavif): a
phone stores its photo as a grid of tiles (an iPhone's 4032x3024 as 48 HEVC tiles), which FFmpeg's
demuxer gives as separate streams (only its command-line tool joins them), and the HEIF rotation
and mirror boxes are applied by libheif (its EXIF orientation is then reset to 1).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deage.errors import MediaError
from deage.video.pixels import plane_rows

#: image extension -> FFmpeg codec that decodes it
IMAGE_CODECS: dict[str, str] = {
    ".png": "png",
    ".jpg": "mjpeg",
    ".jpeg": "mjpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".exr": "exr",
    ".dpx": "dpx",
    ".webp": "webp",
    ".bmp": "bmp",
    ".heic": "hevc",
    ".heif": "hevc",
    ".hif": "hevc",
    ".avif": "av1",
}

#: codecs decoded with Pillow rather than FFmpeg (see the module docstring)
PILLOW_DECODED = frozenset({"mjpeg", "webp"})

#: image types only Pillow decodes (tile grids, HEIF transforms: see the module docstring)
PILLOW_ONLY_SUFFIXES = frozenset({".heic", ".heif", ".hif", ".avif"})

#: image types whose declared pixel aspect is honoured (film plates); others are shown with square pixels
PIXEL_ASPECT_SUFFIXES = frozenset({".exr", ".dpx"})

_PRINTF = re.compile(r"%(0?(\d+))?d")
# A run of '#' is a frame number where it stands alone as one: not beside a digit or a space
# ("Photo #3.jpg", "take #2.png", "C# notes.png" are names), and followed by the extension or a
# separator ("shot.####.exr", "shot_##.png", "frame####.png").
_HASHES = re.compile(r"(?<![\d\s])#+(?=[._-])")
_NUMBERED = re.compile(r"^(.*?(?:^|[._-]))(\d{3,})(\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class SequencePattern:
    """A numbered image sequence: ``folder / f"{prefix}{number:0{padding}d}{suffix}"``.

    Attributes:
        folder: the folder holding the frames.
        prefix: name before the number (``"shot."``).
        suffix: name after the number, extension included (``".exr"``).
        padding: minimum digits (4 for ``%04d``); 0 means unpadded (``%d``).
    """

    folder: Path
    prefix: str
    suffix: str
    padding: int

    @property
    def extension(self) -> str:
        return Path(self.suffix).suffix.lower() or self.suffix.lower()

    @property
    def codec(self) -> str:
        """FFmpeg codec of the frames (``"exr"``, ``"png"``...)."""
        return IMAGE_CODECS[self.extension]

    @property
    def printf(self) -> Path:
        """The pattern in printf form, e.g. ``shots/a.%04d.exr``."""
        number = f"%0{self.padding}d" if self.padding else "%d"
        return self.folder / f"{self.prefix}{number}{self.suffix}"

    def path(self, number: int) -> Path:
        """The file of frame ``number``."""
        return self.folder / f"{self.prefix}{number:0{self.padding}d}{self.suffix}"

    def scan(self) -> dict[int, Path]:
        """Frame number -> file, for the files of this sequence present on disk (sorted by number)."""
        if not self.folder.is_dir():
            return {}
        regex = re.compile(re.escape(self.prefix) + r"(\d+)" + re.escape(self.suffix) + "$")
        found: dict[int, Path] = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                m = regex.match(entry.name)
                if m is None or not self._padding_ok(m.group(1)):
                    continue
                found[int(m.group(1))] = Path(entry.path)
        return dict(sorted(found.items()))

    def _padding_ok(self, digits: str) -> bool:
        if self.padding == 0:
            return digits == "0" or not digits.startswith("0")
        return len(digits) == self.padding or (len(digits) > self.padding and not digits.startswith("0"))


def parse_sequence_path(path: str | Path) -> SequencePattern | None:
    """The sequence a path names, or None when it names no image sequence.

    Accepts ``shot.%04d.exr``, ``shot.%d.png``, ``shot.####.tif`` and numbered image files such
    as ``shot.1001.exr`` (existing or not). The extension must be an image one (see ``IMAGE_CODECS``).
    """
    p = Path(path)
    name = p.name
    if Path(name).suffix.lower() not in IMAGE_CODECS:
        return None
    folder = p.parent
    m = _PRINTF.search(name)
    if m is not None:
        return SequencePattern(folder, name[: m.start()], name[m.end() :], int(m.group(2) or 0))
    m = _HASHES.search(name)
    if m is not None:
        return SequencePattern(folder, name[: m.start()], name[m.end() :], len(m.group(0)))
    m = _NUMBERED.match(name)
    if m is not None:
        return SequencePattern(folder, m.group(1), m.group(3), len(m.group(2)))
    return None


def is_sequence_path(path: str | Path) -> bool:
    """True when ``path`` names an image sequence: a pattern (``%04d``, ``####``) or a numbered image file."""
    return parse_sequence_path(path) is not None


def has_frame_pattern(path: str | Path) -> bool:
    """The file name holds a frame-number pattern: ``%04d`` / ``%d``, or a run of ``#`` standing as
    a number (``shot.####.exr``; not ``Photo #3.jpg``). ``100%.png`` holds none."""
    name = Path(path).name
    return _PRINTF.search(name) is not None or _HASHES.search(name) is not None


def is_numbered_file(path: str | Path) -> bool:
    """True for one numbered image file (``shot.1001.exr``, ``face_007.jpg``): a sequence name that
    is no pattern (no ``%04d``, no ``####``)."""
    return not has_frame_pattern(path) and parse_sequence_path(path) is not None


def is_image_path(path: str | Path) -> bool:
    """True for a file name with an image extension deage reads (``.png .jpg .jpeg .tif .tiff .exr .dpx
    .webp .bmp .heic .heif .hif .avif``)."""
    return Path(path).suffix.lower() in IMAGE_CODECS


def describe_gaps(numbers: list[int]) -> str:
    """``[1001, 1002, 1005, 1009]`` -> ``"1003-1004, 1006-1008"`` (the missing numbers, as ranges)."""
    spans = []
    for a, b in zip(numbers, numbers[1:]):
        if b - a > 1:
            spans.append(f"{a + 1}" if b - a == 2 else f"{a + 1}-{b - 1}")
    return ", ".join(spans)


def decode_image(path: Path) -> av.VideoFrame:
    """Decode one image file with the FFmpeg codec its extension names.

    Raises:
        MediaError: missing, unreadable, empty or corrupt file (the message names it).
    """
    return decode_image_with_aspect(path)[0]


def decode_image_with_aspect(path: Path) -> tuple[av.VideoFrame, Fraction | None]:
    """``decode_image`` and the sample aspect ratio the file declares (None when it declares none)."""
    codec = IMAGE_CODECS.get(path.suffix.lower())
    if codec is None:
        raise MediaError(f"not an image type deage reads ({', '.join(sorted(IMAGE_CODECS))})", path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MediaError("image file is missing", path) from None
    except OSError as exc:
        raise MediaError(f"cannot read image file ({exc.strerror or exc})", path) from None
    if not data:
        raise MediaError("image file is empty (0 bytes)", path)
    codec = codec_by_content(data) or codec  # a JPEG saved as "photo.png" is still a JPEG
    if codec in PILLOW_DECODED or path.suffix.lower() in PILLOW_ONLY_SUFFIXES:
        frame = _decode_with_pillow(data, path)
        if frame is not None:
            return frame, None
        if path.suffix.lower() in PILLOW_ONLY_SUFFIXES:
            raise MediaError("image is larger than Pillow's safety limit (PIL.Image.MAX_IMAGE_PIXELS)", path)
    ctx = av.CodecContext.create(codec, "r")
    ctx.thread_type = "SLICE"  # one image: frame threads add nothing, and would hide its aspect ratio
    try:
        frames = ctx.decode(av.Packet(data))
        frames += ctx.decode(None)
    except av.error.FFmpegError as exc:
        raise MediaError(f"corrupt or unreadable {codec} image ({exc})", path) from None
    if not frames:
        raise MediaError(f"corrupt or truncated {codec} image (nothing decodable)", path)
    return _palette_alpha_as_rgba(frames[0]), (Fraction(ctx.sample_aspect_ratio) if ctx.sample_aspect_ratio else None)


_SIGNATURES = ((b"\xff\xd8\xff", "mjpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"II*\x00", "tiff"),
               (b"MM\x00*", "tiff"), (b"v/1\x01", "exr"), (b"SDPX", "dpx"), (b"XPDS", "dpx"), (b"BM", "bmp"))


def codec_by_content(data: bytes) -> str | None:
    """The FFmpeg codec of an image file's bytes from their signature (JPEG, PNG, TIFF, EXR, DPX,
    BMP, WebP), whatever the file's name says; None for anything else (HEIF and AVIF go by name)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((codec for magic, codec in _SIGNATURES if data.startswith(magic)), None)


def _palette_alpha_as_rgba(frame: av.VideoFrame) -> av.VideoFrame:
    """A palette frame whose palette holds transparency (a PNG with a tRNS chunk, as pngquant and
    web tools make cut-outs) as an ``rgba`` frame, so its alpha is seen and kept like any other's;
    every other frame as it is. (FFmpeg's palette: 256 32-bit BGRA entries in native order.)"""
    if frame.format.name != "pal8" or len(frame.planes) < 2:
        return frame
    palette = np.frombuffer(frame.planes[1], np.uint8)[:1024].reshape(-1, 4)
    used = np.unique(plane_rows(frame.planes[0])[:, : frame.width])
    alpha = palette[used[used < len(palette)], 3]
    return frame.reformat(format="rgba") if (alpha < 255).any() else frame


def _decode_with_pillow(data: bytes, path: Path) -> av.VideoFrame | None:
    """An 8-bit image file's stored pixels (no EXIF turn) as an rgb24 frame, gray for a grey
    one, rgba for one with transparency (an RGBA WebP); CMYK and other modes converted to RGB by
    Pillow. None for an image over Pillow's size limit (FFmpeg decodes those)."""
    import io

    from PIL import Image, UnidentifiedImageError

    register_pillow_plugins()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if getattr(image, "is_animated", False):
                warnings.warn(f"{path}: an animated image of {image.n_frames} frames; only its first frame is "
                              "read as a still or a sequence's frame (open the file itself to read them all)",
                              RuntimeWarning, stacklevel=2)
            if image.has_transparency_data and image.mode != "RGBA":
                image = image.convert("RGBA")  # a cut-out keeps its alpha (LA, PA, a palette's tRNS)
            elif image.mode not in ("L", "RGB", "RGBA"):
                image = image.convert("RGB")
            pixels = np.asarray(image)
    except Image.DecompressionBombError:
        return None
    except UnidentifiedImageError:
        raise MediaError("not an image file deage can read, or a corrupt one (no known image format "
                         "recognised in its bytes)", path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"image file is truncated or corrupt ({exc})", path) from None
    fmt = "gray" if pixels.ndim == 2 else "rgba" if pixels.shape[2] == 4 else "rgb24"
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=fmt)


def register_pillow_plugins() -> None:
    """Let Pillow open HEIC / HEIF files (pillow-heif's opener; registering again does nothing new).
    Without pillow-heif installed, HEIC files raise Pillow's ``UnidentifiedImageError``."""
    try:
        import pillow_heif
    except ImportError:
        return
    pillow_heif.register_heif_opener()


def check_complete_image(path: Path) -> None:
    """Raise ``MediaError`` when a PNG file is cut short or its data is damaged: FFmpeg decodes
    such a file without complaint (what is missing comes out grey), so Pillow reads the whole file
    to tell. JPEG and WebP need no check: their decode is Pillow's, which reports a cut file itself
    (``PILLOW_DECODED``). Other types, and images too big for Pillow's safety limit, are not checked."""
    if path.suffix.lower() != ".png":
        return
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
    except Image.DecompressionBombError:
        return
    except (OSError, SyntaxError, ValueError) as exc:  # "image file is truncated", a broken PNG stream...
        raise MediaError(f"image file is truncated or corrupt ({exc})", path) from None
