"""Audio passthrough: copy a source's audio streams' packets into an output, untouched (no re-encode).

``AudioCopier`` reads every audio stream of a source file (a film's dialogue, music and effects
stems, or its languages) and muxes their packets into an output container as the video is
written (interleaved, so nothing piles up in memory), each with its language and title.

Timing: time 0 of the output is the source's first video frame (its video stream's start time;
0 for an audio-only source). With a range ``(start, end)`` in seconds on that same clock (as
``Clip.frame_time`` gives for a frame range), the packets overlapping ``[start, end)`` are kept
and shifted by ``-start``; packets are whole (AAC: 1024 samples, ~21 ms at 48 kHz), so a trimmed
output's audio may begin or end up to one packet beyond the range. Without a range every packet
is copied, so duration and packet count equal the source's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import av

from deage.errors import MediaError, OutputError


_KEPT_METADATA = ("language", "title", "handler_name")
"""Audio stream tags copied to the output's streams (a language a player offers by, a stem's name)."""


class AudioCopier:
    """Copies every audio stream of ``source`` into ``output`` (an open ``av`` output container),
    in the source's order, each with its ``language`` / ``title`` tags.

    Create it before the first packet is muxed into ``output`` (it adds the streams). ``active`` is
    False when the source has no audio stream (then every method does nothing). ``output_path``
    is the name errors report (the final name, not a temporary one).

    Raises:
        MediaError: the source is missing or unreadable.
        OutputError: the output's container cannot hold one of the source's audio codecs.
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
        origin = 0.0
        video = [s for s in self._in.streams.video if s.start_time is not None]
        if video:
            origin = float(video[0].start_time * video[0].time_base)
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
        for stream in streams:
            try:
                out = output.add_stream_from_template(stream)
            except (av.error.FFmpegError, ValueError) as exc:
                self._in.close()
                self.active = False
                raise OutputError(
                    f"cannot copy the {stream.codec_context.name} audio of {self.source.name} into this file type "
                    f"({exc}); write .mov or .mkv, or leave the audio out",
                    self.output_path,
                ) from None
            for key in _KEPT_METADATA:
                if stream.metadata.get(key):
                    out.metadata[key] = stream.metadata[key]
            tb = stream.time_base
            self._routes[stream.index] = (out, tb.numerator, tb.denominator, round(self._start / tb))
        self._packets: Iterator[av.Packet] = self._demux(streams)
        self._pending: av.Packet | None = None

    def _demux(self, streams: list) -> Iterator[av.Packet]:
        try:
            for packet in self._in.demux(streams):
                if packet.size == 0 or packet.dts is None and packet.pts is None:
                    continue
                yield packet
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"corrupt audio data ({getattr(exc, 'strerror', exc)})", self.source) from None

    def _keep(self, packet: av.Packet) -> bool:
        if not self._trim:
            return True
        ts = packet.pts if packet.pts is not None else packet.dts
        t = self._seconds(packet, ts)
        return t + self._seconds(packet, packet.duration or 0) > self._start and t < self._end

    def _mux(self, packet: av.Packet) -> None:
        out, _, _, shift = self._routes[packet.stream.index]
        if shift:
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        packet.stream = out
        try:
            self.output.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(
                f"cannot store the source's {out.codec_context.name} audio in this file type "
                f"({getattr(exc, 'strerror', exc)}); use .mov or .mkv",
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
            if self._keep(packet):
                self._mux(packet)

    def finish(self) -> None:
        """Mux every remaining packet (within the range) and close the source."""
        if not self.active:
            return
        self.feed_until(math.inf)
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
