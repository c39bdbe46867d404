"""Open a clip (container or image sequence), stream its frames, and read any frame N exactly.

How frames are found:

- Containers (mp4, mov, mkv, webm, gif, nut, avi...): on open, every video packet is demuxed
  once (no decoding: ~45 MB of ProRes in 5 ms from the page cache) to list the presentation
  timestamps; mov/mp4 with an intra-only codec (ProRes, DNxHD...) skip even that and read
  the sample table, so a long ProRes plate opens without reading its media data. Frame N is
  the N-th smallest timestamp, so ``frame_count`` is exact for any container (headers are not
  trusted) and variable frame rates are handled. ``read(N)`` seeks to the last keyframe at or
  before frame N and decodes forward to frame N's exact timestamp; if the demuxer lands after it,
  earlier keyframes are tried, and finally the start of the file. The frames are the same pixels a
  sequential decode gives (tested on the shared media and the example clip). Consecutive reads
  (scrubbing forward) reuse the decoder without seeking.
- Image sequences: one file per frame, decoded by PyAV's image codecs (see ``sequence``).

Damaged files (decided policy):

- ``open_clip`` raises ``MediaError`` when the container cannot be parsed (e.g. an mp4 cut before
  its ``moov`` index), when the header promises more frames or a longer duration than the data
  holds (an mp4 cut with its index at the front, an mkv cut short), when no packet or first
  frame decodes, or when the pixel format cannot be converted.
- Damage found only while decoding (FFmpeg fails on a packet, a frame is missing, or the
  decoder flags a frame as corrupt, i.e. concealed errors): ``frames()`` yields every good frame
  before it, then raises ``MediaError`` naming the file and the frame; ``read(N)`` raises it.
  A frame flagged corrupt right after a seek (open-GOP recovery) is retried from an earlier
  keyframe before being called damaged. Nothing hangs: decoding always moves forward or stops.

Variable frame rate: all frames are returned in presentation order, none dropped or repeated;
``info.fps`` is then the average rate and ``Clip.timestamps`` gives each frame's time, which
``ClipWriter`` can keep (see ``writer``).
"""

from __future__ import annotations

import bisect
import itertools
import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import numpy as np

from deage.errors import MediaError
from deage.video import hashing
from deage.video.animation import AnimationSource, is_animation
from deage.video.info import MUXER_TAGS, ClipInfo, as_rate, mid_gop_start, pixel_aspect_of
from deage.video.pixels import (
    UnsupportedPixelFormat,
    bit_depth,
    colour_tags,
    frame_alpha,
    frame_to_float,
    frame_to_rgb8,
    unsupported,
)
from deage.video.sequence import (
    PIXEL_ASPECT_SUFFIXES,
    SequencePattern,
    check_complete_image,
    decode_image,
    decode_image_with_aspect,
    describe_gaps,
    has_frame_pattern,
    is_image_path,
    is_numbered_file,
    parse_sequence_path,
    register_pillow_plugins,
)
from deage.video.timecode import image_timecode, timecode_of

DEFAULT_SEQUENCE_FPS = Fraction(24)


