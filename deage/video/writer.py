"""Write clips (H.264 mp4, ProRes mov, FFV1 mkv) and image sequences (16-bit PNG/TIFF, half EXR, DPX).

Formats (``codec=`` forces one; otherwise the extension decides):

==================  =============================  =============================================
codec               file                           encoding
==================  =============================  =============================================
``h264``            ``.mp4`` (default), mov, mkv   libx264, yuv420p, CRF 16, preset veryfast
``hevc``            ``.mp4`` (deep src), mov, mkv  libx265, yuv420p / yuv420p10le, CRF 18, preset fast
``h264-lossless``   ``.mp4``, mkv, mov             libx264rgb, RGB, QP 0, ultrafast: reproduces 8-bit input
``vp9``             ``.webm`` (default), mkv        libvpx-vp9, yuv420p, CRF 18, good, cpu-used 4 (8-bit only)
``prores``          ``.mov`` (default), mkv        prores_ks 422 HQ, yuv422p10le
``prores4444``      ``.mov``, mkv                  prores_ks 4444, yuv444p10le (yuva444p10le for RGBA)
``ffv1``            ``.mkv`` (default), mov        FFV1 lossless RGB (bgr0, gbrp16le for deep input)
``png``             ``name.%04d.png``              16-bit RGB (RGBA) PNG per frame
``tiff``            ``name.%04d.tif``              16-bit RGB (RGBA) TIFF per frame (deflate)
``exr``             ``name.%04d.exr``              half-float RGB (RGBA) EXR per frame (zip16)
``dpx``             ``name.%04d.dpx``              10-bit RGB DPX per frame (16-bit for deep input, RGBA)
``jpeg``            ``name.%04d.jpg``              8-bit JPEG per frame, 4:4:4, best quality (for photos)
``webp``            ``name.%04d.webp``             8-bit lossless WebP per frame (BGRA; for photos)
``bmp``             ``name.%04d.bmp``              8-bit uncompressed BMP per frame
==================  =============================  =============================================

Any image format written to a name without a frame-number pattern (``portrait.png``,
``photo.jpg``) is a *still*: one image file, for a one-frame render (a photo in, a photo out).

YUV outputs are converted with the ``colour`` given (``ColourTags``: a render passes its
source's, so untouched pixels keep their code values and HDR or full-range clips stay so;
default BT.709, limited range) and tagged so (primaries, transfer, matrix, range), which is what
the reader uses back; an untagged source's render is left untagged as it was
(``ColourTags.tagged``). ProRes is always limited range. ``options`` override encoder options
(``{"crf": "18", "preset": "slow"}``). Given the source's pixel format (``source_pix_fmt``), a
4:2:2 / 4:4:4 source keeps its chroma resolution (H.264 / HEVC in the source's layout, ProRes
4444 for 4:4:4); an odd-sized picture, which cannot be chroma-subsampled, is written 4:4:4.

Timing: frame ``i`` gets ``pts = i`` in a ``1/fps`` time base, so a constant-rate source keeps
its frame times exactly. To keep a variable-rate source's timing, pass ``time_base=clip.info.time_base``
and ``write(frame, pts=clip.timestamps[i])``.

Safety: the output is written under a hidden temporary name beside the final one
(``deage.safe_write.atomic_output``) and renamed by ``close()``; leaving the ``with`` block on
an exception (or calling ``abort()``) deletes the temporary files and leaves the final path
untouched. Outputs equal to any path in ``inputs`` (or ``audio_from``) are refused.

Audio: ``audio_from`` copies every audio stream of that file packet for packet, with its
language (``AudioCopier``), trimmed to ``audio_range`` seconds when given. Image sequences cannot
hold audio; for them the packets go to a sidecar ``<name>.audio.mka`` beside the frames.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import threading
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange

from deage.errors import OutputError
from deage.safe_write import atomic_output, check_output_path
from deage.video.audio import AudioCopier, source_has_audio
from deage.video.info import ColourTags, as_rate
from deage.video.photo_tags import PhotoTags, embed_photo_tags, encode_like
from deage.video.pixels import (
    AVCOL_PRI_BT709,
    AVCOL_RANGE_JPEG,
    AVCOL_RANGE_MPEG,
    AVCOL_TRC_IEC61966_2_1,
    ENCODE_INTERPOLATION,
    bit_depth,
    check_image,
    has_alpha,
    rgb_to_frame,
    sws_colorspace,
)
from deage.video.sequence import SequencePattern, has_frame_pattern, parse_sequence_path
from deage.video.timecode import shift, stamp_image


@dataclass(frozen=True)
class CodecSpec:
    """How one output format is encoded.

    Attributes:
        name: deage's name for it (``"h264"``, ``"prores"``, ``"exr"``...).
        encoder: FFmpeg encoder.
        pix_fmt: encoder pixel format for uint8 input; ``pix_fmt_deep`` for uint16/float input.
        yuv: needs an RGB->YUV matrix (BT.709 tags are written).
        sequence: one image file per frame.
        extensions: file extensions it may be written to (the first is the default one).
        options: encoder options.
    """

    name: str
    encoder: str
    pix_fmt: str
    pix_fmt_deep: str
    yuv: bool
    sequence: bool
    extensions: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)
    alpha_pix_fmt: str | None = None


CODECS: dict[str, CodecSpec] = {
    s.name: s
    for s in (
        CodecSpec("h264", "libx264", "yuv420p", "yuv420p", True, False, (".mp4", ".m4v", ".mov", ".mkv"),
                  {"crf": "16", "preset": "veryfast"}),
        # HEVC: chosen for an .mp4 of a >8-bit source (``codec_for``): Main 10, which HDR phone
        # clips are recorded in and play back as; tagged hvc1 in .mp4 / .mov (Apple players need it).
        CodecSpec("hevc", "libx265", "yuv420p", "yuv420p10le", True, False, (".mp4", ".m4v", ".mov", ".mkv"),
                  {"crf": "18", "preset": "fast", "x265-params": "log-level=error"}),
        # VP9 for the web (.webm; its audio becomes Opus): this FFmpeg's libvpx encodes 8 bits only.
        CodecSpec("vp9", "libvpx-vp9", "yuv420p", "yuv420p", True, False, (".webm", ".mkv"),
                  {"crf": "18", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}),
        CodecSpec("h264-lossless", "libx264rgb", "bgr24", "bgr24", False, False, (".mp4", ".mkv", ".mov"),
                  {"qp": "0", "preset": "ultrafast"}),
        CodecSpec("prores", "prores_ks", "yuv422p10le", "yuv422p10le", True, False, (".mov", ".mkv"),
                  {"profile": "3", "vendor": "apl0"}),
        CodecSpec("prores4444", "prores_ks", "yuv444p10le", "yuv444p10le", True, False, (".mov", ".mkv"),
                  {"profile": "4", "vendor": "apl0"}, alpha_pix_fmt="yuva444p10le"),
        CodecSpec("ffv1", "ffv1", "bgr0", "gbrp16le", False, False, (".mkv", ".mov"),
                  {"level": "3", "slicecrc": "1"}),
        CodecSpec("png", "png", "rgb48be", "rgb48be", False, True, (".png",), {"compression_level": "3"},
                  alpha_pix_fmt="rgba64be"),
        CodecSpec("tiff", "tiff", "rgb48le", "rgb48le", False, True, (".tif", ".tiff"),
                  {"compression_algo": "deflate"}, alpha_pix_fmt="rgba64le"),
        CodecSpec("exr", "exr", "gbrpf32le", "gbrpf32le", False, True, (".exr",),
                  {"compression": "zip16", "format": "half"}, alpha_pix_fmt="gbrapf32le"),
        # DPX: 10-bit (the plates' usual depth) from 8-bit frames, 16-bit from deeper ones.
        CodecSpec("dpx", "dpx", "gbrp10le", "rgb48le", False, True, (".dpx",), alpha_pix_fmt="rgba64le"),
        # yuvj = full-range BT.601, the JPEG standard's own conversion; quantiser 1 = best quality.
        CodecSpec("jpeg", "mjpeg", "yuvj444p", "yuvj444p", False, True, (".jpg", ".jpeg"),
                  {"qmin": "1", "qmax": "1"}),
        CodecSpec("webp", "libwebp", "bgra", "bgra", False, True, (".webp",), {"lossless": "1"}, alpha_pix_fmt="bgra"),
        CodecSpec("bmp", "bmp", "bgr24", "bgr24", False, True, (".bmp",)),
    )
}
_ALIASES = {
    "libx264": "h264",
    "x264": "h264",
    "h265": "hevc",
    "x265": "hevc",
    "libx265": "hevc",
    "libvpx-vp9": "vp9",
    "webm": "vp9",
    "h264_lossless": "h264-lossless",
    "libx264rgb": "h264-lossless",
    "prores_ks": "prores",
    "prores422hq": "prores",
    "prores-422-hq": "prores",
    "prores_4444": "prores4444",
    "png16": "png",
    "tif": "tiff",
    "jpg": "jpeg",
    "mjpeg": "jpeg",
}
_DEFAULT_BY_EXTENSION = {".mp4": "h264", ".m4v": "h264", ".mov": "prores", ".mkv": "ffv1", ".webm": "vp9",
                         ".png": "png", ".tif": "tiff", ".tiff": "tiff", ".exr": "exr", ".dpx": "dpx",
                         ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".bmp": "bmp"}
_ENCODE_THREADS = max(1, min(4, os.cpu_count() or 1))  # image files encoded in parallel (GIL released)
_MAX_REORDER = 16  # frames a packet's dts may lie before its pts (B-frame reordering is a few)
_CONTAINER_FORMAT = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}


def resolve_codec(path: str | Path, codec: str | None = None) -> CodecSpec:
    """The ``CodecSpec`` for writing ``path`` (with ``codec`` forcing one).

    Raises:
        OutputError: unknown codec, an extension deage does not write, or a codec the extension
            cannot hold. (An image format without a frame-number pattern is a single still.)
    """
    p = Path(path)
    ext = p.suffix.lower()
    pattern = parse_sequence_path(p)
    if codec is None:
        name = _DEFAULT_BY_EXTENSION.get(ext)
        if name is None:
            raise OutputError(
                f"cannot write '{ext or p.name}' files; use .mp4 (H.264), .mov (ProRes 422 HQ), "
                ".mkv (FFV1 lossless), .webm (VP9), an image sequence such as name.%04d.exr / .dpx / .png / .tif, "
                "or one image (.png, .jpg, .tif, .exr, .dpx, .webp, .bmp)",
                p,
            )
    spec = CODECS[name] if codec is None else _named_spec(codec, p)
    if ext not in spec.extensions:
        raise OutputError(f"codec {spec.name} cannot be written to a '{ext}' file; use {', '.join(spec.extensions)}", p)
    if not spec.sequence and pattern is not None and has_frame_pattern(p):
        raise OutputError(f"codec {spec.name} writes one file, not a '{p.name}' sequence", p)
    return spec


def _named_spec(codec: str, path: Path) -> CodecSpec:
    """The ``CodecSpec`` of deage's codec name or an alias (``"prores"``, ``"x265"``); errors name ``path``."""
    name = _ALIASES.get(codec.lower(), codec.lower())
    if name not in CODECS:
        raise OutputError(f"unknown codec '{codec}'; choose one of {', '.join(CODECS)}", path)
    return CODECS[name]


