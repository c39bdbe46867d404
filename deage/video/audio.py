"""Audio passthrough: carry a source's audio streams into an output, packet for packet where the
output's container can hold them, re-encoded where it cannot.

``AudioCopier`` reads every audio stream of a source file (a film's dialogue, music and effects
stems, or its languages) and muxes them into an output container as the video is written
(interleaved, so nothing piles up in memory), each with its language and title.

Copy or re-encode: a stream is copied untouched when the output's container takes one of its
packets (tried in memory, ``container_holds``: what FFmpeg's muxer accepts, not a table), PCM into
``.mp4`` aside (FFmpeg's muxer takes some, QuickTime and browsers play none). Otherwise (PCM in
``.mp4``, Opus or FLAC in ``.mov``, mu-law in ``.mkv``, AAC in ``.webm``...), the stream is decoded
and re-encoded, with a warning: AAC in ``.mp4`` (lossy, 128 kb/s a channel: what every player
plays), Opus in ``.webm`` (lossy, at libopus's own rate), PCM in ``.mov`` and FLAC in ``.mkv``
(lossless; 24-bit unless the source has 16 bits or fewer), at the source's sample rate and
channel layout where the encoder takes them.

Timing: time 0 of the output is the source's first video frame (its video stream's start time,
or its first keyframe where the stream was cut mid-GOP; 0 for an audio-only source). With a
range ``(start, end)`` in seconds on that same clock (as ``Clip.frame_time`` gives for a frame
range), the audio within ``[start, end)`` is kept, moved to start at 0. Copied packets are whole
(AAC: 1024 samples, ~21 ms at 48 kHz), so a copied trimmed output's audio may begin or end up to
one packet beyond the range; a re-encoded one is cut at the sample. Without a range every packet is copied, so duration and packet count equal the source's.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deage.errors import MediaError, OutputError
from deage.video.info import mid_gop_start


_KEPT_METADATA = ("language", "title", "handler_name")
"""Audio stream tags copied to the output's streams (a language a player offers by, a stem's name)."""

_PROBE_PACKETS = 5000
"""Packets read at most to find each audio stream's first one for ``container_holds``."""

_SHORT_FORMATS = ("u8", "u8p", "s16", "s16p")
"""Decoded sample formats of 16 bits or fewer: re-encoded to 16-bit PCM / FLAC, others to 24-bit."""

_USUAL_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
"""FFmpeg's default layout for a channel count, for sources whose channels have no names."""

GAP_SECONDS = 0.002
"""A jump in a re-encoded stream's timestamps longer than this is filled with silence (shorter
ones are the container's rounding: Matroska stores milliseconds)."""

REENCODE_PREROLL = 1.0
"""Seconds of audio before a range decoded for a re-encode (decoders settle over a few packets);
the rest before, and all after, is skipped, not decoded."""

AAC_BIT_RATE = 128_000
"""AAC bit rate per channel when audio is re-encoded for ``.mp4`` (transparent for most material)."""


_MP4_FAMILY = frozenset({"mp4", "ipod", "3gp", "3g2", "ismv", "psp", "f4v"})
"""FFmpeg muxers of MP4 files, where players expect AAC (or MP3, AC-3...), never PCM."""


def _is_mp4(format_name: str) -> bool:
    return not _MP4_FAMILY.isdisjoint(format_name.split(","))


def container_holds(format_name: str, stream: av.audio.stream.AudioStream, packet: av.Packet) -> bool:
    """True when an output of ``format_name`` (``output.format.name``: "mp4", "mov", "matroska")
    takes ``stream``'s packets copied as they are: one ``packet`` of it is muxed into an in-memory
    file of that format, header and trailer included (``.mp4`` refuses PCM only at its trailer).
    ``packet`` is used up (its stream is reassigned)."""
    try:
        with av.open(io.BytesIO(), "w", format=format_name) as probe:
            out = probe.add_stream_from_template(stream)
            packet.stream = out
            probe.mux(packet)
        return True
    except (av.error.FFmpegError, ValueError, OSError):
        return False


def reencode_codec(format_name: str, sample_format: str) -> tuple[str, str]:
    """(encoder, its sample format) for audio that cannot be copied into ``format_name``:
    AAC for MP4-family files, PCM for QuickTime, Opus for WebM, FLAC for Matroska and anything else;
    16-bit for ``sample_format``s of 16 bits or fewer, else 24 (in 32-bit words)."""
    short = sample_format in _SHORT_FORMATS
    names = format_name.split(",")
    if "webm" in names:
        return "libopus", "flt"
    if "mov" in names:
        return ("pcm_s16le", "s16") if short else ("pcm_s24le", "s32")
    if _is_mp4(format_name):
        return "aac", "fltp"
    return "flac", "s16" if short else "s32"