def _ffmpeg_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise MediaError("file does not exist", path)
    if path.is_dir():
        raise MediaError("is a folder, not a video file or image", path)
    if not os.access(path, os.R_OK):
        raise MediaError("file is not readable (permission denied)", path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(f"cannot read file ({exc.strerror})", path) from None
    if size == 0:
        raise MediaError("file is empty (0 bytes)", path)


def _as_fps(fps: Fraction | float | int | str | None) -> Fraction | None:
    return None if fps is None else as_rate(fps)


# --------------------------------------------------------------------------------------------
# containers


class _CorruptData(Exception):
    """FFmpeg failed to decode a packet (turned into a MediaError naming the frame)."""


class _Decoder:
    """One open container positioned for decoding its video stream."""

    def __init__(self, path: Path, stream_index: int) -> None:
        self.path = path
        self.stream_index = stream_index
        self.container: av.container.InputContainer | None = None
        self.stream: av.video.stream.VideoStream | None = None
        self.reopen()

    def reopen(self) -> None:
        self.close()
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot reopen the file ({_ffmpeg_reason(exc)})", self.path) from None
        self.stream = self.container.streams.video[self.stream_index]
        self.stream.thread_type = "AUTO"

    def seek(self, pts: int | None) -> None:
        """Position at the keyframe at or before ``pts`` (None: the very start)."""
        assert self.container is not None
        if pts is None:
            self.reopen()
            return
        try:
            self.container.seek(pts, stream=self.stream, backward=True)
        except (av.error.FFmpegError, OSError):
            self.reopen()  # demuxers that cannot seek (some gifs): start over

    def decode(self) -> Iterator[av.VideoFrame]:
        """Decoded frames from the current position; FFmpeg errors become MediaError."""
        assert self.container is not None
        try:
            for frame in self.container.decode(self.stream):
                yield frame
        except (av.error.FFmpegError, OSError) as exc:
            raise _CorruptData(_ffmpeg_reason(exc)) from None

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None


def _header_duration(container, stream, time_base: Fraction) -> int | None:
    """The video duration the container's header states, in ``time_base`` units, if it states one.

    mp4/mov: the stream duration; Matroska: the stream's DURATION tag; otherwise the container
    duration when the video is its only stream.
    """
    if stream.duration:
        return int(stream.duration)
    seconds = None
    tag = (stream.metadata or {}).get("DURATION")
    if tag:
        try:
            h, m, sec = tag.split(":")
            seconds = int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            seconds = None
    elif container.duration and len(container.streams) == 1:
        seconds = container.duration / av.time_base
    if not seconds:
        return None
    return int(Fraction(seconds).limit_denominator(10**9) / time_base)


def field_order_of(frame: av.VideoFrame, stream_field_order: int) -> str:
    """``"progressive"``, ``"tff"`` or ``"bff"`` for a decoded frame, with its stream's
    AVFieldOrder (3 and 5 are bottom field first; an interlaced frame of unknown order: top first,
    as most HD interlaced video is)."""
    if not frame.interlaced_frame:
        return "progressive"
    return "bff" if stream_field_order in (3, 5) else "tff"


def _pick_video_stream(container: av.container.InputContainer, path: Path) -> int:
    for i, stream in enumerate(container.streams.video):
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue  # cover art, not a picture stream
        return i
    raise MediaError("has no video stream", path)


class ContainerSource:
    """Frames of a video container, indexed by presentation timestamp."""

    def __init__(self, path: Path) -> None:
        _check_readable_file(path)
        self.path = path
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(
                f"cannot open as a video: corrupt, truncated or not a media file ({_ffmpeg_reason(exc)})", path
            ) from None
        try:
            self.stream_index = _pick_video_stream(container, path)
            stream = container.streams.video[self.stream_index]
            if stream.codec_context is None or not stream.codec_context.name:
                raise MediaError("video stream uses a codec this FFmpeg build cannot decode", path)
            self.codec = stream.codec_context.name
            self.time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
            self.has_audio = len(container.streams.audio) > 0
            header_frames = int(stream.frames or 0)
            header_duration = _header_duration(container, stream, self.time_base)
            rate = stream.average_rate or stream.guessed_rate
            stream_rate = Fraction(rate) if rate else None
            sample_aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
            stream_field_order = int(stream.codec_context.field_order or 0)
            self.timecode = timecode_of(container, stream)
            self.metadata = {key: str(value) for key, value in container.metadata.items()
                             if key.lower() not in MUXER_TAGS and value}
            from_index = self._index_entries(container, stream)
            if from_index is not None:
                keys, pts_list = from_index
                listed = len(pts_list)
                start_key = None
            else:
                keys, pts_list, listed, start_key = self._scan(container, stream)
        finally:
            container.close()
        self.lead_skipped = 0
        if start_key is not None:  # cut mid-GOP: what comes before the first keyframe cannot be decoded
            kept = [p for p in pts_list if p >= start_key]
            self.lead_skipped = len(pts_list) - len(kept)
            pts_list, keys = kept, [k for k in keys if k >= start_key]
            listed -= self.lead_skipped
            warnings.warn(f"{path}: the stream starts in the middle of a group of pictures; its first "
                          f"{self.lead_skipped} frame(s), before the first keyframe, cannot be decoded and "
                          "are left out (the clip and its audio start at that keyframe)", RuntimeWarning,
                          stacklevel=3)
        if not pts_list:
            raise MediaError("video stream has no frames (empty or truncated file)", path)
        self.pts = np.array(sorted(pts_list), dtype=np.int64)
        if len(np.unique(self.pts)) != len(self.pts):
            raise MediaError("video stream has duplicate timestamps (broken mux); re-mux it first", path)
        self.key_pts = sorted(set(keys)) or [int(self.pts[0])]
        self._index_of = {int(p): i for i, p in enumerate(self.pts)}
        deltas = np.diff(self.pts)
        if header_frames > listed:  # an AVI's empty packets (dropped frames) are listed, not decoded
            raise MediaError(
                f"truncated: the header lists {header_frames} frames but only {len(self.pts)} are in the file", path
            )
        if header_duration and len(deltas):
            typical = float(np.median(deltas))
            end = max(int(self.pts[-1] - self.pts[0]), int(self.pts[-1])) + typical
            if header_duration - end > max(2 * typical, 0.01 * header_duration):
                secs = float(header_duration * self.time_base)
                raise MediaError(
                    f"truncated: the header says {secs:.2f} s of video but the data stops at "
                    f"{float(end * self.time_base):.2f} s",
                    path,
                )
        self.fps, self.vfr = self._rate(stream_rate=stream_rate, deltas=deltas)
        self._ra: _Decoder | None = None
        self._ra_iter: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._ra_next = 0
        self._ra_last: tuple[int, av.VideoFrame] | None = None
        try:
            first = self.frame(0)
            self.pix_fmt = first.format.name
            self.rotation = int(round((first.rotation or 0) / 90.0)) * 90 % 360
            self.mirror = False
            self.pixel_aspect = pixel_aspect_of(sample_aspect, self.rotation)
            self.colour = colour_tags(first)
            self.field_order = field_order_of(first, stream_field_order)
            try:
                frame_to_rgb8(first, self.rotation)
            except UnsupportedPixelFormat:
                raise unsupported(self.pix_fmt, path) from None
        except BaseException:
            self.close()
            raise

    def _index_entries(self, container, stream) -> tuple[list[int], list[int]] | None:
        """mov/mp4 with an intra-only codec (ProRes, DNxHD, MJPEG, PNG...): the sample table is
        the frame list (no reordering, pts == dts), read without touching the media data.
        Returns None where this shortcut does not apply (then every packet is scanned)."""
        if "mov" not in container.format.name.split(","):
            return None
        try:
            intra = av.codec.Codec(stream.codec_context.name, "r").intra_only
        except (av.error.FFmpegError, ValueError):
            return None
        entries = stream.index_entries
        if not intra or not entries or len(entries) != stream.frames:
            return None
        kept = [e for e in entries if not e.flags & 2]  # AVINDEX_DISCARD_FRAME (edit lists)
        end = max(e.pos + e.size for e in kept) if kept else 0
        size = self.path.stat().st_size
        if end > size:
            present = sum(1 for e in kept if e.pos + e.size <= size)
            raise MediaError(
                f"truncated: the header lists {len(kept)} frames but only {present} are in the file", self.path
            )
        return [int(e.timestamp) for e in kept if e.flags & 1], [int(e.timestamp) for e in kept]

    def _scan(self, container, stream) -> tuple[list[int], list[int], int, int | None]:
        """Every packet's timestamp: (keyframe pts, frame pts, packets listed, empty ones included,
        the first keyframe's pts if the stream was cut mid-GOP (``mid_gop_start``) else None)."""
        keys: list[int] = []
        pts_list: list[int] = []
        listed = 0
        try:
            probe, packets = itertools.tee(container.demux(stream))
            start_key = mid_gop_start(probe)
            del probe
            for packet in packets:
                listed += 1
                if packet.size == 0 or packet.is_discard:
                    continue
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None:
                    raise MediaError("video packets carry no timestamps; re-mux the file (e.g. into .mkv)", self.path)
                pts_list.append(int(ts))
                if packet.is_keyframe:
                    keys.append(int(ts))
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"corrupt container ({_ffmpeg_reason(exc)})", self.path) from None
        return keys, pts_list, listed, start_key

    def _rate(self, stream_rate: Fraction | None, deltas: np.ndarray) -> tuple[Fraction, bool]:
        if len(deltas) == 0:
            return (stream_rate or Fraction(24)), False
        median = float(np.median(deltas))
        # A time base a few ticks per frame or coarser (Matroska's 1 ms) rounds each delta by up to a
        # tick; one of a tick or two a frame (AVI's 1/fps) does not: there a longer delta is a dropped
        # frame (stored as an empty packet), whose time the render keeps.
        jitter = 1.0 if median >= 3 else 0.0
        vfr = bool(np.any(np.abs(deltas - median) > max(jitter, 0.02 * median)))
        measured = 1 / (Fraction(median).limit_denominator(1_000_000) * self.time_base)
        if not vfr:
            mean = Fraction(int(self.pts[-1] - self.pts[0]), len(deltas))
            mean_rate = 1 / (mean * self.time_base)
            # A coarse time base (Matroska's 1 ms) rounds each delta: trust the stream's nominal rate
            # when either the median or the mean delta agrees with it.
            for rate in (measured, mean_rate):
                if stream_rate and abs(float(stream_rate) / float(rate) - 1) < 0.005:
                    return stream_rate, False
            return mean_rate.limit_denominator(1001 * 1000), False
        average = Fraction(len(deltas)) / (Fraction(int(self.pts[-1] - self.pts[0])) * self.time_base)
        return average.limit_denominator(1001 * 1000), True

    def __len__(self) -> int:
        return len(self.pts)

    # -- decoding ---------------------------------------------------------------------------

    def _key_at_or_before(self, pts: int) -> int | None:
        k = bisect.bisect_right(self.key_pts, pts) - 1
        return self.key_pts[k] if k >= 0 else None

    def _decode_from(self, dec: _Decoder, start: int, stop: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """(index, frame) for frames ``start..stop-1``, seeking to the right keyframe first."""
        target = int(self.pts[start])
        k = bisect.bisect_right(self.key_pts, target) - 1
        candidates: list[int | None] = [self.key_pts[i] for i in dict.fromkeys((k, k - 1, k - 4)) if i >= 0]
        candidates.append(None)  # last resort: from the start of the file
        expected = start
        try:
            for seek_pts in candidates:
                dec.seek(seek_pts)
                frames = dec.decode()
                first = None
                for frame in frames:
                    if frame.pts is None:
                        raise MediaError("decoded frames carry no timestamps; re-mux the file", self.path)
                    if frame.pts >= target:
                        first = frame
                        break
                if first is None or first.pts != target:
                    continue  # landed after the frame (or found nothing): try an earlier keyframe
                if first.is_corrupt:
                    if seek_pts is not None:
                        continue  # may be an open-GOP recovery after the seek: decode from further back
                    raise MediaError(f"frame {start} is damaged (the decoder reports corrupt data)", self.path)
                yield expected, first
                expected += 1
                for frame in frames:
                    if expected >= stop:
                        return
                    index = self._index_of.get(frame.pts) if frame.pts is not None else None
                    if index is None or index < expected:
                        continue
                    if index > expected:
                        raise MediaError(f"frame {expected} cannot be decoded (corrupt data)", self.path)
                    if frame.is_corrupt:
                        raise MediaError(f"frame {index} is damaged (the decoder reports corrupt data)", self.path)
                    yield index, frame
                    expected += 1
                if expected >= stop:
                    return
                raise MediaError(
                    f"truncated or corrupt: decoding stopped at frame {expected} of {len(self.pts)}", self.path
                )
        except _CorruptData as exc:
            raise MediaError(f"corrupt video data near frame {expected} ({exc})", self.path) from None
        raise MediaError(f"frame {start} cannot be decoded (corrupt or truncated data)", self.path)

    def iter_frames(self, start: int, stop: int) -> Iterator[av.VideoFrame]:
        if start >= stop:
            return
        dec = _Decoder(self.path, self.stream_index)
        try:
            for _, frame in self._decode_from(dec, start, stop):
                yield frame
        finally:
            dec.close()

    def frame(self, index: int) -> av.VideoFrame:
        if self._ra_last is not None and self._ra_last[0] == index:
            return self._ra_last[1]
        if self._ra is None:
            self._ra = _Decoder(self.path, self.stream_index)
        reuse = (
            self._ra_iter is not None
            and 0 < self._ra_next <= index
            and (self._key_at_or_before(int(self.pts[index])) or 0) <= int(self.pts[self._ra_next - 1])
        )
        if not reuse:
            self._ra_iter = self._decode_from(self._ra, index, len(self.pts))
        assert self._ra_iter is not None
        try:
            for i, frame in self._ra_iter:
                self._ra_next = i + 1
                if i == index:
                    self._ra_last = (i, frame)
                    return frame
        except MediaError:
            self._ra_iter = None
            self._ra_last = None
            raise
        self._ra_iter = None
        raise MediaError(f"frame {index} cannot be decoded", self.path)

    def close(self) -> None:
        self._ra_iter = None
        self._ra_last = None
        if self._ra is not None:
            self._ra.close()
            self._ra = None

    def info(self) -> ClipInfo:
        height, width = (self._first_size())
        if self.rotation in (90, 270):
            width, height = height, width
        return ClipInfo(
            path=self.path,
            width=width,
            height=height,
            frame_count=len(self.pts),
            fps=self.fps,
            time_base=self.time_base,
            pix_fmt=self.pix_fmt,
            bit_depth=bit_depth(self.pix_fmt),
            rotation=self.rotation,
            codec=self.codec,
            has_audio=self.has_audio,
            first_frame_number=0,
            is_sequence=False,
            duration=float(len(self.pts) / self.fps),
            variable_frame_rate=self.vfr,
            pixel_aspect=self.pixel_aspect,
            colour=self.colour,
            field_order=self.field_order,
            start_time=float(self.pts[0] * self.time_base),
            lead_skipped=self.lead_skipped,
            timecode=self.timecode,
            metadata=dict(self.metadata),
        )

    def _first_size(self) -> tuple[int, int]:
        first = self.frame(0)
        return first.height, first.width

    def digest(self) -> str:
        return hashing.file_digest(self.path)


# --------------------------------------------------------------------------------------------
# image sequences


_EXIF_ORIENTATION = 0x0112
_EXIF_TURNS = {1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True),
               5: (90, True), 6: (270, False), 7: (270, True), 8: (90, False)}