def codec_extension(codec: str) -> str:
    """The file extension a codec (deage's name or an alias: ``"prores"``, ``"x265"``) writes by default.

    Raises:
        OutputError: unknown codec.
    """
    return _named_spec(codec, Path(codec)).extensions[0]


def codec_for(path: str | Path, codec: str | None, source_bit_depth: int) -> str | None:
    """The codec a render of a source with ``source_bit_depth``-bit components writes to ``path``:
    ``codec`` when one is forced; HEVC Main 10 for an ``.mp4`` of a deeper-than-8-bit source (a
    10-bit HDR phone clip, a 10-bit plate), which 8-bit H.264 would band; else None (the
    extension's default, ``resolve_codec``)."""
    if codec is None and source_bit_depth > 8 and _CONTAINER_FORMAT.get(Path(path).suffix.lower()) == "mp4":
        return "hevc"
    return codec


def is_still_path(path: str | Path, codec: str | None = None) -> bool:
    """Whether ``path`` is written as one still image: an image format without a frame-number pattern."""
    return resolve_codec(path, codec).sequence and not has_frame_pattern(Path(path))


def _chroma_layout(pix_fmt: str) -> str | None:
    """``"420"``, ``"422"`` or ``"444"`` for a planar YUV pixel format, else None (RGB, grey, packed)."""
    match = re.match(r"yuvj?a?(420|422|444)p", pix_fmt)
    return match.group(1) if match else None