def _video_origin(source: Path, container: av.container.InputContainer) -> float:
    """Seconds of the source's first decodable video frame on its timeline: its video stream's
    start, or its first keyframe where the stream was cut mid-GOP (``mid_gop_start``, as the reader
    starts the clip there); 0 for an audio-only source."""
    video = [s for s in container.streams.video if s.start_time is not None]
    if not video:
        return 0.0
    stream = video[0]
    try:
        with av.open(str(source), metadata_errors="ignore") as probe:
            start = mid_gop_start(probe.demux(probe.streams[stream.index]))
    except (av.error.FFmpegError, OSError):
        start = None  # the reader reports a damaged stream itself
    return float((start if start is not None else stream.start_time) * stream.time_base)


def _first_packets(source: Path, indices: set[int]) -> dict[int, av.Packet]:
    """The first non-empty packet of each audio stream in ``indices`` (a fresh reader of ``source``)."""
    found: dict[int, av.Packet] = {}
    with av.open(str(source), metadata_errors="ignore") as c:
        streams = [s for s in c.streams.audio if s.index in indices]
        for n, packet in enumerate(c.demux(streams)):
            if packet.size and packet.stream.index not in found:
                found[packet.stream.index] = packet
            if len(found) == len(indices) or n >= _PROBE_PACKETS:
                break
    return found


class _Reencode:
    """One audio stream decoded, cut to the range at the sample, and encoded into ``output``.

    Positions are counted in samples at the output rate from the output's time 0: the first decoded
    frame's time places the stream (an audio track starting after the picture keeps its offset),
    every later sample follows the one before, and a jump in the decoded frames' timestamps longer
    than ``GAP_SECONDS`` (a dropped packet, a gap in the recording) is filled with silence."""

    def __init__(self, stream, output: av.container.OutputContainer, codec: str, sample_format: str,
                 start: float, end: float, source_name: str, output_path: Path) -> None:
        cc = stream.codec_context
        self.decoder = cc
        rate = int(cc.sample_rate or 48000)
        supported = av.codec.Codec(codec, "w").audio_rates
        if supported and rate not in supported:
            rate = 48000 if 48000 in supported else max(supported)
        layout, frame_size = self._layout(codec, sample_format, rate, cc)
        if layout is None:
            raise OutputError(f"cannot re-encode the {cc.name} audio of {source_name} as {codec} "
                              f"({cc.channels} channels)", output_path)
        try:
            self.out = output.add_stream(codec, rate=rate, layout=layout)
            self.out.codec_context.format = sample_format
            if codec == "aac":
                self.out.codec_context.bit_rate = min(AAC_BIT_RATE * self.out.codec_context.channels, 512_000)
        except (av.error.FFmpegError, ValueError) as exc:
            raise OutputError(f"cannot re-encode the {cc.name} audio of {source_name} as {codec} "
                              f"({exc})", output_path) from None
        self.rate = rate
        self.layout = layout
        self.start = start
        self.limit = math.inf if math.isinf(end) else round((end - start) * rate)  # samples kept: [0, limit)
        self._planar = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._encoder_in = av.AudioResampler(format=sample_format, layout=layout, rate=rate, frame_size=frame_size)
        self.skipped = 0
        self._expected: int | None = None  # output sample where the next decoded frame should start
        self._position: int | None = None  # output sample of the next resampled sample
        self._next_pts: int | None = None
        self._time_base = Fraction(1, rate)

    @staticmethod
    def _layout(codec: str, sample_format: str, rate: int, cc) -> tuple[str | None, int | None]:
        """(layout, the encoder's frame size or None): the source's channel layout if the encoder
        opens with it, else the usual layout for its channel count (a WAV's or Matroska PCM's
        "2 channels" is stereo), else stereo; (None, None) if none opens."""
        named = cc.layout.name if cc.layout and cc.layout.nb_channels else ""
        channels = cc.channels or 2
        for layout in dict.fromkeys(x for x in (named, _USUAL_LAYOUTS.get(channels), "stereo") if x):
            try:
                probe = av.CodecContext.create(codec, "w")
                probe.sample_rate, probe.layout, probe.format = rate, layout, sample_format
                probe.open()
                return layout, probe.frame_size or None
            except (av.error.FFmpegError, ValueError):
                continue
        return None, None

    def push(self, packet: av.Packet | None) -> list[av.Packet]:
        """Decode ``packet`` (None: flush) and return the encoded packets ready to mux. Where the
        decoded frames' timestamps jump ahead (a damaged packet the decoder refused or dropped, a gap
        in the recording), silence fills the gap, so what follows stays in time; ``skipped`` counts
        the packets the decoder refused."""
        planar = []
        try:
            frames = self.decoder.decode(packet)
        except av.error.InvalidDataError:
            if packet is None:
                raise
            frames = []
            self.skipped += 1
        for frame in frames:
            if frame.pts is not None and frame.time_base is not None:
                at = round((float(frame.pts * frame.time_base) - self.start) * self.rate)
                if self._position is None:
                    self._position = at  # the first frame places the stream
                elif self._expected is not None and at - self._expected > GAP_SECONDS * self.rate:
                    planar.append(self._silence(at - self._expected))
                self._expected = at + round(frame.samples * self.rate / (frame.sample_rate or self.rate))
            planar.extend(self._planar.resample(frame))
        if packet is None:
            planar.extend(self._planar.resample(None))
        encoded = []
        for frame in planar:
            kept = self._cut(frame)
            for ready in self._encoder_in.resample(kept) if kept is not None else ():
                encoded.extend(self._encode(ready))
        if packet is None:
            for ready in self._encoder_in.resample(None):
                encoded.extend(self._encode(ready))
            encoded.extend(self.out.encode(None))
        return encoded

    def _silence(self, samples: int) -> av.AudioFrame:
        silence = av.AudioFrame.from_ndarray(np.zeros((av.AudioLayout(self.layout).nb_channels, samples), np.float32),
                                             format="fltp", layout=self.layout)
        silence.sample_rate = self.rate
        return silence

    def _cut(self, frame: av.AudioFrame) -> av.AudioFrame | None:
        """The part of a planar frame inside [0, limit) on the output clock, or None."""
        first = self._position if self._position is not None else 0
        self._position = first + frame.samples
        lo, hi = max(0, -first), min(frame.samples, self.limit - first)
        if hi <= lo:
            return None
        if self._next_pts is None:
            self._next_pts = first + lo
        cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(frame.to_ndarray()[:, lo:hi]), format="fltp",
                                         layout=self.layout)
        cut.sample_rate = self.rate
        return cut

    def _encode(self, frame: av.AudioFrame) -> list[av.Packet]:
        frame.pts = self._next_pts
        frame.time_base = self._time_base
        self._next_pts += frame.samples
        return self.out.encode(frame)