"""EXIF orientation -> (counter-clockwise degrees, mirrored): the stored picture is shown upright by
mirroring it left-right (when mirrored), then turning it."""


def exif_orientation(path: Path) -> tuple[int, bool]:
    """How to show an image file upright, from its EXIF orientation tag (phone photos are often
    stored sideways, some front-camera ones mirrored, with the tag saying so): (counter-clockwise
    degrees 0/90/180/270, mirror left-right first).

    Files without EXIF, or that Pillow cannot parse, are upright: (0, False); FFmpeg decodes them anyway.
    """
    from PIL import Image, UnidentifiedImageError

    register_pillow_plugins()
    try:
        with Image.open(path) as image:
            orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return 0, False
    return _EXIF_TURNS.get(orientation, (0, False))


class SequenceSource:
    """Frames of a numbered image sequence (or a single still image), turned upright by the first
    file's EXIF orientation."""

    def __init__(self, files: list[tuple[int, Path]], display: Path, fps: Fraction) -> None:
        self.files = files
        self.display = display
        self.fps = fps
        first, sample_aspect = decode_image_with_aspect(files[0][1])
        self.pix_fmt = first.format.name
        self.size = (first.width, first.height)
        self.codec = Path(files[0][1]).suffix.lower().lstrip(".")
        self.rotation, self.mirror = exif_orientation(files[0][1])
        # Only plate formats declare a pixel aspect that matters; viewers show photos with square pixels.
        self.pixel_aspect = pixel_aspect_of(sample_aspect if f".{self.codec}" in PIXEL_ASPECT_SUFFIXES else None,
                                            self.rotation)
        self._first = first

    @classmethod
    def from_pattern(cls, pattern: SequencePattern, given: Path, fps: Fraction | None) -> "SequenceSource":
        display = pattern.printf
        numbered_file = is_numbered_file(given)
        if numbered_file:
            _check_readable_file(given)
        elif not pattern.folder.is_dir():
            raise MediaError(f"folder {pattern.folder} does not exist", display)
        found = pattern.scan()
        if not found:
            raise MediaError("no files match this image sequence pattern", display)
        numbers = list(found)
        if numbers[-1] - numbers[0] + 1 != len(numbers):
            missing = numbers[-1] - numbers[0] + 1 - len(numbers)
            gaps = f"{missing} missing frame(s): {describe_gaps(numbers)} (frames {numbers[0]}-{numbers[-1]})"
            if numbered_file:
                # One numbered file among gappy siblings is a photo (IMG_1234.jpg in a camera
                # folder), not a plate: open it alone. A pattern still insists on every frame.
                warnings.warn(f"{given}: opening this image alone; its numbered siblings are no complete "
                              f"sequence ({gaps}). To open them as a sequence, give {display.name}",
                              RuntimeWarning, stacklevel=3)
                return cls.still(given, fps)
            raise MediaError(f"image sequence has {gaps}", display)
        if numbered_file and len(numbers) > 1:
            sizes = {(f.width, f.height) for f in map(decode_image, {given, found[numbers[0]], found[numbers[-1]]})}
            if len(sizes) > 1:  # photos numbered in a row (face_001.jpg, face_002.jpg...), not a plate
                warnings.warn(f"{given}: opening this image alone; its numbered siblings differ in size, so they "
                              f"are no sequence ({' and '.join(f'{w}x{h}' for w, h in sorted(sizes))})",
                              RuntimeWarning, stacklevel=3)
                return cls.still(given, fps)
        return cls(list(found.items()), display, fps or DEFAULT_SEQUENCE_FPS)

    @classmethod
    def still(cls, path: Path, fps: Fraction | None) -> "SequenceSource":
        _check_readable_file(path)
        check_complete_image(path)
        return cls([(0, path)], path, fps or DEFAULT_SEQUENCE_FPS)

    def __len__(self) -> int:
        return len(self.files)

    def frame(self, index: int) -> av.VideoFrame:
        if index == 0:
            return self._first
        return self._checked(index, decode_image(self.files[index][1]))

    def _checked(self, index: int, frame: av.VideoFrame) -> av.VideoFrame:
        if (frame.width, frame.height) != self.size:
            raise MediaError(
                f"frame is {frame.width}x{frame.height} but the sequence's first frame is "
                f"{self.size[0]}x{self.size[1]}",
                self.files[index][1],
            )
        return frame

    def iter_frames(self, start: int, stop: int) -> Iterator[av.VideoFrame]:
        """Decode ahead on two threads (FFmpeg's image decoders release the GIL)."""
        paths = [p for _, p in self.files[start:stop]]
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="deage-seq") as pool:
            for offset, frame in enumerate(_prefetch(pool, decode_image, paths, depth=4)):
                yield self._checked(start + offset, frame)

    def close(self) -> None:
        pass

    def info(self) -> ClipInfo:
        width, height = self.size[::-1] if self.rotation in (90, 270) else self.size
        return ClipInfo(
            path=self.display,
            width=width,
            height=height,
            frame_count=len(self.files),
            fps=self.fps,
            time_base=1 / self.fps,
            pix_fmt=self.pix_fmt,
            bit_depth=bit_depth(self.pix_fmt),
            rotation=self.rotation,
            mirrored=self.mirror,
            codec=self.codec,
            has_audio=False,
            first_frame_number=self.files[0][0],
            is_sequence=True,
            duration=float(len(self.files) / self.fps),
            pixel_aspect=self.pixel_aspect,
            timecode=image_timecode(self.files[0][1]),
        )

    def digest(self) -> str:
        return hashing.sequence_digest(self.files)