def _input_files(inputs: tuple[Path, ...]) -> tuple[list[Path], list[SequencePattern]]:
    files, patterns = [], []
    for item in inputs:
        pattern = parse_sequence_path(item)
        if pattern is not None:
            patterns.append(pattern)
            files.extend(pattern.scan().values())
        files.append(Path(item))
    return files, patterns


@dataclass(frozen=True)
class EncoderConversion:
    """RGB image -> ``av.VideoFrame`` in an encoder's pixel format, as a ``ClipWriter`` makes it.

    Call it with RGB (H, W, 3|4) uint8, uint16 or float32; picklable, so a worker process can
    convert (``deage.scale.processes``).
    """

    pix_fmt: str
    codec: str
    yuv: bool
    exr_linear: bool = True
    half: bool = False
    colour: ColourTags = ColourTags()

    def __call__(self, image: np.ndarray) -> av.VideoFrame:
        if image.dtype == np.uint8 and self.pix_fmt == "gbrp10le" and image.shape[2] == 3:
            # 8 -> 10 bits rounded (v * 1023 / 255): read back through 16 bits (swscale repeats
            # the top bits) and divided by 257, every value returns; swscale's own does not.
            ten = (image.astype(np.uint32) * 1023 + 127) // 255
            return av.VideoFrame.from_ndarray(np.ascontiguousarray(ten, np.uint16), format="gbrp10le")
        if image.dtype == np.uint8 and self.pix_fmt.startswith(("rgb48", "rgba64")):
            # 8 -> 16 bits exactly (v * 257, what every reader divides by): swscale's own
            # conversion comes out up to a level low, so an untouched pixel would not read back.
            image = image.astype(np.uint16) * np.uint16(257)
        frame = rgb_to_frame(image, float_output=self.codec == "exr", linear=self.exr_linear, half=self.half)
        if self.codec in ("png", "tiff"):  # sRGB-encoded values: PNG gets sRGB + cHRM + gAMA chunks
            frame.color_primaries, frame.color_trc = AVCOL_PRI_BT709, AVCOL_TRC_IEC61966_2_1
        if self.yuv:
            colour = self.colour
            out = frame.reformat(format=self.pix_fmt, dst_colorspace=sws_colorspace(colour.matrix),
                                 dst_color_range=ColorRange.JPEG if colour.full_range else ColorRange.MPEG,
                                 interpolation=ENCODE_INTERPOLATION)
            return self.tag(out)
        return frame.reformat(format=self.pix_fmt)

    def tag(self, frame: av.VideoFrame) -> av.VideoFrame:
        """Set a YUV frame's colour tags (matrix, range, primaries, transfer) to this encoder's;
        returns ``frame``. Some encoders (ProRes) take the tags from the frames, not the stream."""
        colour = self.colour
        frame.colorspace, frame.color_primaries, frame.color_trc = colour.stream_tags()
        frame.color_range = AVCOL_RANGE_JPEG if colour.full_range else AVCOL_RANGE_MPEG
        return frame