class AudioCopier:
    """Carries every audio stream of ``source`` into ``output`` (an open ``av`` output container),
    in the source's order, each with its ``language`` / ``title`` tags: copied where the container
    holds the stream's codec, re-encoded (with a warning) where it does not.

    Create it before the first packet is muxed into ``output`` (it adds the streams). ``active`` is
    False when the source has no audio stream (then every method does nothing). ``output_path``
    is the name errors and warnings report (the final name, not a temporary one).
    ``reencoded`` lists (stream index, source codec, encoder) for each re-encoded stream.

    Raises:
        MediaError: the source is missing or unreadable.
        OutputError: one of the source's audio streams can be neither copied nor re-encoded.
    """

    def __init__(
        self,
        source: str | Path,
        output: av.container.OutputContainer,
        range_s: tuple[float, float] | None = None,
        output_path: str | Path | None = None,
    ) -> None:
        self.source = Path(source)
        self.output = output
        self.output_path = Path(output_path) if output_path is not None else Path(output.name)
        self.active = False
        self.packets_copied = 0
        self.reencoded: list[tuple[int, str, str]] = []
        if not self.source.is_file():
            raise MediaError("audio source does not exist", self.source)
        try:
            self._in = av.open(str(self.source), metadata_errors="ignore")
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot open audio source ({getattr(exc, 'strerror', exc)})", self.source) from None
        streams = list(self._in.streams.audio)
        if not streams:
            self._in.close()
            return
        self.active = True
        origin = _video_origin(self.source, self._in)
        if range_s is not None:
            start, end = float(range_s[0]), float(range_s[1])
            if not (math.isfinite(start) and end > start):
                raise ValueError(f"audio_range must be (start, end) seconds with end > start, got {range_s}")
        else:
            start, end = 0.0, math.inf
        self._start = origin + start
        self._end = origin + end
        self._trim = range_s is not None
        self._routes: dict[int, tuple[av.stream.Stream, int, int, int]] = {}  # index -> (out, tb num, den, shift)
        self._reencoders: dict[int, _Reencode] = {}
        try:
            self._add_streams(streams)
        except BaseException:
            self.close()
            raise
        self._packets: Iterator[av.Packet] = self._demux(streams)
        self._pending: av.Packet | None = None

    def _add_streams(self, streams: list) -> None:
        fmt = self.output.format.name
        try:
            firsts = _first_packets(self.source, {s.index for s in streams})
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"corrupt audio data ({getattr(exc, 'strerror', exc)})", self.source) from None
        for stream in streams:
            tb = stream.time_base
            first = firsts.get(stream.index)
            # FFmpeg's MP4 muxer takes some PCM (ISO 23003-5), which QuickTime and browsers do not play
            playable = not (_is_mp4(fmt) and stream.codec_context.name.startswith("pcm_"))
            if first is None or playable and container_holds(fmt, stream, first):
                try:
                    out = self.output.add_stream_from_template(stream)
                except (av.error.FFmpegError, ValueError) as exc:
                    raise OutputError(
                        f"cannot copy the {stream.codec_context.name} audio of {self.source.name} into this "
                        f"file type ({exc})", self.output_path) from None
                self._routes[stream.index] = (out, tb.numerator, tb.denominator, round(self._start / tb))
            else:
                codec, sample_format = reencode_codec(fmt, stream.codec_context.format.name
                                                      if stream.codec_context.format else "fltp")
                route = _Reencode(stream, self.output, codec, sample_format, self._start, self._end,
                                  self.source.name, self.output_path)
                out = route.out
                self._reencoders[stream.index] = route
                self._routes[stream.index] = (out, tb.numerator, tb.denominator, 0)
                self.reencoded.append((stream.index, stream.codec_context.name, codec))
                kind = ("lossless" if codec.startswith(("pcm", "flac")) else
                        f"lossy, {out.codec_context.bit_rate // 1000} kb/s" if out.codec_context.bit_rate else "lossy")
                reason = "cannot be stored in" if playable else "does not play in"
                warnings.warn(
                    f"{self.output_path}: the source's {stream.codec_context.name} audio (stream {stream.index}) "
                    f"{reason} {self.output_path.suffix or fmt} files; re-encoded as {codec} ({kind}, "
                    f"{route.rate} Hz {route.layout})", stacklevel=2)
            for key in _KEPT_METADATA:
                if stream.metadata.get(key):
                    out.metadata[key] = stream.metadata[key]

    def _demux(self, streams: list) -> Iterator[av.Packet]:
        try:
            for packet in self._in.demux(streams):
                if packet.size == 0 or packet.dts is None and packet.pts is None:
                    continue
                yield packet
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"corrupt audio data ({getattr(exc, 'strerror', exc)})", self.source) from None

    def _keep(self, packet: av.Packet, preroll: float = 0.0) -> bool:
        """Whether a packet overlaps the range (widened at its start by ``preroll`` seconds)."""
        if not self._trim:
            return True
        ts = packet.pts if packet.pts is not None else packet.dts
        t = self._seconds(packet, ts)
        return t + self._seconds(packet, packet.duration or 0) > self._start - preroll and t < self._end

    def _mux(self, packet: av.Packet) -> None:
        index = packet.stream.index
        if index in self._reencoders:
            try:
                encoded = self._reencoders[index].push(packet)
            except (av.error.FFmpegError, ValueError) as exc:
                raise MediaError(f"corrupt audio data ({getattr(exc, 'strerror', exc)})", self.source) from None
            self._write(encoded)
            return
        out, _, _, shift = self._routes[index]
        if shift:
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        packet.stream = out
        self._write([packet])

    def _write(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            try:
                self.output.mux(packet)
            except (av.error.FFmpegError, OSError) as exc:
                raise OutputError(
                    f"cannot store the {packet.stream.codec_context.name} audio in this file type "
                    f"({getattr(exc, 'strerror', exc)})",
                    self.output_path,
                ) from None
            self.packets_copied += 1

    def _seconds(self, packet: av.Packet, ts: int) -> float:
        """``float(ts * time_base)`` of ``packet``'s stream, in integers (no ``Fraction`` objects)."""
        _, num, den, _ = self._routes[packet.stream.index]
        return ts * num / den

    def feed_until(self, seconds: float) -> None:
        """Mux the packets that start at or before ``seconds`` on the output clock."""
        if not self.active:
            return
        limit = self._start + seconds
        while True:
            packet = self._pending if self._pending is not None else next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            ts = packet.pts if packet.pts is not None else packet.dts
            if self._seconds(packet, ts) > limit:
                self._pending = packet
                return
            if self._keep(packet, REENCODE_PREROLL if packet.stream.index in self._reencoders else 0.0):
                self._mux(packet)

    def finish(self) -> None:
        """Mux every remaining packet (within the range), flush the re-encoders and close the source."""
        if not self.active:
            return
        self.feed_until(math.inf)
        for index, route in self._reencoders.items():
            try:
                self._write(route.push(None))
            except (av.error.FFmpegError, ValueError) as exc:
                raise MediaError(f"corrupt audio data ({getattr(exc, 'strerror', exc)})", self.source) from None
            if route.skipped:
                warnings.warn(f"{self.source}: {route.skipped} damaged packet(s) of audio stream {index} could not "
                              "be decoded; silence stands in for them", RuntimeWarning, stacklevel=2)
        self.close()

    def close(self) -> None:
        if self.active:
            self._in.close()
            self.active = False


def source_has_audio(path: str | Path) -> bool:
    """True when ``path`` opens and has at least one audio stream."""
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            return len(c.streams.audio) > 0
    except (av.error.FFmpegError, OSError):
        return False