@dataclass(frozen=True)
class DeferredFrame:
    """A decoded frame whose RGB conversion waits until it is called (``Clip.deferred_frames``).

    Attributes:
        decoded: the frame as the decoder gave it (do not write into it: decoders keep using its
            buffers); a render encodes its edit over it where the output allows
            (``deage.video.passthrough``).
        convert: gives the RGB image (``Clip.frames`` / ``frames_float`` pixels).
        turned: the image is the decoded picture rotated or mirrored for display, not its pixels.
        alpha: gives the frame's alpha from the same decoded frame, as ``Clip.read_alpha`` would
            (float32 (H, W) in [0, 1]); None when the clip has no alpha.
    """

    decoded: av.VideoFrame
    convert: Callable[[], np.ndarray]
    turned: bool = False
    alpha: Callable[[], np.ndarray] | None = None

    def __call__(self) -> np.ndarray:
        return self.convert()


def _prefetch(pool: ThreadPoolExecutor, fn: Callable, items: list, depth: int) -> Iterator:
    pending = []
    it = iter(items)
    for item in it:
        pending.append(pool.submit(fn, item))
        if len(pending) >= depth:
            break
    while pending:
        result = pending.pop(0).result()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(pool.submit(fn, nxt))
        yield result


# --------------------------------------------------------------------------------------------
# the public clip