@dataclass(frozen=True)
class PreparedFrame:
    """A frame converted for one writer's encoder (``ClipWriter.prepare``); ``writer`` is its id."""

    frame: av.VideoFrame
    writer: int


class ClipWriter:
    """Write frames to a clip or image sequence; a context manager.

    Args:
        path: output file (``.mp4``, ``.mov``, ``.mkv``) or sequence pattern (``out.%04d.exr``,
            ``out.####.png``, ``out.%04d.tif``).
        fps: frames per second.
        width, height: frame size; every written frame must be (height, width, 3).
        codec: force a format (see the module table); default from the extension.
        audio_from: copy this file's audio streams (if it has any) into the output.
        audio_range: (start, end) seconds of ``audio_from`` to keep, 0 = its first video frame.
        first_frame_number: number of the first file of a sequence output.
            An image format without a pattern (``photo.png``) writes one still and takes one frame.
        inputs: paths the output must not overwrite (clips, files or sequence patterns).
        options: encoder options overriding the defaults.
        time_base: output time base (default ``1/fps``); see ``write(pts=...)``.
        exr_linear: EXR output holds scene-linear light: frames (sRGB-encoded) are decoded to
            linear first. Match the reader's ``exr_linear``.
        colour: ``ColourTags`` of YUV outputs (``ClipInfo.colour``); None = BT.709, limited range.
        field_order: ``"progressive"``, or ``"tff"`` / ``"bff"`` to flag H.264 output interlaced
            (``ClipInfo.field_order``: players then deinterlace it as they did the source); other
            codecs write progressive frames, with a warning.
        pixel_aspect: width / height of one pixel (``ClipInfo.pixel_aspect``): written as the
            stream's sample aspect ratio so players show an anamorphic picture unsqueezed, as
            the source was (EXR / DPX: the file's pixel aspect).
        timecode: the first frame's SMPTE timecode (``ClipInfo.timecode``, shifted to the first
            written frame): a ``tmcd`` track in .mov / .mp4, a tag in .mkv, each file's header in
            a DPX / EXR sequence (counting up: ``deage.video.timecode.stamp_image``); other image
            files have no place for it.
        source_pix_fmt: the source's pixel format (``ClipInfo.pix_fmt``): a 4:2:2 or 4:4:4 YUV
            source keeps its chroma resolution in H.264 / HEVC and a 4:4:4 one, or one with alpha,
            is written as ProRes 4444 rather than 422 HQ (see ``_keep_source_chroma``); a 10- or
            12-bit plate into DPX keeps its depth (16-bit DPX otherwise, for deep frames).
        photo_tags: a source photo's ICC profile and EXIF (``deage.video.photo_tags``), put into a
            still JPEG, PNG or WebP output (a still TIFF gets the profile); with a source JPEG's
            encoding (``PhotoTags.jpeg``), a still JPEG output of 8-bit RGB is encoded with its
            tables and subsampling (libjpeg, as the source was) instead of FFmpeg's MJPEG encoder.
        metadata: container tags for a movie output (``ClipInfo.metadata``: the source's creation
            time, title, location...).

    Raises:
        OutputError: unusable output (missing folder, same as an input, format problems).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: Fraction | float | int,
        width: int,
        height: int,
        codec: str | None = None,
        audio_from: str | Path | None = None,
        audio_range: tuple[float, float] | None = None,
        first_frame_number: int = 1001,
        inputs: tuple[str | Path, ...] | list[str | Path] = (),
        options: dict | None = None,
        time_base: Fraction | None = None,
        exr_linear: bool = True,
        pixel_aspect: Fraction | float = 1,
        colour: ColourTags | None = None,
        field_order: str = "progressive",
        timecode: str | None = None,
        source_pix_fmt: str | None = None,
        photo_tags: PhotoTags | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.photo_tags = photo_tags
        self.metadata = dict(metadata or {})
        self.spec = resolve_codec(self.path, codec)
        self.fps = as_rate(fps)
        if int(width) <= 0 or int(height) <= 0:
            raise ValueError(f"width and height must be positive, got {width}x{height}")
        self.width, self.height = int(width), int(height)
        self.time_base = Fraction(time_base) if time_base is not None else 1 / self.fps
        self.pixel_aspect = Fraction(pixel_aspect).limit_denominator(65535)
        if self.pixel_aspect <= 0:
            raise ValueError(f"pixel_aspect must be positive, got {pixel_aspect}")
        colour = colour or ColourTags()
        if self.spec.encoder == "prores_ks" and colour.full_range:
            colour = dataclasses.replace(colour, full_range=False)  # ProRes is limited range by definition
        self.colour = colour
        if colour.is_hdr and self.spec.sequence:
            warnings.warn(f"{self.path}: the source is HDR (transfer {'PQ' if colour.transfer == 16 else 'HLG'}); "
                          f"{self.spec.name} files hold its code values but are read as SDR (sRGB / linear). "
                          "Write .mp4 or .mov to keep it HDR", RuntimeWarning, stacklevel=2)
        self.options = {str(k): str(v) for k, v in {**self.spec.options, **(options or {})}.items()}
        if field_order not in ("progressive", "tff", "bff"):
            raise ValueError(f"field_order must be 'progressive', 'tff' or 'bff', got {field_order!r}")
        if field_order != "progressive":
            if self.spec.encoder == "libx264":
                extra = f"interlaced=1:{field_order}=1"
                given = self.options.get("x264-params")
                self.options["x264-params"] = f"{given}:{extra}" if given else extra
            else:
                warnings.warn(f"{self.path}: the source is interlaced ({field_order}); {self.spec.name} output is "
                              "written as progressive frames. Write .mp4 (H.264) to keep it interlaced",
                              RuntimeWarning, stacklevel=2)
        self._deep_pix_fmt: str | None = None  # the encoder's format for deep frames, when not the spec's
        if source_pix_fmt is not None and "pix_fmt" not in self.options:
            self._keep_source_chroma(source_pix_fmt)
            if self.spec.name == "dpx" and 8 < bit_depth(source_pix_fmt) <= 12:  # a 10- or 12-bit plate
                self._deep_pix_fmt = f"gbrp{10 if bit_depth(source_pix_fmt) <= 10 else 12}le"
        if (self.options.get("pix_fmt", self.spec.pix_fmt).startswith(("yuv420", "yuv422"))
                and (self.width % 2 or self.height % 2)):
            self._keep_odd_size()
        if self.pixel_aspect != 1 and self.path.suffix.lower() == ".mkv":
            warnings.warn(f"{self.path}: Matroska output does not record the pixel aspect "
                          f"({self.pixel_aspect}); players will show the picture squeezed. Write .mov to keep it",
                          RuntimeWarning, stacklevel=2)
        self.timecode = timecode
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.audio_range = audio_range
        self.first_frame_number = int(first_frame_number)
        self.exr_linear = exr_linear
        all_inputs = tuple(Path(p) for p in inputs) + ((self.audio_from,) if self.audio_from else ())
        self._input_files, self._input_patterns = _input_files(all_inputs)
        self.still = self.spec.sequence and not has_frame_pattern(self.path)
        self._pattern = parse_sequence_path(self.path) if self.spec.sequence and not self.still else None
        self._check_paths()
        self._stack = contextlib.ExitStack()
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()
        self._local = threading.local()
        self._audio: AudioCopier | None = None
        self._pix_fmt: str | None = None
        self._alpha = False
        self._begin_lock = threading.Lock()
        self._count = 0
        self._last_pts: int | None = None
        self._last_dts: int | None = None  # of the last video packet muxed (``_mux``)
        self._max_reorder: float | None = None  # _MAX_REORDER frames in packet ticks, from the first packet
        self._closed = False
        self.written: list[Path] = []

    # -- checks -----------------------------------------------------------------------------
    def _keep_source_chroma(self, source_pix_fmt: str) -> None:
        """Keep a 4:2:2 / 4:4:4 YUV source's chroma resolution where the format can: an H.264
        output takes the source's own chroma layout at 8 bits (an 8-bit source's untouched pixels
        keep their code values), an HEVC one at 8 or 10 bits as the source has, a ProRes one from
        a 4:4:4 source becomes ProRes 4444. Halving the chroma would blur colour edges all over
        the frame, far outside the edit. A source with alpha (RGBA plates, ProRes 4444 with
        alpha) becomes ProRes 4444 too: the one that can carry it."""
        chroma = _chroma_layout(source_pix_fmt)
        if self.spec.name in ("h264", "hevc", "vp9") and chroma in ("422", "444"):
            deep = self.spec.name == "hevc" and bit_depth(source_pix_fmt) > 8
            self.options["pix_fmt"] = f"yuv{chroma}p" + ("10le" if deep else "")
            warnings.warn(f"{self.path}: the source is 4:{chroma[1]}:{chroma[2]}; writing {self.spec.name.upper()} "
                          f"4:{chroma[1]}:{chroma[2]} to keep its colour detail (some players only play 4:2:0)",
                          RuntimeWarning, stacklevel=3)
        elif self.spec.name == "prores" and (chroma == "444" or has_alpha(source_pix_fmt)):
            self._use_codec("prores4444")  # 4:4:4 colour, and the only ProRes that holds an alpha

    def _use_codec(self, name: str) -> None:
        """Switch to codec ``name``, with its default options in place of the old codec's (ProRes
        4444 was written with 422 HQ's profile, which drops an alpha); options the caller gave stay."""
        old, self.spec = self.spec, CODECS[name]
        for key, value in old.options.items():
            if self.options.get(key) == str(value):
                del self.options[key]
        for key, value in self.spec.options.items():
            self.options.setdefault(key, str(value))

    def _keep_odd_size(self) -> None:
        """An odd width or height cannot be chroma-subsampled: keep the exact size with full chroma
        (H.264 High 4:4:4, ProRes 4444) rather than crop or pad the picture, and say so."""
        size = f"{self.width}x{self.height}"
        if self.spec.name in ("h264", "hevc", "vp9"):
            self.options["pix_fmt"] = "yuv444p10le" if self.spec.name == "hevc" else "yuv444p"
            warnings.warn(f"{self.path}: {size} is odd-sized; writing {self.spec.name.upper()} 4:4:4 "
                          f"({self.options['pix_fmt']}) to keep every pixel (some players only play 4:2:0)",
                          RuntimeWarning, stacklevel=3)
        elif self.spec.name == "prores":
            self._use_codec("prores4444")
            warnings.warn(f"{self.path}: {size} is odd-sized; writing ProRes 4444 instead of 422 HQ",
                          RuntimeWarning, stacklevel=3)
        else:
            raise OutputError(f"{self.spec.name} needs an even width and height, got {size}; "
                              "use codec='h264-lossless', 'ffv1' or an image sequence", self.path)

    def _check_paths(self) -> None:
        if self._pattern is None:
            check_output_path(self.path, *self._input_files)
            self._protected = {p.resolve() for p in self._input_files if p.exists()}
            return
        for pattern in self._input_patterns:
            same = (
                pattern.folder.resolve() == self._pattern.folder.resolve()
                and pattern.prefix == self._pattern.prefix
                and pattern.suffix == self._pattern.suffix
            )
            if same:
                raise OutputError("output sequence is the same as the input sequence; choose another name",
                                  self._pattern.printf)
        check_output_path(self._pattern.path(self.first_frame_number), *self._input_files)
        self._protected = {p.resolve() for p in self._input_files if p.exists()}

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "ClipWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def frames_written(self) -> int:
        return self._count

    def begin(self, sample: np.ndarray) -> None:
        """Fix the pixel format and open the output now, as a first frame like ``sample`` would
        (only its dtype and channel count matter): ``conversion()`` is known from then on, so
        frames can be prepared before the first ``write``. Does nothing once begun. Thread-safe."""
        with self._begin_lock:
            if self._pix_fmt is None and not self._closed:
                self._start(sample)

    def _start(self, image: np.ndarray) -> None:
        deep = image.dtype != np.uint8
        self._pix_fmt = (self._deep_pix_fmt or self.spec.pix_fmt_deep) if deep else self.spec.pix_fmt
        self._alpha = image.shape[2] == 4
        if self._alpha:  # RGBA: only codecs with an alpha format accept it (check_image)
            self._pix_fmt = self.spec.alpha_pix_fmt
            if self.spec.encoder == "prores_ks":
                self.options.setdefault("alpha_bits", "16")
        self._pix_fmt = self.options.pop("pix_fmt", self._pix_fmt)
        if self.spec.sequence:
            self._make_image_encoder()  # fail early, in the caller's thread, on bad options
            self._pool = ThreadPoolExecutor(max_workers=_ENCODE_THREADS, thread_name_prefix="deage-encode")
            return
        tmp = self._stack.enter_context(atomic_output(self.path))
        fmt = _CONTAINER_FORMAT[self.path.suffix.lower()]
        container_options = {"fflags": "+bitexact", **({"movflags": "+faststart"} if fmt == "mp4" else {})}
        try:
            self._container = av.open(str(tmp), "w", format=fmt, options=container_options)
            self._container.metadata.update(self.metadata)
            stream = self._container.add_stream(self.spec.encoder, rate=self.fps)
            if self.spec.encoder == "libx265" and fmt in ("mp4", "mov"):
                stream.codec_context.codec_tag = "hvc1"  # FFmpeg's default hev1 is refused by Apple players
            stream.width, stream.height = self.width, self.height
            stream.pix_fmt = self._pix_fmt
            stream.time_base = self.time_base
            stream.codec_context.time_base = self.time_base
            if self.pixel_aspect != 1:
                stream.codec_context.sample_aspect_ratio = self.pixel_aspect
            if self.spec.yuv:
                cc = stream.codec_context
                cc.colorspace, cc.color_primaries, cc.color_trc = self.colour.stream_tags()
                cc.color_range = AVCOL_RANGE_JPEG if self.colour.full_range else AVCOL_RANGE_MPEG
            elif self.colour != ColourTags():  # RGB codecs (FFV1, lossless H.264): the source's primaries and transfer
                cc = stream.codec_context
                cc.color_primaries, cc.color_trc = self.colour.stream_tags()[1:]
            stream.options = dict(self.options)
            stream.thread_type = "AUTO"
            if self.timecode:  # .mov / .mp4: a tmcd track; .mkv: a TIMECODE tag
                stream.metadata["timecode"] = self.timecode
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise OutputError(f"cannot set up the {self.spec.name} encoder ({getattr(exc, 'strerror', exc)})",
                              self.path) from None
        self._stream = stream
        if self.audio_from is not None:
            self._audio = AudioCopier(self.audio_from, self._container, self.audio_range, output_path=self.path)

    def _make_image_encoder(self) -> av.CodecContext:
        ctx = av.CodecContext.create(self.spec.encoder, "w")
        ctx.width, ctx.height = self.width, self.height
        ctx.pix_fmt = self._pix_fmt
        ctx.time_base = self.time_base
        if self.pixel_aspect != 1:
            ctx.sample_aspect_ratio = self.pixel_aspect
        ctx.options = dict(self.options)
        try:
            ctx.open()
        except (av.error.FFmpegError, ValueError) as exc:
            raise OutputError(f"cannot set up the {self.spec.name} encoder ({getattr(exc, 'strerror', exc)})",
                              self.path) from None
        return ctx

    def _to_encoder_frame(self, image: np.ndarray) -> av.VideoFrame:
        conversion = self.conversion()
        assert conversion is not None
        return conversion(image)

    def conversion(self) -> "EncoderConversion | None":
        """How this writer converts RGB images for its encoder (picklable: another process can do
        it, see ``prepared``); None before the first ``write``, which fixes the pixel format."""
        if self._pix_fmt is None:
            return None
        return EncoderConversion(self._pix_fmt, self.spec.name, self.spec.yuv, self.exr_linear,
                                 self.options.get("format") == "half", self.colour)

    def _default_pts(self, index: int) -> int:
        """Frame ``index``'s time (index / fps) in ``time_base`` units, rounded; in integers (a
        frame's worth of ``Fraction`` arithmetic held the interpreter lock measurably)."""
        step = self.time_base.denominator * self.fps.denominator, self.time_base.numerator * self.fps.numerator
        whole, rest = divmod(index * step[0], step[1])
        return whole + (1 if 2 * rest > step[1] or (2 * rest == step[1] and whole % 2) else 0)  # round half to even

    def _same_channels(self, image: np.ndarray) -> bool:
        """Whether ``image`` has the channels (RGB or RGBA) the first frame fixed."""
        return (image.shape[2] == 4) == self._alpha

    def prepared(self, frame: av.VideoFrame) -> "PreparedFrame":
        """Wrap a frame made by this writer's ``conversion()`` (in any process) for ``write``."""
        return PreparedFrame(frame, id(self))

    def prepare(self, frame: np.ndarray) -> "np.ndarray | PreparedFrame":
        """Convert ``frame`` for the encoder now, on the calling thread; pass the result to ``write``.

        The colour conversion (RGB -> the codec's YUV, swscale) is the costliest part of writing a
        frame to a movie; a pipeline that calls ``prepare`` on its worker threads leaves only the
        encoding to the thread that calls ``write``. The pixels are those ``write(frame)`` makes.
        Before the first ``write`` (which fixes the pixel format) and for image-sequence outputs
        (encoded on their own threads), ``frame`` is returned as it is. Thread-safe.
        """
        if self._pix_fmt is None or self.spec.sequence or self._closed:
            return frame
        image = check_image(frame, self.width, self.height, str(self.path), alpha=self.spec.alpha_pix_fmt is not None)
        if not self._same_channels(image):
            return frame  # ``write`` raises the error
        return self.prepared(self._to_encoder_frame(image))

    def write(self, frame: "np.ndarray | PreparedFrame", pts: int | None = None) -> None:
        """Append one frame: RGB (height, width, 3) uint8, uint16, or float32 (nominally [0, 1]),
        or what ``prepare`` made of one.

        Args:
            pts: presentation time in ``time_base`` units (default: frame index x (1/fps) / time_base);
                must increase from frame to frame.
        """
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        if isinstance(frame, PreparedFrame):
            if frame.writer != id(self):
                raise ValueError(f"{self.path}: that frame was prepared by another writer")
            image, vf = None, frame.frame
        else:
            image = check_image(frame, self.width, self.height, str(self.path),
                                alpha=self.spec.alpha_pix_fmt is not None)
            if self._pix_fmt is None:
                self.begin(image)
            elif not self._same_channels(image):
                raise ValueError(f"{self.path}: every frame must have the first frame's channels (RGB or RGBA)")
            vf = None
        if pts is None:
            pts = self._default_pts(self._count)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"{self.path}: pts must increase (got {pts} after {self._last_pts})")
        if self.spec.sequence:
            self._write_image(image, int(pts))
        else:
            vf = vf if vf is not None else self._to_encoder_frame(image)
            vf.pts = int(pts)
            vf.time_base = self.time_base
            self._write_video(vf, pts * self.time_base.numerator / self.time_base.denominator)  # = float(pts * tb)
        self._last_pts = int(pts)
        self._count += 1

    def _write_video(self, vf: av.VideoFrame, seconds: float) -> None:
        assert self._container is not None and self._stream is not None
        try:
            if self._audio is not None:
                self._audio.feed_until(seconds)
            for packet in self._stream.encode(vf):
                self._mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"writing failed ({getattr(exc, 'strerror', exc)})", self.path) from None

    def _mux(self, packet: av.Packet) -> None:
        """Mux one video packet, its decoding time made sane first. libx265 leaves the dts of a
        one-frame clip's only packet uninitialised (seen: 0, -7.6e11, 5.1e18); the MP4 muxer
        then refused to finish the file ("Not yet implemented") in most such renders after the
        first few in a process. A dts after its pts, not after the previous packet's, or more than
        ``_MAX_REORDER`` frames before its pts is no encoder's reordering: it is set to the pts
        (or just after the previous dts)."""
        pts, dts = packet.pts, packet.dts
        if pts is not None:
            if self._max_reorder is None:  # once: Fraction arithmetic per packet held the GIL
                base = packet.time_base
                self._max_reorder = _MAX_REORDER * (max(1.0, float(1 / (self.fps * base))) if base else 1.0)
            last = self._last_dts
            if dts is None or dts > pts or pts - dts > self._max_reorder or (last is not None and dts <= last):
                packet.dts = pts if last is None else last + 1
        if packet.dts is not None:
            self._last_dts = packet.dts
        assert self._container is not None
        self._container.mux(packet)

    def _write_image(self, image: np.ndarray, pts: int) -> None:
        """Queue one image file: encoded on a worker thread into its temporary name."""
        assert self._pool is not None
        if self.still:
            if self._count:
                raise OutputError("a single-image output holds one frame; write a sequence "
                                  f"(name.%04d{self.path.suffix}) or a clip for more", self.path)
            final = self.path
        else:
            assert self._pattern is not None
            final = self._pattern.path(self.first_frame_number + self._count)
        if final.resolve() in self._protected:
            raise OutputError("output frame would overwrite an input file", final)
        tmp = self._stack.enter_context(atomic_output(final))
        self.written.append(final)
        timecode = shift(self.timecode, self._count, self.fps) if self.timecode else None
        self._pending.append(self._pool.submit(self._encode_image, image.copy(), pts, tmp, final, timecode))
        while len(self._pending) > 2 * _ENCODE_THREADS:
            self._pending.popleft().result()

    def _encode_image(self, image: np.ndarray, pts: int, tmp: Path, final: Path, timecode: str | None) -> None:
        """Worker thread: convert, encode (one encoder per thread) and write one image file (with
        ``timecode`` in its header where the format has a place for it)."""
        encoded = self._encode_like_source(image)
        tags = self.photo_tags
        if encoded is None:
            encoded = self._encode_with_ffmpeg(image, pts, final)
        elif tags is not None and tags.jpeg is not None and tags.jpeg.exif is not None:
            tags = dataclasses.replace(tags, exif=tags.jpeg.exif)  # stored as the source was: its own EXIF
        try:
            data = stamp_image(encoded, final.suffix, timecode, self.fps)
            if self.still and tags:
                data = embed_photo_tags(data, final.suffix, tags)
            tmp.write_bytes(data)
        except OSError as exc:
            raise OutputError(f"cannot write ({exc.strerror})", final) from None

    def _encode_like_source(self, image: np.ndarray) -> bytes | None:
        """A still JPEG of 8-bit RGB with square pixels, from a source JPEG, encoded as the source
        was (``PhotoTags.jpeg``); None otherwise, and for tables libjpeg will not take (a 12-bit
        JPEG's), which FFmpeg's encoder then writes."""
        jpeg = self.photo_tags.jpeg if self.photo_tags is not None else None
        if (jpeg is None or not self.still or self.spec.name != "jpeg" or self.pixel_aspect != 1
                or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3):
            return None
        try:
            return encode_like(image, jpeg)
        except (OSError, ValueError):
            return None

    def _encode_with_ffmpeg(self, image: np.ndarray, pts: int, final: Path) -> bytes:
        """One image encoded by this thread's FFmpeg encoder of the writer's codec."""
        encoder = getattr(self._local, "encoder", None)
        if encoder is None:
            encoder = self._local.encoder = self._make_image_encoder()
        vf = self._to_encoder_frame(image)
        vf.pts, vf.time_base = pts, self.time_base
        try:
            packets = encoder.encode(vf)
        except (av.error.FFmpegError, ValueError) as exc:
            raise OutputError(f"encoding failed ({getattr(exc, 'strerror', exc)})", final) from None
        if len(packets) != 1:
            raise OutputError(f"{self.spec.encoder} returned {len(packets)} packets for one image", final)
        return bytes(packets[0])

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio, and rename the output(s) into place."""
        if self._closed:
            return
        try:
            if self._pix_fmt is None:
                raise OutputError("no frames were written", self.path)
            if self._container is not None:
                for packet in self._stream.encode(None):
                    self._mux(packet)
                if self._audio is not None:
                    self._audio.finish()
                self._container.close()
                self._container = None
                self.written.append(self.path)
            else:
                self._drain()
                if self.audio_from is not None and not self.still and source_has_audio(self.audio_from):
                    self._write_audio_sidecar()
        except BaseException as exc:
            self.abort(exc)
            if isinstance(exc, (av.error.FFmpegError, OSError)):
                raise OutputError(f"finishing the file failed ({getattr(exc, 'strerror', exc)})", self.path) from None
            raise
        self._closed = True
        self._stack.close()  # renames every temporary output onto its final name

    def _write_audio_sidecar(self) -> None:
        assert self._pattern is not None
        stem = self._pattern.prefix.rstrip("._-") or "audio"
        final = self._pattern.folder / f"{stem}.audio.mka"
        tmp = self._stack.enter_context(atomic_output(final))
        with av.open(str(tmp), "w", format="matroska", options={"fflags": "+bitexact"}) as out:
            copier = AudioCopier(self.audio_from, out, self.audio_range, output_path=final)
            copier.finish()
        self.written.append(final)

    def abort(self, exc: BaseException | None = None) -> None:
        """Stop and delete every temporary output; final paths stay untouched."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()
        if self._audio is not None:
            self._audio.close()
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        error = exc if exc is not None else OutputError("render aborted", self.path)
        with contextlib.suppress(BaseException):
            self._stack.__exit__(type(error), error, error.__traceback__)
        self.written.clear()


__all__ = ["CODECS", "ClipWriter", "CodecSpec", "EncoderConversion", "PreparedFrame", "resolve_codec"]
