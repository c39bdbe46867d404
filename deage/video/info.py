"""``ClipInfo``: what a clip is (size, frame count, rate, pixel format...), JSON-friendly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class ColourTags:
    """How a clip's YUV code values are to be read, as FFmpeg's ``AVCOL_*`` numbers.

    A render writes its YUV output with the source's matrix and range and tags it with the
    source's primaries and transfer, so untouched pixels keep their code values and an HDR
    (HLG / PQ, BT.2020) or full-range phone clip comes back as it went in.

    Attributes:
        matrix: YUV <-> RGB matrix (AVColorSpace): 1 BT.709, 5/6 BT.601, 9 BT.2020 (the one the
            reader decoded with: a clip without a tag is read as BT.709 when HD, BT.601 when SD).
        primaries: AVColorPrimaries: 1 BT.709, 5/6 BT.601, 9 BT.2020 (untagged: 1).
        transfer: AVColorTransferCharacteristic: 1 BT.709, 16 PQ, 18 HLG (untagged: 1).
        full_range: 0..255 code values (JPEG range: MJPEG, many phones) instead of 16..235.
        tagged: the source names its matrix. An untagged clip's renders are left untagged too
            (``stream_tags``), so every decoder reads the render as it reads the source: FFmpeg's
            default conversions read untagged video as BT.601 whatever its size, players read
            it as BT.709 from 720 lines; a BT.709 tag on the render made the two disagree.
    """

    matrix: int = 1
    primaries: int = 1
    transfer: int = 1
    full_range: bool = False
    tagged: bool = True

    def stream_tags(self) -> tuple[int, int, int]:
        """(matrix, primaries, transfer) to tag an output with: an untagged source's matrix, and
        its primaries and transfer where they were the defaults, become 2 (unspecified)."""
        if self.tagged:
            return self.matrix, self.primaries, self.transfer
        return 2, 2 if self.primaries == 1 else self.primaries, 2 if self.transfer == 1 else self.transfer

    @property
    def is_hdr(self) -> bool:
        """PQ or HLG transfer."""
        return self.transfer in (16, 18)

    def describe(self) -> str:
        """One line for people: ``"BT.2020 matrix, BT.2020 primaries, HLG transfer, limited range"``."""
        def name(table: dict[int, str], value: int) -> str:
            return table.get(value, f"#{value}")

        guessed = "" if self.tagged else " (untagged: guessed from the frame size)"
        return (f"{name(_MATRICES, self.matrix)} matrix{guessed}, {name(_PRIMARIES, self.primaries)} primaries, "
                f"{name(_TRANSFERS, self.transfer)} transfer, {'full' if self.full_range else 'limited'} range")


# FFmpeg's AVCOL_* numbers (libavutil/pixfmt.h) -> names, for ColourTags.describe
_MATRICES = {0: "RGB", 1: "BT.709", 4: "FCC", 5: "BT.601 (625)", 6: "BT.601 (525)", 7: "SMPTE 240M",
             9: "BT.2020", 10: "BT.2020 (constant)"}
_PRIMARIES = {1: "BT.709", 4: "BT.470M", 5: "BT.601 (625)", 6: "BT.601 (525)", 7: "SMPTE 240M", 9: "BT.2020",
              11: "DCI-P3", 12: "Display P3"}
_TRANSFERS = {1: "BT.709", 4: "gamma 2.2", 5: "gamma 2.8", 6: "BT.601", 8: "linear", 13: "sRGB", 14: "BT.2020",
              15: "BT.2020 (12-bit)", 16: "PQ", 18: "HLG"}


def pixel_aspect_of(sample_aspect: Fraction | None, rotation: int = 0) -> Fraction:
    """A picture's pixel aspect (width / height of one pixel) from FFmpeg's sample aspect ratio
    (None or 0 = unknown = square), turned with the picture by ``rotation`` degrees."""
    aspect = Fraction(sample_aspect) if sample_aspect else Fraction(1)
    if aspect <= 0:
        aspect = Fraction(1)
    return 1 / aspect if rotation % 180 == 90 else aspect


MID_GOP_SCAN = 2000
"""Video packets read at most looking for the first keyframe (``mid_gop_start``)."""


def mid_gop_start(packets) -> int | None:
    """The pts of a video stream's first keyframe when packets come before it (a recording or a
    transport stream cut in the middle of a GOP: those frames cannot be decoded, so a clip starts
    at that keyframe, and its audio with it); None when the stream starts on a keyframe or has
    none within ``MID_GOP_SCAN`` packets. ``packets``: the stream's packets in file order
    (``container.demux(stream)``); read up to that keyframe."""
    lead = False
    for n, packet in enumerate(packets):
        if n >= MID_GOP_SCAN:
            return None
        if packet.size == 0 or packet.is_discard:
            continue
        if packet.is_keyframe:
            ts = packet.pts if packet.pts is not None else packet.dts
            return int(ts) if lead and ts is not None else None
        lead = True
    return None


def as_rate(fps: Fraction | float | int | str) -> Fraction:
    """A frame rate as an exact Fraction: floats near NTSC rates snap to them (29.97 -> 30000/1001).

    Raises:
        ValueError: not a positive number.
    """
    try:
        if isinstance(fps, float):
            ntsc = fps * 1001 / 1000
            if abs(ntsc - round(ntsc)) < 1e-3 and abs(fps - round(fps)) > 1e-3:
                value = Fraction(round(ntsc) * 1000, 1001)
            else:
                value = Fraction(fps).limit_denominator(1001 * 1000)
        else:
            value = Fraction(fps)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        raise ValueError(f"fps must be a positive number, got {fps!r}") from None
    if value <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return value


MUXER_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder", "timecode", "duration"})
"""Container tags a muxer writes of its own (lower-cased): not carried from a source into a render."""


@dataclass(frozen=True)
class ClipInfo:
    """Facts about a clip or image sequence, read when it is opened.

    Attributes:
        path: the container file, or the sequence in printf form (``shots/a.%04d.exr``).
        width, height: display size in pixels, after rotation.
        frame_count: number of frames (counted from the container's packets, not its header).
        fps: frames per second. Constant-rate clips: the exact rate (``30000/1001``);
            variable-rate clips: the average; sequences: as given to ``open_clip`` (default 24).
        time_base: the stream's time base (sequences: ``1 / fps``).
        pix_fmt: FFmpeg name of the source pixel format (``yuv420p``, ``rgb48be``, ``gbrpf16le``...).
        bit_depth: bits per component of ``pix_fmt`` (8, 10, 12, 16; 16 or 32 for float).
        rotation: counter-clockwise degrees (0, 90, 180, 270) the display matrix (or a photo's EXIF
            orientation) turns the stored picture; frames are returned already turned.
        mirrored: the stored picture is also mirrored left-right before the turn (a photo's EXIF
            orientation 2, 4, 5 or 7); frames are returned already mirrored.
        codec: FFmpeg decoder name (``h264``, ``prores``, ``exr``...).
        has_audio: the container has an audio stream (always False for sequences).
        first_frame_number: number of the first file of a sequence (1001); 0 for containers.
        is_sequence: read from numbered image files.
        duration: seconds, ``frame_count / fps``.
        variable_frame_rate: the frame intervals differ (the clip is then read frame by frame;
            writers output constant ``fps`` unless given the source timestamps).
        start_time: seconds of the first frame on the container's timeline (usually 0).
        lead_skipped: frames before the first keyframe of a stream cut mid-GOP (a DVR recording,
            a transport stream cut anywhere), which cannot be decoded: left out of the clip (which,
            and its audio, starts at that keyframe).
        pixel_aspect: width / height of one pixel of the frames as returned (after rotation):
            1 for square pixels; 2 for a 2x anamorphic plate, 4/3 for HDV 1440x1080. From the
            stream's sample aspect ratio (EXR / DPX: the file's pixel aspect); other image files
            are taken as square, as viewers show them.
        colour: the YUV matrix, range, primaries and transfer (``ColourTags``; image files and RGB
            sources: the defaults, BT.709 limited range).
        field_order: ``"progressive"``, or ``"tff"`` / ``"bff"`` for interlaced video (two fields
            a frame, top or bottom first), from the first frame; H.264 renders keep it.
        timecode: the first frame's SMPTE timecode (``"01:00:00:00"``, ``;`` before the frames
            when drop-frame) from a ``tmcd`` track or ``timecode`` tag, or a DPX / EXR sequence's
            first file's header; None if none. Renders carry it (``deage.video.timecode``).
        metadata: the container's own tags (``creation_time``, ``title``, ``location``, a camera's
            make and model...), without those a muxer writes itself (``MUXER_TAGS``); movie
            renders carry them, as FFmpeg's own transcodes do. Empty for image files.
    """

    path: Path
    width: int
    height: int
    frame_count: int
    fps: Fraction
    time_base: Fraction
    pix_fmt: str
    bit_depth: int
    rotation: int
    codec: str
    has_audio: bool
    first_frame_number: int
    is_sequence: bool
    duration: float
    variable_frame_rate: bool = False
    start_time: float = 0.0
    lead_skipped: int = 0
    mirrored: bool = False
    pixel_aspect: Fraction = Fraction(1)
    colour: ColourTags = ColourTags()
    field_order: str = "progressive"
    timecode: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-friendly dict: paths as strings, fractions as ``"num/den"`` strings plus float ``fps_float``."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        d["fps_float"] = float(self.fps)
        d["time_base"] = f"{self.time_base.numerator}/{self.time_base.denominator}"
        d["pixel_aspect"] = f"{self.pixel_aspect.numerator}/{self.pixel_aspect.denominator}"
        return d

    @property
    def has_alpha(self) -> bool:
        """The source stores an alpha channel (``pix_fmt`` ``rgba``, ``rgba64be``, ``yuva444p10le``...)."""
        from deage.video.pixels import has_alpha

        return has_alpha(self.pix_fmt)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.width, self.height