class Clip:
    """An open clip or image sequence. Use as a context manager, or call ``close()``.

    Frames are RGB ``uint8`` (H, W, 3) in display orientation (rotation applied); indices are
    0-based into the clip whatever the sequence's first frame number. ``frames()`` streams
    (one decoded frame in memory at a time, plus the decoder's own queue); ``read(i)`` is
    frame-accurate random access returning the same pixels ``frames()`` gives for frame i.

    Each ``frames()`` iterator opens its own decoder, so several may run at once (in threads
    too); ``read()`` shares one decoder per clip and is not thread-safe (one clip per thread).
    """

    def __init__(self, source: ContainerSource | SequenceSource | AnimationSource, *,
                 exr_linear: bool = True) -> None:
        self._source = source
        self._linear = exr_linear and source.codec == "exr"
        self.info: ClipInfo = source.info()

    # -- protocol ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.info.frame_count

    def __enter__(self) -> "Clip":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return f"<Clip {i.path} {i.width}x{i.height} {i.frame_count} frames @ {float(i.fps):.3f} fps {i.pix_fmt}>"

    def close(self) -> None:
        """Release the random-access decoder (iterators from ``frames()`` hold their own)."""
        self._source.close()

    # -- frames -----------------------------------------------------------------------------
    def _range(self, start: int, stop: int | None) -> tuple[int, int]:
        s, e, _ = slice(start, stop).indices(len(self))
        return s, max(s, e)

    def _index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{self.info.path}: frame {index} is out of range (clip has {n} frames)")
        return index % n

    def _convert(self, frame: av.VideoFrame, fn) -> np.ndarray:
        try:
            return fn(frame, self._source.rotation, linear=self._linear, mirror=self._source.mirror)
        except UnsupportedPixelFormat:
            raise unsupported(frame.format.name, self.info.path) from None

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Stream frames ``start..stop-1`` (slice semantics) as RGB uint8 (H, W, 3).

        Raises:
            MediaError: damaged data, after yielding every frame before it.
        """
        s, e = self._range(start, stop)
        for frame in self._source.iter_frames(s, e):
            yield self._convert(frame, frame_to_rgb8)

    def deferred_frames(self, start: int = 0, stop: int | None = None, *,
                        precision: bool = False) -> Iterator[Callable[[], np.ndarray]]:
        """Stream frames ``start..stop-1`` decoded but not yet converted to RGB.

        Each item is a ``DeferredFrame``: called, it gives the frame as ``frames`` (RGB uint8
        (H, W, 3)) or, with ``precision``, as ``frames_float`` (float32 RGB) would. Converting to RGB costs
        more than decoding (swscale's accurate YUV -> RGB, single-threaded): a pipeline that calls
        these on its worker threads keeps its one decoding thread free (``deage.render.render_frames``).

        Raises:
            MediaError: damaged data, after yielding every frame before it (while iterating);
                an unsupported pixel format (when called).
        """
        s, e = self._range(start, stop)
        convert = frame_to_float if precision else frame_to_rgb8
        turned = bool(self._source.rotation or self._source.mirror)
        alpha = self.info.has_alpha
        for frame in self._source.iter_frames(s, e):
            yield DeferredFrame(frame, partial(self._convert, frame, convert), turned,
                                partial(self._convert, frame, frame_alpha) if alpha else None)

    def frames_float(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Stream frames as float32 RGB (H, W, 3), nominally [0, 1] at the source's full precision.

        10/12/16-bit sources keep their precision; EXR keeps values above 1 and is sRGB-encoded
        from scene-linear unless the clip was opened with ``exr_linear=False``.
        """
        s, e = self._range(start, stop)
        for frame in self._source.iter_frames(s, e):
            yield self._convert(frame, frame_to_float)

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end) as RGB uint8 (H, W, 3), frame-accurate."""
        return self._convert(self._source.frame(self._index(index)), frame_to_rgb8)

    def read_float(self, index: int) -> np.ndarray:
        """Frame ``index`` as float32 RGB (H, W, 3), like ``frames_float``."""
        return self._convert(self._source.frame(self._index(index)), frame_to_float)

    def read_alpha(self, index: int) -> np.ndarray:
        """Frame ``index``'s alpha as float32 (H, W) in [0, 1] (1 = opaque), aligned with ``read``;
        all ones when the clip has none (``info.has_alpha``)."""
        return self._convert(self._source.frame(self._index(index)), frame_alpha)

    # -- time -------------------------------------------------------------------------------
    @property
    def timestamps(self) -> np.ndarray:
        """int64 (N,) presentation time of each frame in ``info.time_base`` units, first frame = 0.

        Constant-rate clips and sequences: ``i * (1 / fps) / time_base``. Pass these with
        ``time_base`` to ``ClipWriter`` to keep a variable-rate clip's timing.
        """
        if isinstance(self._source, (ContainerSource, AnimationSource)):
            return self._source.pts - self._source.pts[0]
        return np.arange(len(self), dtype=np.int64)

    def frame_time(self, index: int) -> float:
        """Seconds from the first frame to frame ``index`` (for audio ranges of a frame range)."""
        if index == len(self):
            return float(self.info.duration)
        return float(self.timestamps[self._index(index)] * self.info.time_base)

    # -- identity ---------------------------------------------------------------------------
    @property
    def files(self) -> tuple[Path, ...]:
        """The files the clip reads: each frame's file for a sequence, else the one container file."""
        if isinstance(self._source, SequenceSource):
            return tuple(p for _, p in self._source.files)
        return (self._source.path,)

    def content_hash(self) -> str:
        """Hex sha256 of the clip's content, for caches (see ``deage.video.hashing`` for what is sampled)."""
        return self._source.digest()


def _folder_sequence(folder: Path) -> Path:
    """The pattern of the one numbered image sequence in ``folder`` (plates handed over as a folder).

    Raises:
        MediaError: the folder holds no numbered image sequence, or several (they are named).
    """
    patterns: dict[Path, int] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file() and not entry.name.startswith("."):
                pattern = parse_sequence_path(folder / entry.name) if is_numbered_file(entry.name) else None
                if pattern is not None:
                    patterns[pattern.printf] = patterns.get(pattern.printf, 0) + 1
    if len(patterns) == 1:
        return next(iter(patterns))
    if not patterns:
        raise MediaError("is a folder without a numbered image sequence; name a video file or image in it", folder)
    names = ", ".join(f"{p.name} ({n} files)" for p, n in sorted(patterns.items()))
    raise MediaError(f"is a folder of several image sequences ({names}); name one of them", folder)


def open_clip(
    path: str | Path, *, fps: Fraction | float | None = None, exr_linear: bool = True, still: bool = False
) -> Clip:
    """Open a video file, an image sequence or a still image.

    Args:
        path: a container file (mp4, mov, mkv, webm, gif...); a sequence pattern
            (``shot.%04d.exr``, ``shot.####.exr``); one file of a numbered sequence
            (``shot.1001.exr`` opens the whole sequence; a numbered file whose siblings have
            gaps, such as a photo in a camera folder, opens alone with a warning); a folder holding
            one numbered image sequence; a still image (one frame); or an animated WebP / PNG /
            AVIF (all its frames).
        fps: frame rate of an image sequence (default 24); not allowed for containers.
        exr_linear: EXR holds scene-linear light (the VFX convention): frames are sRGB-encoded
            for display and editing. False reads EXR values as they are.
        still: open just this image file as a one-frame clip, even if its name has a frame number.

    Raises:
        MediaError: missing, unreadable, truncated or corrupt file, no video stream, unsupported
            pixel format, image sequence pattern with missing frames, a folder without exactly one
            image sequence; the message names the file.
    """
    p = Path(path)
    if p.is_dir() and not still:
        p = _folder_sequence(p)
    rate = _as_fps(fps)
    literal = has_frame_pattern(p) and p.is_file()  # a file named "shot.%04d.png" is that file
    pattern = None if still or literal else parse_sequence_path(p)
    if still and not is_image_path(p):
        raise MediaError("still=True needs an image file (.png .jpg .tif .exr .dpx .webp .bmp .heic .avif)", p)
    if pattern is not None:
        return Clip(SequenceSource.from_pattern(pattern, p, rate), exr_linear=exr_linear)
    if is_image_path(p):
        if not still and is_animation(p):
            if rate is not None:
                raise MediaError("fps can only be given for image sequences; an animation has its own timing", p)
            _check_readable_file(p)
            return Clip(AnimationSource(p), exr_linear=exr_linear)
        return Clip(SequenceSource.still(p, rate), exr_linear=exr_linear)
    if rate is not None:
        raise MediaError("fps can only be given for image sequences; a video file has its own rate", p)
    return Clip(ContainerSource(p), exr_linear=exr_linear)
