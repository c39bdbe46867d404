"""deage.video: reading, frame-accurate seeking, writing, audio passthrough and bad input.

All pixels come from real faces: the example clip (scikit-image's astronaut, see
examples/make_example_clip.py) and the shared real test media (skipped when absent).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import warnings
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deage.errors import MediaError, OutputError
from deage.video import ClipWriter, open_clip
from deage.video.audio import container_holds
from deage.video.info import ColourTags
from deage.video.photo_tags import read_photo_tags
from deage.video.pixels import linear_to_srgb, srgb_to_linear
from deage.video.sequence import describe_gaps, is_sequence_path, parse_sequence_path

from mediahelpers import encode_clip

# ---------------------------------------------------------------------------------------------
# helpers


def digest(frame: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def audio_stats(path: Path) -> tuple[int, float]:
    """(packet count, seconds from the first packet's start to the last packet's end) of the first audio stream."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        packets = [(p.pts, p.duration) for p in c.demux(s) if p.size]
        time_base = s.time_base
    start = packets[0][0]
    end = packets[-1][0] + packets[-1][1]
    return len(packets), float((end - start) * time_base)


def audio_packet_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        p = next(p for p in c.demux(s) if p.size)
        return float(p.duration * s.time_base)


def one_line_naming(exc: pytest.ExceptionInfo, path: Path | str) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    assert Path(path).name in message, message
    return message


@pytest.fixture(scope="module")
def example_frames(example_clip) -> list[np.ndarray]:
    """The first 12 frames of the example clip, RGB uint8 1280x720."""
    with open_clip(example_clip) as clip:
        return list(clip.frames(0, 12))


@pytest.fixture(scope="module")
def small_frames(example_frames) -> list[np.ndarray]:
    """Six real-face frames scaled to 320x180 (for format tests where size does not matter)."""
    return [cv2.resize(f, (320, 180), interpolation=cv2.INTER_AREA) for f in example_frames[:6]]


# ---------------------------------------------------------------------------------------------
# reading


def test_example_clip_info(example_clip):
    with open_clip(example_clip) as clip:
        info = clip.info
        assert (info.width, info.height) == (1280, 720)
        assert info.fps == 24 and info.frame_count == 48 == len(clip)
        assert info.codec == "h264" and info.pix_fmt == "yuv420p" and info.bit_depth == 8
        assert info.has_audio and not info.is_sequence and info.rotation == 0
        assert info.duration == pytest.approx(2.0)
        assert not info.variable_frame_rate
        d = json.loads(json.dumps(info.to_dict()))
        assert d["fps"] == "24/1" and d["frame_count"] == 48 and d["path"] == str(example_clip)
        frame = clip.read(0)
        assert frame.dtype == np.uint8 and frame.shape == (720, 1280, 3)
    count, seconds = audio_stats(example_clip)
    assert seconds == pytest.approx(2.0, abs=audio_packet_seconds(example_clip))


def _check_seek_matches_sequential(path: Path, picks: int = 14) -> None:
    with open_clip(path) as clip:
        n = len(clip)
        sequential = [digest(f) for f in clip.frames()]
        assert len(sequential) == n
        indices = sorted({0, 1, n // 2, n // 2 + 1, n - 2, n - 1, *random.Random(7).sample(range(n), min(picks, n))})
        order = indices[::-1] + indices  # backwards (a seek every time), then forwards (decoder reused)
        for i in order:
            assert digest(clip.read(i)) == sequential[i], f"{path.name}: read({i}) differs from frame {i}"
        # a streamed sub-range starting mid-clip equals the same frames of the full decode
        a, b = n // 3, n // 3 + 5
        assert [digest(f) for f in clip.frames(a, b)] == sequential[a:b]
        assert digest(clip.read(-1)) == sequential[-1]


def test_sought_frames_equal_sequential_example(example_clip):
    _check_seek_matches_sequential(example_clip)


@pytest.mark.parametrize("name", ["driving_d0.mp4", "driving_d12.mp4", "source_s18.mp4"])
def test_sought_frames_equal_sequential_real_media(shared_media, name):
    _check_seek_matches_sequential(shared_media / name, picks=10)


def test_real_media_info(shared_media):
    with open_clip(shared_media / "source_s18.mp4") as clip:
        assert (clip.info.width, clip.info.height, clip.info.frame_count) == (1280, 720, 282)
        assert clip.info.fps == 30 and clip.info.has_audio
    with open_clip(shared_media / "driving_d0.mp4") as clip:
        assert (clip.info.width, clip.info.height, clip.info.frame_count) == (512, 512, 78)
        assert clip.info.fps == 25 and not clip.info.has_audio


def test_read_out_of_range(example_clip):
    with open_clip(example_clip) as clip:
        with pytest.raises(IndexError):
            clip.read(len(clip))
        assert list(clip.frames(46, 100)).__len__() == 2  # slice semantics


def test_rotation_from_display_matrix(tmp_path, small_frames):
    """A clip whose container says 'turn 90 degrees' is returned turned, with display size."""
    raw = small_frames[0]  # 320x180 stored
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264rgb", rate=24)
        s.width, s.height, s.pix_fmt = 320, 180, "bgr24"
        s.options = {"qp": "0"}
        s.set_display_rotation(90)
        for i in range(3):
            f = av.VideoFrame.from_ndarray(raw, format="rgb24").reformat(format="bgr24")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    with open_clip(path) as clip:
        assert clip.info.rotation == 90
        assert (clip.info.width, clip.info.height) == (180, 320)
        frame = clip.read(1)
        assert frame.shape == (320, 180, 3)
        np.testing.assert_array_equal(frame, np.rot90(raw, 1))


def _encode(path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, rate=Fraction(12), options=None):
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        s.options = options or {}
        _mux_video(out, s, frames)


def _mux_video(out, stream, frames: list[np.ndarray], pts: list[int] | None = None) -> None:
    """Encode RGB uint8 ``frames`` into ``stream`` (converted to its pixel format) at ``pts``
    (default 0, 1, 2...) and mux them, flushing at the end."""
    for ts, image in zip(range(len(frames)) if pts is None else pts, frames):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=stream.pix_fmt)
        frame.pts = ts
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


@pytest.mark.parametrize(
    "name,codec,pix_fmt,options",
    [
        ("clip.webm", "libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8", "g": "4"}),
        ("clip.mkv", "libx264", "yuv420p", {"g": "3", "preset": "ultrafast"}),
        ("clip.mov", "prores_ks", "yuv422p10le", {}),
        ("clip.gif", "gif", "rgb8", {}),
    ],
)
def test_other_containers(tmp_path, small_frames, name, codec, pix_fmt, options):
    path = tmp_path / name
    frames = small_frames * 2  # 12 frames
    _encode(path, frames, codec, pix_fmt, options=options)
    with open_clip(path) as clip:
        assert clip.info.frame_count == 12 and (clip.info.width, clip.info.height) == (320, 180)
        sequential = [digest(f) for f in clip.frames()]
        for i in (11, 0, 7, 3, 4, 10):
            assert digest(clip.read(i)) == sequential[i]
        if codec != "gif":  # gif is a 256-colour palette: only check it decodes to the right size
            assert psnr(clip.read(5), frames[5]) > 28


def test_variable_frame_rate_is_read_and_kept(tmp_path, small_frames):
    times_ms = [0, 40, 80, 200, 240, 400, 433, 466]
    src = tmp_path / "vfr.mkv"
    with ClipWriter(src, fps=25, width=320, height=180, codec="ffv1", time_base=Fraction(1, 1000)) as w:
        for t, f in zip(times_ms, small_frames + small_frames):
            w.write(f, pts=t)
    with open_clip(src) as clip:
        assert clip.info.variable_frame_rate
        assert clip.info.frame_count == len(times_ms)
        assert [round(clip.frame_time(i) * 1000) for i in range(len(clip))] == times_ms
        sequential = [digest(f) for f in clip.frames()]
        assert [digest(clip.read(i)) for i in (7, 2, 5)] == [sequential[7], sequential[2], sequential[5]]
        # timestamps pass through a writer
        out = tmp_path / "vfr_copy.mkv"
        with ClipWriter(out, fps=clip.info.fps, width=320, height=180, codec="ffv1",
                        time_base=clip.info.time_base, inputs=(src,)) as w:
            for f, pts in zip(clip.frames(), clip.timestamps):
                w.write(f, pts=int(pts))
    with open_clip(out) as copy:
        assert [round(copy.frame_time(i) * 1000) for i in range(len(copy))] == times_ms


def test_frames_float_keeps_ten_bits(tmp_path, example_frames):
    """ProRes is 10-bit: frames_float has finer steps than 8-bit frames."""
    path = tmp_path / "deep.mov"
    gradient = np.linspace(0.2, 0.3, 320, dtype=np.float32)[None, :, None].repeat(180, 0).repeat(3, 2)
    with ClipWriter(path, fps=24, width=320, height=180) as w:
        w.write(gradient)
    with open_clip(path) as clip:
        assert clip.info.pix_fmt == "yuv422p10le" and clip.info.bit_depth == 10
        f = next(clip.frames_float())
        assert f.dtype == np.float32
        levels = np.unique(f[90, :, 1])
        assert len(levels) > 1.5 * len(np.unique(clip.read(0)[90, :, 1]))
        assert np.abs(f - gradient).max() < 2 / 255


def test_content_hash(tmp_path, example_clip):
    a = tmp_path / "a.mp4"
    shutil.copyfile(example_clip, a)
    with open_clip(example_clip) as c1, open_clip(a) as c2:
        h = c1.content_hash()
        assert len(h) == 64 and h == c1.content_hash() == c2.content_hash()
    data = bytearray(a.read_bytes())
    data[len(data) // 2] ^= 0xFF
    a.write_bytes(bytes(data))
    with open_clip(a) as c3:
        assert c3.content_hash() != h


# ---------------------------------------------------------------------------------------------
# writing: round trips


def test_lossless_round_trip_with_audio(tmp_path, example_clip):
    """read -> write (h264-lossless) -> read gives identical pixels, timing and audio packets."""
    out = tmp_path / "identity.mp4"
    with open_clip(example_clip) as clip:
        info = clip.info
        source = [digest(f) for f in clip.frames()]
        with ClipWriter(out, fps=info.fps, width=info.width, height=info.height, codec="h264-lossless",
                        audio_from=example_clip, inputs=(example_clip,), options={"preset": "ultrafast"}) as w:
            for f in clip.frames():
                w.write(f)
        times = [clip.frame_time(i) for i in range(len(clip))]
    with open_clip(out) as back:
        assert back.info.frame_count == info.frame_count
        assert back.info.fps == info.fps and (back.info.width, back.info.height) == (info.width, info.height)
        assert [back.frame_time(i) for i in range(len(back))] == times
        assert [digest(f) for f in back.frames()] == source
        assert back.info.has_audio
    src_count, src_seconds = audio_stats(example_clip)
    out_count, out_seconds = audio_stats(out)
    assert out_count == src_count
    assert out_seconds == pytest.approx(src_seconds, abs=audio_packet_seconds(example_clip))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_lossy_h264_round_trip(tmp_path, example_clip, example_frames):
    out = tmp_path / "lossy.mp4"
    with ClipWriter(out, fps=24, width=1280, height=720, audio_from=example_clip,
                    audio_range=(0.0, 12 / 24), options={"preset": "veryfast"}) as w:
        for f in example_frames:
            w.write(f)
    with open_clip(out) as back:
        assert back.info.frame_count == 12 and back.info.fps == 24 and back.info.codec == "h264"
        assert [back.frame_time(i) for i in range(12)] == [i / 24 for i in range(12)]  # B-frames, same times
        values = [psnr(a, b) for a, b in zip(back.frames(), example_frames)]
    assert min(values) > 40, values
    count, seconds = audio_stats(out)
    assert seconds == pytest.approx(0.5, abs=2 * audio_packet_seconds(example_clip))


@pytest.mark.parametrize("name", ["web.webm", "phone.m4v"])
def test_webm_and_m4v_outputs(tmp_path, example_clip, example_frames, name):
    """A .webm render is VP9 with its AAC audio re-encoded as Opus (WebM holds nothing else), in
    time with the picture; a .m4v is H.264 in MP4 with the audio copied (it was refused)."""
    out = tmp_path / name
    expect_warning = pytest.warns(UserWarning, match="aac audio.*re-encoded as libopus") if name.endswith(".webm") \
        else warnings.catch_warnings()
    with expect_warning:
        if not name.endswith(".webm"):
            warnings.simplefilter("error")
        with ClipWriter(out, fps=24, width=1280, height=720, audio_from=example_clip,
                        audio_range=(0.0, 12 / 24)) as w:
            for f in example_frames:
                w.write(f)
    with open_clip(out) as back:
        assert back.info.codec == ("vp9" if name.endswith(".webm") else "h264")
        assert back.info.frame_count == 12 and back.info.fps == 24
        assert [back.frame_time(i) for i in range(12)] == pytest.approx([i / 24 for i in range(12)], abs=0.001)  # WebM: ms
        values = [psnr(a, b) for a, b in zip(back.frames(), example_frames)]
    assert min(values) > 38, values
    codec, rate, got = _decoded_audio(out)
    _, _, source = _decoded_audio(example_clip)
    assert codec == ("opus" if name.endswith(".webm") else "aac") and rate == 48000
    if name.endswith(".webm"):
        assert got.shape[1] == 24000  # cut at the sample: 12 frames at 24 fps
    n = min(got.shape[1], 23000)
    assert np.abs(got[:, :n] - source[:, :n]).mean() < 0.1 * np.abs(source[:, :n]).mean() + 1e-3


def test_frame_range_with_audio_range(tmp_path, example_clip):
    """Frames 10..30 of the clip with the matching audio: 20 frames, 20/24 s of audio."""
    out = tmp_path / "range.mov"
    with open_clip(example_clip) as clip:
        t0, t1 = clip.frame_time(10), clip.frame_time(30)
        with ClipWriter(out, fps=clip.info.fps, width=640, height=360, audio_from=example_clip,
                        audio_range=(t0, t1), codec="prores") as w:
            for f in clip.frames(10, 30):
                w.write(cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA))
        expected = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in clip.frames(10, 30)]
    with open_clip(out) as back:
        assert back.info.frame_count == 20 and back.info.codec == "prores" and back.info.fps == 24
        assert min(psnr(a, b) for a, b in zip(back.frames(), expected)) > 40
    _, seconds = audio_stats(out)
    assert seconds == pytest.approx(20 / 24, abs=2 * audio_packet_seconds(example_clip))


def _with_audio_tracks(path: Path, frames: list[np.ndarray], tracks: dict[str, int], fps: int = 24) -> Path:
    """An H.264 + AAC clip of ``frames`` with one mono sine audio stream per ``tracks`` item
    (language -> frequency, Hz), each titled by its language, as long as the video."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        audio = []
        for language, hz in tracks.items():
            stream = out.add_stream("aac", rate=48000)
            stream.metadata.update({"language": language, "title": f"dialogue {language}"})
            audio.append((stream, hz))
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        samples = 48000 * len(frames) // fps
        for stream, hz in audio:
            wave = (0.3 * np.sin(2 * np.pi * hz * np.arange(samples) / 48000)).astype(np.float32)
            _mux_audio(out, stream, wave[None], "flt", "mono", 48000, 1024)
    return path


def _mux_audio(out, stream, samples: np.ndarray, fmt: str, layout: str, rate: int, chunk: int) -> None:
    """Encode ``samples`` ((1, n) float32 / int16, packed: channels interleaved) into ``stream`` in
    chunks of ``chunk`` samples per channel, flushing at the end."""
    channels = av.AudioLayout(layout).nb_channels
    for start in range(0, samples.shape[1] // channels, chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start * channels:(start + chunk) * channels]), format=fmt, layout=layout)
        frame.sample_rate, frame.pts = rate, start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def test_every_audio_track_is_copied_with_its_language(tmp_path, small_frames):
    """A source with two audio tracks (English and French dialogue): the output keeps both, in
    order, with their language and title (only the first, untagged, was kept), whole or trimmed
    to a frame range."""
    frames = small_frames * 4  # 24 frames, 1 s
    source = _with_audio_tracks(tmp_path / "two_languages.mkv", frames, {"eng": 440, "fra": 660})

    def tracks(path: Path) -> list[tuple[str, str, int, float]]:
        """(language, title, packet count, seconds from the first packet's start to the last's end) per audio stream."""
        with av.open(str(path)) as container:
            count = len(container.streams.audio)
        out = []
        for index in range(count):
            with av.open(str(path)) as container:
                stream = container.streams.audio[index]
                packets = [(p.pts, p.duration) for p in container.demux(stream) if p.size]
                span = (packets[-1][0] + packets[-1][1] - packets[1][0]) * stream.time_base  # from the first whole packet
                out.append((stream.metadata.get("language"), stream.metadata.get("title"), len(packets), float(span)))
        return out

    whole, part = tmp_path / "whole.mkv", tmp_path / "part.mp4"  # MP4 / MOV keep no track titles
    with ClipWriter(whole, fps=24, width=320, height=180, audio_from=source) as w:
        for f in frames:
            w.write(f)
    with ClipWriter(part, fps=24, width=320, height=180, audio_from=source, audio_range=(0.25, 0.75)) as w:
        for f in frames[6:18]:
            w.write(f)
    assert tracks(whole) == tracks(source)
    assert [t[:2] for t in tracks(whole)] == [("eng", "dialogue eng"), ("fra", "dialogue fra")]
    trimmed = tracks(part)
    assert [t[0] for t in trimmed] == ["eng", "fra"]
    assert all(t[3] == pytest.approx(0.5, abs=2 * 1024 / 48000) for t in trimmed), trimmed


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_the_container_tags_of_the_source_go_into_a_render(tmp_path, small_frames, suffix):
    """A camera's or an editor's tags (creation time, title, comment, location) on the source
    container are on the render too, as FFmpeg's own transcodes keep them; the muxer's own
    (brands, encoder) are not carried over from the source."""
    from deage.look import Look
    from deage.render import render_clip

    tags = {"creation_time": "2024-07-19T09:46:44.000000Z", "title": "Shot 12", "comment": "take 3",
            "location": "+51.5000-000.1200/"}
    source = tmp_path / "tagged.mov"
    with av.open(str(source), "w") as out:
        out.metadata.update({**tags, "encoder": "SomeCamera 1.0"})
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for frame in small_frames[:3]:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with open_clip(source) as clip:
        assert clip.info.metadata == tags
    render = tmp_path / f"render{suffix}"
    render_clip(source, render, Look(), provenance=False, cache_dir=tmp_path)
    with av.open(str(render)) as container:
        written = {key.lower(): value for key, value in container.metadata.items()}
    assert {key: written.get(key) for key in tags} == tags
    assert written.get("encoder") != "SomeCamera 1.0"


@pytest.mark.parametrize("pattern", ["face.%04d.png", "face.####.tif", "face.%04d.exr"])
def test_sequence_round_trip(tmp_path, small_frames, pattern):
    out = tmp_path / pattern
    with ClipWriter(out, fps=Fraction(25), width=320, height=180, first_frame_number=1001) as w:
        for f in small_frames:
            w.write(f)
    names = sorted(p.name for p in tmp_path.iterdir())
    ext = Path(pattern).suffix
    assert names == [f"face.{n}{ext}" for n in range(1001, 1007)]
    with open_clip(out, fps=25) as back:
        assert back.info.is_sequence and back.info.first_frame_number == 1001
        assert back.info.frame_count == 6 and back.info.fps == 25 and back.info.bit_depth == 16
        for a, b in zip(back.frames(), small_frames):
            assert np.abs(a.astype(int) - b).max() <= (1 if ext == ".exr" else 0)
    # the same sequence opened from one of its files
    with open_clip(tmp_path / f"face.1003{ext}") as again:
        assert again.info.frame_count == 6 and again.info.first_frame_number == 1001
        assert again.info.fps == 24  # the default for sequences
        np.testing.assert_array_equal(again.read(2), back.read(2))
    with open_clip(tmp_path / f"face.1003{ext}", still=True) as one:
        assert len(one) == 1
        np.testing.assert_array_equal(one.read(0), back.read(2))


def test_sequence_content_hash(tmp_path, small_frames):
    out = tmp_path / "h.%04d.png"
    with ClipWriter(out, fps=24, width=320, height=180) as w:
        for f in small_frames[:3]:
            w.write(f)
    with open_clip(out) as clip:
        before = clip.content_hash()
        assert [f.name for f in clip.files] == ["h.1001.png", "h.1002.png", "h.1003.png"]
    cv2.imwrite(str(tmp_path / "h.1002.png"), cv2.cvtColor(small_frames[4], cv2.COLOR_RGB2BGR))
    with open_clip(out) as clip:
        assert clip.content_hash() != before


def test_still_images(tmp_path, astronaut, shared_media):
    """A still (no frame number) opens as a one-frame clip; a JPEG reads as OpenCV (libjpeg)
    reads it and a lossy WebP as Pillow (libwebp) does, exactly (FFmpeg's decoders put about half
    the pixels a level or two off)."""
    png = tmp_path / "astronaut.png"
    cv2.imwrite(str(png), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    with open_clip(png) as clip:
        assert len(clip) == 1 and clip.info.first_frame_number == 0
        np.testing.assert_array_equal(clip.read(0), astronaut)
    jpg = shared_media / "source_s12.jpg"
    reference = cv2.cvtColor(cv2.imread(str(jpg)), cv2.COLOR_BGR2RGB)
    with open_clip(jpg) as clip:
        assert len(clip) == 1
        frame = clip.read(0)
    np.testing.assert_array_equal(frame, reference)
    from PIL import Image

    webp = tmp_path / "photo.webp"
    Image.fromarray(reference).save(webp, quality=80)
    with open_clip(webp) as clip, Image.open(webp) as image:
        np.testing.assert_array_equal(clip.read(0), np.asarray(image.convert("RGB")))
    # An animated WebP opened as a still: its first frame, and a warning that the others are not read.
    animated = tmp_path / "animated.webp"
    frames = [Image.fromarray(np.roll(astronaut, 8 * i, axis=1)) for i in range(3)]
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    with pytest.warns(RuntimeWarning, match="animated image of 3 frames; only its first"):
        with open_clip(animated, still=True) as clip:
            assert len(clip) == 1
            np.testing.assert_array_equal(clip.read(0), astronaut)


@pytest.mark.parametrize("suffix", [".webp", ".png"])
def test_animated_webp_and_png_open_as_clips(tmp_path, astronaut, suffix):
    """An animated WebP or PNG (APNG) is a clip of all its frames (it opened as its first frame),
    each shown for its own duration: a variable frame rate where they differ. A render keeps them."""
    from PIL import Image

    from deage.look import Look
    from deage.render import render_clip

    small = np.ascontiguousarray(astronaut[::2, ::2])  # 256 x 256
    frames = [Image.fromarray(np.roll(small, 6 * i, axis=1)) for i in range(4)]
    animated = tmp_path / f"sticker{suffix}"
    options = {"lossless": True} if suffix == ".webp" else {}
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=[100, 300, 100, 100], loop=0,
                   **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clip = open_clip(animated)
    with clip:
        assert len(clip) == 4 and clip.info.variable_frame_rate and clip.info.pix_fmt == "rgb24"
        assert [clip.frame_time(i) for i in range(5)] == pytest.approx([0, 0.1, 0.4, 0.5, 0.6])
        for i in range(4):
            np.testing.assert_array_equal(clip.read(i), np.asarray(frames[i]))
    out = tmp_path / "sticker.mp4"
    render_clip(animated, out, Look(), provenance=False, cache_dir=tmp_path)
    with open_clip(out) as back:
        assert len(back) == 4
        assert [back.frame_time(i) for i in range(4)] == pytest.approx([0, 0.1, 0.4, 0.5], abs=0.002)


@pytest.mark.parametrize("orientation, turn", [(1, 0), (6, 270), (8, 90), (3, 180)])
def test_exif_orientation_turns_a_photo_upright(tmp_path, astronaut, orientation, turn):
    """A phone photo stored sideways with an EXIF orientation tag opens upright, at display size."""
    from PIL import Image

    upright = np.ascontiguousarray(astronaut[:400, :300])  # 300 wide, 400 tall
    k = {0: 0, 270: 1, 90: -1, 180: 2}[turn]  # store it turned so that the tag's turn undoes it
    stored = np.ascontiguousarray(np.rot90(upright, k))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"phone_{orientation}.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    with open_clip(path) as clip:
        assert clip.info.rotation == turn
        assert (clip.info.width, clip.info.height) == (300, 400)
        frame = clip.read(0)
        assert frame.shape == upright.shape
        assert np.abs(frame.astype(int) - upright).mean() < 3


def test_a_truncated_photo_is_a_clear_error_and_trailing_data_is_not(tmp_path, astronaut):
    """A JPEG or PNG cut short opens as an error naming it (FFmpeg alone would decode it with its
    missing part grey); a JPEG with data after its end (a phone's motion photo) opens as usual."""
    from PIL import Image

    for suffix in (".jpg", ".png"):
        whole = tmp_path / f"whole{suffix}"
        Image.fromarray(astronaut).save(whole)
        data = whole.read_bytes()
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(MediaError, match="truncated") as err:
            open_clip(cut)
        assert str(cut) in str(err.value)
        assert cut.read_bytes() == data[: len(data) * 2 // 3]  # the input is never touched
    motion = tmp_path / "motion.jpg"
    motion.write_bytes((tmp_path / "whole.jpg").read_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with open_clip(motion) as clip, open_clip(tmp_path / "whole.jpg") as plain:
        np.testing.assert_array_equal(clip.read(0), plain.read(0))


def test_a_file_that_is_no_image_says_so(tmp_path):
    """A text file named .jpg is not an image: the error names the file and says so in words
    (it had shown Pillow's message about an in-memory buffer)."""
    fake = tmp_path / "photo.jpg"
    fake.write_text("hello\n")
    with pytest.raises(MediaError, match="not an image file") as err:
        open_clip(fake)
    assert str(fake) in str(err.value) and "BytesIO" not in str(err.value)


@pytest.mark.parametrize("stored, named", [("JPEG", ".png"), ("PNG", ".jpg"), ("WEBP", ".png"), ("TIFF", ".jpg")])
def test_a_photo_named_for_another_type_opens_by_its_content(tmp_path, astronaut, stored, named):
    """Downloads are often misnamed (a JPEG saved as ``photo.png``): the file's signature decides
    how it is decoded, not its name (a JPEG named .png was called corrupt); the pixels are those
    of the same file rightly named."""
    from PIL import Image

    right = tmp_path / f"right.{stored.lower()}"
    Image.fromarray(astronaut).save(right, stored)
    wrong = tmp_path / f"photo{named}"
    wrong.write_bytes(right.read_bytes())
    with open_clip(wrong) as clip, open_clip(right) as plain:
        np.testing.assert_array_equal(clip.read(0), plain.read(0))


def test_heic_phone_photo_opens_whole_and_upright(tmp_path, astronaut):
    """A phone's HEIC photo is a grid of tiles (an iPhone's: 48 of 512x512): FFmpeg's demuxer gives
    the tiles as separate streams, so such a photo opened as its first 512x512 tile. Decoded by
    libheif (pillow-heif) it opens whole; a photo stored turned (HEIF rotation box, from EXIF
    orientation 6 here) opens upright, turned once; its EXIF goes with a JPEG render."""
    import cv2
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    portrait = cv2.resize(astronaut, (1100, 1300), interpolation=cv2.INTER_CUBIC)
    grid = tmp_path / "IMG_0042.heic"
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    Image.fromarray(portrait).save(grid, quality=92, tile_size=512, exif=exif.tobytes())
    with av.open(str(grid)) as c:  # the case: FFmpeg sees 3 x 3 tiles
        assert len(c.streams.video) >= 9 and (c.streams.video[0].width, c.streams.video[0].height) == (512, 512)
    with open_clip(grid) as clip:
        assert (clip.info.width, clip.info.height) == (1100, 1300) and len(clip) == 1
        assert psnr(clip.read(0), portrait) > 32

    turned = tmp_path / "turned.heic"
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: stored as the portrait turned back
    Image.fromarray(np.ascontiguousarray(np.rot90(portrait, 1))).save(turned, quality=92, exif=exif.tobytes())
    with open_clip(turned) as clip:
        assert (clip.info.width, clip.info.height) == (1100, 1300)
        assert psnr(clip.read(0), portrait) > 32

    out = tmp_path / "young.jpg"
    with open_clip(grid) as clip, ClipWriter(out, fps=1, width=1100, height=1300,
                                             photo_tags=read_photo_tags(grid)) as w:
        w.write(clip.read(0))
    with Image.open(out) as back:
        assert back.getexif().get(0x010F) == "Apple"


def test_avif_photo_opens(tmp_path, astronaut):
    from PIL import Image

    path = tmp_path / "photo.avif"
    Image.fromarray(astronaut).save(path, quality=90)
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB"))
    with open_clip(path) as clip:
        assert (clip.info.width, clip.info.height) == (512, 512)
        np.testing.assert_array_equal(clip.read(0), expected)  # Pillow's (libavif's) decode, as viewers show it


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(tmp_path, astronaut, orientation):
    """All eight EXIF orientations, mirrored ones (2, 4, 5, 7) included, open as Pillow's own
    ``ImageOps.exif_transpose`` shows them."""
    from PIL import Image, ImageOps

    stored = np.ascontiguousarray(astronaut[:400, 100:400])  # 300 wide, 400 tall, not symmetric
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo_{orientation}.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    with open_clip(path) as clip:
        assert (clip.info.width, clip.info.height) == expected.shape[1::-1]
        assert clip.info.mirrored == (orientation in (2, 4, 5, 7))
        frame = clip.read(0)
    assert frame.shape == expected.shape
    assert np.abs(frame.astype(int) - expected).mean() < 3


def test_prores_opens_from_its_sample_table(tmp_path, small_frames):
    """Intra-only mov: the frame list comes from the index (no scan) and matches the packets;
    a cut file whose index is at the front is refused as truncated."""
    path = tmp_path / "plate.mov"
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        s = out.add_stream("prores_ks", rate=24)
        s.width, s.height, s.pix_fmt = 320, 180, "yuv422p10le"
        for i, fr in enumerate(small_frames * 3):
            f = av.VideoFrame.from_ndarray(fr, format="rgb24").reformat(format="yuv422p10le")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    with open_clip(path) as clip:
        with av.open(str(path)) as c:
            assert clip._source._index_entries(c, c.streams.video[0]) is not None
            packets = sorted(p.pts for p in c.demux(video=0) if p.size)
        assert list(clip._source.pts) == packets and len(clip) == 18
        sequential = [digest(f) for f in clip.frames()]
        assert [digest(clip.read(i)) for i in (17, 3, 9)] == [sequential[17], sequential[3], sequential[9]]
    data = path.read_bytes()
    cut = tmp_path / "cut.mov"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaError) as exc:
        open_clip(cut)
    assert "truncated" in one_line_naming(exc, cut)


def _decoded_audio(path: Path, index: int = 0) -> tuple[str, int, np.ndarray]:
    """(codec, sample rate, samples float32 (channels, n)) of ``path``'s audio stream ``index``, as decoded."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[index]
        codec, rate = stream.codec_context.name, stream.codec_context.sample_rate
        to_float = av.AudioResampler(format="fltp", rate=rate)
        chunks = [g.to_ndarray() for f in c.decode(stream) for g in to_float.resample(f)]
        chunks += [g.to_ndarray() for g in to_float.resample(None)]
    return codec, rate, np.concatenate(chunks, axis=1)


def _pcm_source(path: Path, frames: list[np.ndarray], codec: str, rate: int, hz: float = 440.0) -> np.ndarray:
    """An H.264 clip of ``frames`` at 24 fps with one stereo ``codec`` (PCM) audio stream: a sine of
    ``hz``, as long as the video. Returns the int16 samples written, (2, n)."""
    n = rate * len(frames) // 24
    wave = (9000 * np.sin(2 * np.pi * hz * np.arange(n) / rate)).astype(np.int16)
    samples = np.stack([wave, wave // 2])
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        audio = out.add_stream(codec, rate=rate, layout="stereo")
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        _mux_audio(out, audio, samples.T.reshape(1, -1), "s16", "stereo", rate, 1000)
    return samples


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path, small_frames):
    """A camera's PCM audio (AVI, MKV, MXF) cannot go into .mp4 (FFmpeg's muxer refuses it at the
    trailer: the render failed after its last frame); Opus / FLAC cannot go into .mov, mu-law into
    .mkv. Such a stream is re-encoded with a warning: AAC in .mp4 (the same sine, within AAC's
    error), losslessly into .mov (PCM) and .mkv (FLAC: the very samples); a range is cut at the sample."""
    frames = small_frames * 4  # 24 frames, 1 s
    source = tmp_path / "camera.mkv"
    written = _pcm_source(source, frames, "pcm_s16le", 48000) / 32768.0
    with av.open(str(source)) as c:  # what made the old render fail: the muxer's own refusal
        packet = next(p for p in c.demux(c.streams.audio[0]) if p.size)
        assert not container_holds("mp4", c.streams.audio[0], packet)
    studio = tmp_path / "studio.mov"  # 24-bit PCM, which FFmpeg's MP4 muxer takes but players do not play
    _pcm_source(studio, frames, "pcm_s24le", 48000)
    for pcm, match in ((source, "pcm_s16le audio .stream 1. does not play in .mp4 files; re-encoded as aac"),
                       (studio, "pcm_s24le audio .stream 1. does not play in .mp4 files; re-encoded as aac")):
        out = tmp_path / f"young_{pcm.stem}.mp4"
        with pytest.warns(UserWarning, match=match):
            with ClipWriter(out, fps=24, width=320, height=180, audio_from=pcm) as w:
                for frame in frames:
                    w.write(frame)
        codec, rate, got = _decoded_audio(out)
        assert (codec, rate, got.shape[0]) == ("aac", 48000, 2)
        assert got.shape[1] == pytest.approx(48000, abs=1024)  # whole AAC frames
        n = 47000
        assert np.abs(got[:, :n] - written[:, :n]).mean() < 0.01  # in time and in level: no shift, no gain
        assert np.abs(got[:, :n] - written[:, :n]).mean() < 0.1 * np.abs(written[:, :n]).mean()

    for suffix, expected in ((".mov", "pcm_s16le"), (".mkv", None)):  # .mkv holds PCM: copied as is
        lossless = tmp_path / f"young{suffix}"
        with ClipWriter(lossless, fps=24, width=320, height=180, audio_from=source) as w:
            for frame in frames:
                w.write(frame)
        codec, _, got = _decoded_audio(lossless)
        assert codec == (expected or "pcm_s16le")
        np.testing.assert_array_equal(got, written)

    cut = tmp_path / "cut.mp4"
    with pytest.warns(UserWarning, match="re-encoded as aac"):
        with ClipWriter(cut, fps=24, width=320, height=180, audio_from=source, audio_range=(6 / 24, 18 / 24)) as w:
            for frame in frames[6:18]:
                w.write(frame)
    _, _, got = _decoded_audio(cut)
    assert got.shape[1] == pytest.approx(24000, abs=1024)
    assert np.abs(got[:, :23000] - written[:, 12000:35000]).mean() < 0.01  # starts at frame 6's sample


def test_a_damaged_audio_packet_does_not_shift_the_reencoded_audio(tmp_path, small_frames):
    """A camera file with one damaged audio packet: the decoder drops it, and counting samples put
    everything after it a packet early (24 ms at 48 kHz, a visible lip-sync error). The decoded
    frames' timestamps place them; the gap is filled with silence."""
    rate = 48000
    source = tmp_path / "damaged.mkv"
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.int16)
    with av.open(str(source), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
        audio = out.add_stream("mp2", rate=rate, layout="mono")
        packets = []
        for start in range(0, rate, 1152):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1152], format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            packets += audio.encode(frame)
        packets += audio.encode(None)
        _mux_video(out, video, small_frames * 4)
        for n, packet in enumerate(packets):
            if n == 15:  # zeroed on the card
                bad = av.Packet(b"\x00" * packet.size)
                bad.pts, bad.dts, bad.duration, bad.time_base = packet.pts, packet.dts, packet.duration, packet.time_base
                packet = bad
            packet.stream = audio
            out.mux(packet)
    out_path = tmp_path / "out.webm"
    with open_clip(source) as clip, pytest.warns(UserWarning, match="re-encoded as libopus"):
        with ClipWriter(out_path, fps=24, width=320, height=180, audio_from=source) as w:
            for frame in clip.frames():
                w.write(frame)
    _, _, got = _decoded_audio(out_path)
    expected = tone / 32768
    after = slice(30000, 40000)  # well after the damaged packet (samples 17280-18432)
    assert np.abs(got[0, after] - expected[after]).mean() < 0.01


def test_opus_into_mov_and_mulaw_into_mkv_are_reencoded_losslessly(tmp_path, small_frames):
    frames = small_frames * 2
    phone = tmp_path / "phone.wav"
    with av.open(str(phone), "w") as out:  # a telephone / voice recorder's 8 kHz mu-law WAV
        s = out.add_stream("pcm_mulaw", rate=8000, layout="mono")
        tone = (8000 * np.sin(2 * np.pi * 300 * np.arange(4000) / 8000)).astype(np.int16)
        _mux_audio(out, s, tone[None], "s16", "mono", 8000, 500)
    _, _, source = _decoded_audio(phone)
    target = tmp_path / "out.mkv"
    with pytest.warns(UserWarning, match="pcm_mulaw audio .stream 0. cannot be stored in .mkv files; re-encoded as flac"):
        with ClipWriter(target, fps=24, width=320, height=180, audio_from=phone) as w:
            for frame in frames:
                w.write(frame)
    codec, rate, got = _decoded_audio(target)
    assert (codec, rate) == ("flac", 8000)
    np.testing.assert_array_equal(got, source)  # mu-law's 14 bits fit FLAC's 16

    web = _with_audio_tracks(tmp_path / "web.mkv", frames, {"eng": 440})
    opus = tmp_path / "web_opus.mkv"
    with av.open(str(web)) as c, av.open(str(opus), "w") as out:  # the same clip with Opus audio (a .webm's)
        video = out.add_stream_from_template(c.streams.video[0])
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        for packet in c.demux(c.streams.video[0]):
            if packet.size:
                packet.stream = video
                out.mux(packet)
        for frame in av.open(str(web)).decode(audio=0):
            frame.pts = None
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    _, _, source = _decoded_audio(opus)
    mov = tmp_path / "out.mov"
    with pytest.warns(UserWarning, match="opus audio.*re-encoded as pcm_s24le"):
        with ClipWriter(mov, fps=24, width=320, height=180, audio_from=opus, codec="prores") as w:
            for frame in frames:
                w.write(frame)
    codec, rate, got = _decoded_audio(mov)
    assert (codec, rate) == ("pcm_s24le", 48000)
    n = min(got.shape[1], source.shape[1])
    assert abs(got.shape[1] - source.shape[1]) <= 960  # Opus's pre-skip
    lag = next(k for k in range(0, 1000) if np.abs(got[0, k:k + 2000] - source[0, :2000]).max() < 1e-4)
    assert lag == 0, lag
    assert np.abs(got[:, :n] - source[:, :n]).max() < 1e-4  # 24-bit: the decoded Opus samples


def test_a_stream_cut_mid_gop_starts_at_its_first_keyframe_with_its_audio(tmp_path, small_frames):
    """A transport stream cut anywhere (a DVR recording, a broadcast capture) begins with frames
    whose keyframe is gone: the whole clip was refused ('frame 0 cannot be decoded'). It now
    opens at its first keyframe, with a warning, and the audio copied with it starts there too
    (the audio is a tone whose loudness rises with time: its level tells the time it came from)."""
    full = tmp_path / "recording.ts"
    frames = small_frames * 12  # 72 frames, 3 s; keyframes at 0, 24, 48
    rate = 48000
    with av.open(str(full), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
        video.options = {"g": "24", "keyint_min": "24", "sc_threshold": "0", "preset": "ultrafast"}
        audio = out.add_stream("mp2", rate=rate, layout="mono")
        t = np.arange(3 * rate) / rate
        tone = ((0.1 + 0.25 * t / 3) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        pcm = (tone * 32767).astype(np.int16)
        step = rate // 24
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            for p in video.encode(vf):
                out.mux(p)
            af = av.AudioFrame.from_ndarray(pcm[None, i * step:(i + 1) * step], format="s16", layout="mono")
            af.sample_rate, af.pts = rate, i * step
            for p in audio.encode(af):
                out.mux(p)
        for stream in (video, audio):
            for p in stream.encode(None):
                out.mux(p)
    data = full.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[(len(data) // 10) // 188 * 188:])  # inside the first GOP
    with pytest.warns(RuntimeWarning, match="middle of a group of pictures"):
        clip = open_clip(cut)
    with clip:
        assert clip.info.lead_skipped > 0 and len(clip) == 48
        assert psnr(clip.read(0), frames[24]) > 30  # the keyframe of frame 24
        out = tmp_path / "out.mp4"
        with ClipWriter(out, fps=24, width=320, height=180, audio_from=cut) as w:
            for frame in clip.frames():
                w.write(frame)
    _, _, got = _decoded_audio(out)
    level = float(np.sqrt(2 * np.mean(got[0, 2000:6000] ** 2)))  # ~0.04-0.13 s after the keyframe
    assert level == pytest.approx(0.1 + 0.25 * 1.08 / 3, abs=0.01), level  # at 1 s, not where the cut began


def test_avi_dropped_frames_keep_their_time(tmp_path, small_frames):
    """AVI is constant-rate: a frame dropped by the camera (or a gap in the timestamps) is stored as an
    empty packet, which the header's frame count includes. Such a clip opened as 'truncated'; with
    the empty packet counted it opens, and the gap is a variable frame rate (one tick of AVI's
    1/fps time base is a whole frame, not rounding), so the frames after it keep their times."""
    path = tmp_path / "camera.avi"
    frames = small_frames * 5  # 30
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=24)
        s.width, s.height, s.pix_fmt = 320, 180, "yuv420p"
        kept = [pts for pts in range(len(frames)) if pts != 10]  # frame 10 dropped
        _mux_video(out, s, [frames[pts] for pts in kept], kept)
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 30  # the dropped frame is listed
    with open_clip(path) as clip:
        assert len(clip) == sum(1 for _ in clip.frames()) == 29
        assert clip.info.variable_frame_rate
        assert clip.frame_time(9) == pytest.approx(9 / 24) and clip.frame_time(10) == pytest.approx(11 / 24)
        assert clip.frame_time(28) == pytest.approx(29 / 24)


def test_sixteen_bit_png_precision(tmp_path, small_frames):
    deep = small_frames[0].astype(np.uint16) * 257 + 100  # values no 8-bit file can hold
    out = tmp_path / "deep.%04d.png"
    with ClipWriter(out, fps=24, width=320, height=180, first_frame_number=1) as w:
        w.write(deep)
    with open_clip(tmp_path / "deep.0001.png") as back:
        assert back.info.pix_fmt.startswith("rgb48")
        f = back.read_float(0)
        np.testing.assert_allclose(f * 65535, deep, atol=0.02)


def test_exr_holds_linear_light_and_highlights(tmp_path, small_frames):
    out = tmp_path / "plate.%04d.exr"
    hot = small_frames[0].astype(np.float32) / 255
    hot[:20, :20] = 2.5  # a highlight above display white
    with ClipWriter(out, fps=24, width=320, height=180, first_frame_number=1) as w:
        w.write(hot)
    with open_clip(out) as back:
        f = back.read_float(0)
        assert f[5, 5, 0] == pytest.approx(2.5, rel=2e-3)
        np.testing.assert_allclose(f[40:], hot[40:], atol=2e-3)
        assert back.info.pix_fmt.startswith("gbrpf")
    with open_clip(out, exr_linear=False) as raw:  # the file itself holds linear light
        np.testing.assert_allclose(raw.read_float(0)[40:], srgb_to_linear(hot[40:]), atol=2e-3, rtol=2e-3)
    x = np.linspace(-1, 4, 101, dtype=np.float32)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-5, rtol=1e-5)


def test_sequence_audio_goes_to_sidecar(tmp_path, example_clip, small_frames):
    out = tmp_path / "shot.%04d.png"
    with ClipWriter(out, fps=24, width=320, height=180, audio_from=example_clip) as w:
        w.write(small_frames[0])
    sidecar = tmp_path / "shot.audio.mka"
    assert sidecar.is_file()
    assert audio_stats(sidecar)[0] == audio_stats(example_clip)[0]


# ---------------------------------------------------------------------------------------------
# writing: safety


def test_failed_render_leaves_nothing_and_keeps_previous_output(tmp_path, small_frames):
    out = tmp_path / "render.mp4"
    out.write_bytes(b"previous render")
    with pytest.raises(RuntimeError):
        with ClipWriter(out, fps=24, width=320, height=180) as w:
            w.write(small_frames[0])
            w.write(small_frames[1])
            raise RuntimeError("interrupted")
    assert out.read_bytes() == b"previous render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.mp4"]
    seq = tmp_path / "seq.%04d.png"
    with pytest.raises(RuntimeError):
        with ClipWriter(seq, fps=24, width=320, height=180) as w:
            w.write(small_frames[0])
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.mp4"]


def test_output_equal_to_input_is_refused(tmp_path, example_clip, small_frames):
    with pytest.raises(OutputError) as exc:
        ClipWriter(example_clip, fps=24, width=1280, height=720, inputs=(example_clip,))
    assert "same as the input" in one_line_naming(exc, example_clip)
    seq = tmp_path / "in.%04d.png"
    with ClipWriter(seq, fps=24, width=320, height=180) as w:
        w.write(small_frames[0])
    with pytest.raises(OutputError) as exc:
        ClipWriter(tmp_path / "in.####.png", fps=24, width=320, height=180, inputs=(seq,))
    one_line_naming(exc, "in.%04d.png")
    before = (tmp_path / "in.1001.png").read_bytes()
    with pytest.raises(OutputError):  # another pattern naming the same file
        with ClipWriter(tmp_path / "in.%d.png", fps=24, width=320, height=180, inputs=(seq,)) as w:
            w.write(small_frames[1])
    assert (tmp_path / "in.1001.png").read_bytes() == before


def test_missing_output_folder(tmp_path):
    target = tmp_path / "nope" / "out.mp4"
    with pytest.raises(OutputError) as exc:
        ClipWriter(target, fps=24, width=64, height=64)
    assert "does not exist" in one_line_naming(exc, target)
    with pytest.raises(OutputError):
        ClipWriter(tmp_path / "nope" / "out.%04d.exr", fps=24, width=64, height=64)


@pytest.mark.parametrize(
    "name,kwargs,words",
    [
        ("out.avi", {}, "cannot write"),
        ("out.jpg", {"codec": "png"}, "cannot be written"),
        ("out.mp4", {"codec": "prores"}, "cannot be written"),
        ("out.mp4", {"codec": "bogus"}, "unknown codec"),
    ],
)
def test_bad_writer_arguments(tmp_path, name, kwargs, words):
    args = {"fps": 24, "width": 320, "height": 180, **kwargs}
    with pytest.raises(OutputError) as exc:
        ClipWriter(tmp_path / name, **args)
    assert words in one_line_naming(exc, name)


def test_one_frame_hevc_files_finish_every_time(tmp_path, small_frames):
    """libx265 leaves the decoding time of a one-frame clip's only packet uninitialised; the MP4
    muxer then refused to finish most such files after the first few in a process ("Not yet
    implemented in FFmpeg": 37 of 40 here, and a flaky render test). Ten in a row must finish, each
    a one-frame HEVC clip."""
    for i in range(10):
        path = tmp_path / f"one{i}.mp4"
        with ClipWriter(path, fps=24, width=320, height=180, codec="hevc") as w:
            w.write(small_frames[0])
        with open_clip(path) as clip:
            assert len(clip) == 1 and clip.info.codec == "hevc"


@pytest.mark.parametrize("name, pix_fmt", [("odd.mp4", "yuv444p"), ("odd.mov", "yuv444p12le")])
def test_odd_sized_frames_keep_their_size_with_full_chroma(tmp_path, small_frames, name, pix_fmt):
    """An odd-sized picture keeps its size with full chroma: H.264 4:4:4, or ProRes 4444 with
    4444's own profile (decoded at 12 bits; it was written with 422 HQ's, decoded at 10)."""
    frames = [f[:179, :319] for f in small_frames[:3]]
    with pytest.warns(RuntimeWarning, match="odd-sized"):
        with ClipWriter(tmp_path / name, fps=24, width=319, height=179) as w:
            for f in frames:
                w.write(np.ascontiguousarray(f))
    with open_clip(tmp_path / name) as clip:
        assert (clip.info.width, clip.info.height, len(clip), clip.info.pix_fmt) == (319, 179, 3, pix_fmt)
        for a, b in zip(frames, clip.frames()):
            mse = np.mean((a.astype(np.float64) - b) ** 2)
            assert 10 * np.log10(255**2 / max(mse, 1e-9)) > 38


def test_an_image_name_without_a_pattern_is_one_still(tmp_path, small_frames):
    with ClipWriter(tmp_path / "still.png", fps=24, width=320, height=180) as w:
        assert w.still
        w.write(small_frames[0])
        with pytest.raises(OutputError, match="one frame"):
            w.write(small_frames[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["still.png"]
    with open_clip(tmp_path / "still.png") as clip:
        assert len(clip) == 1 and clip.info.bit_depth == 16
        np.testing.assert_array_equal(clip.read(0), small_frames[0])


@pytest.mark.parametrize("name", ["Photo #3.png", "take #2.png", "C# notes.png", "gain 100%.png"])
def test_names_with_hash_or_percent_are_stills(tmp_path, small_frames, name):
    """'#' and '%' in everyday names are not frame-number patterns: such a photo opens, and renders
    into such a name, as one image (a '100%' name crashed with an AssertionError, '#2' opened as
    the sequence 'take %01d2.png' and found no files)."""
    path = tmp_path / name
    with ClipWriter(path, fps=24, width=320, height=180) as w:
        assert w.still
        w.write(small_frames[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    with open_clip(path) as clip:
        assert len(clip) == 1
        np.testing.assert_array_equal(clip.read(0), small_frames[1])


def test_a_folder_of_frames_opens_its_sequence(tmp_path, small_frames):
    """Plates handed over as a folder: the folder opens its one numbered sequence; a folder of none
    or of several is a clear error naming what is there."""
    plates = tmp_path / "plates"
    plates.mkdir()
    for i, frame in enumerate(small_frames[:3]):
        cv2.imwrite(str(plates / f"sh010.{1001 + i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    (plates / "notes.txt").write_text("take 3")
    with open_clip(plates) as clip:
        assert len(clip) == 3 and clip.info.first_frame_number == 1001
        np.testing.assert_array_equal(clip.read(2), small_frames[2])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MediaError, match="without a numbered image sequence"):
        open_clip(empty)
    cv2.imwrite(str(plates / "sh020.0001.png"), cv2.cvtColor(small_frames[0], cv2.COLOR_RGB2BGR))
    with pytest.raises(MediaError, match=r"several image sequences \(sh010.%04d.png \(3 files\), sh020"):
        open_clip(plates)


def test_a_file_named_like_a_pattern_opens_as_that_file(tmp_path, small_frames):
    cv2.imwrite(str(tmp_path / "odd.%04d.png"), cv2.cvtColor(small_frames[0], cv2.COLOR_RGB2BGR))
    with open_clip(tmp_path / "odd.%04d.png") as clip:
        assert len(clip) == 1
        np.testing.assert_array_equal(clip.read(0), small_frames[0])


@pytest.mark.parametrize("ext", [".webp", ".bmp"])
def test_webp_and_bmp_photos_round_trip_exactly(tmp_path, small_frames, ext):
    """Web and Windows photo formats in and out (a photo in, the same format out): lossless WebP
    and BMP hold the 8-bit frame exactly, and a photo read back is one frame."""
    with ClipWriter(tmp_path / f"photo{ext}", fps=24, width=320, height=180) as w:
        assert w.still
        w.write(small_frames[2])
    with open_clip(tmp_path / f"photo{ext}") as clip:
        assert len(clip) == 1 and (clip.info.width, clip.info.height) == (320, 180)
        np.testing.assert_array_equal(clip.read(0), small_frames[2])
    with ClipWriter(tmp_path / f"seq.%04d{ext}", fps=24, width=320, height=180) as w:
        for frame in small_frames[:2]:
            w.write(frame)
    with open_clip(tmp_path / f"seq.1001{ext}") as clip:
        assert len(clip) == 2
        np.testing.assert_array_equal(clip.read(1), small_frames[1])


def test_wrong_frame_shape(tmp_path, small_frames):
    w = ClipWriter(tmp_path / "x.mp4", fps=24, width=320, height=180)
    with pytest.raises(ValueError):
        w.write(small_frames[0][:100])
    with pytest.raises(ValueError):
        w.write(small_frames[0].astype(np.int32))
    w.abort()
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# bad input


def test_missing_file(tmp_path):
    path = tmp_path / "missing.mp4"
    with pytest.raises(MediaError) as exc:
        open_clip(path)
    assert "does not exist" in one_line_naming(exc, path)


def test_unreadable_inputs(tmp_path):
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    with pytest.raises(MediaError) as exc:
        open_clip(folder)
    one_line_naming(exc, folder)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    with pytest.raises(MediaError) as exc:
        open_clip(empty)
    assert "empty" in one_line_naming(exc, empty)
    locked = tmp_path / "locked.mp4"
    locked.write_bytes(b"\0" * 100)
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        pytest.skip("running as root: a permission-less file is still readable")
    with pytest.raises(MediaError) as exc:
        open_clip(locked)
    assert "permission" in one_line_naming(exc, locked)


@pytest.mark.parametrize("content", [b"random", b"text"])
def test_not_a_video(tmp_path, content):
    path = tmp_path / "fake.mp4"
    if content == b"random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    else:
        path.write_text("this is not a video\n" * 500)
    with pytest.raises(MediaError) as exc:
        open_clip(path)
    one_line_naming(exc, path)


def test_truncated_mp4_index_at_front(tmp_path, example_clip):
    """Our mp4s put the index first (faststart): a cut file still opens in FFmpeg; deage refuses it."""
    data = example_clip.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaError) as exc:
        open_clip(path)
    assert "truncated" in one_line_naming(exc, path)


def test_truncated_mp4_index_at_end(tmp_path, shared_media):
    data = (shared_media / "driving_d0.mp4").read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaError) as exc:
        open_clip(path)
    one_line_naming(exc, path)


def test_truncated_mkv(tmp_path, small_frames):
    src = tmp_path / "whole.mkv"
    _encode(src, small_frames * 4, "libx264", "yuv420p", options={"preset": "ultrafast"})
    data = src.read_bytes()
    path = tmp_path / "cut.mkv"
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaError) as exc:
        with open_clip(path) as clip:
            list(clip.frames())
    one_line_naming(exc, path)


def test_corrupt_data_yields_good_frames_then_raises(tmp_path, example_clip):
    data = bytearray(example_clip.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 20_000] = np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    with open_clip(path) as clip, open_clip(example_clip) as good:
        got = []
        with pytest.raises(MediaError) as exc:
            for frame in clip.frames():
                got.append(digest(frame))
        assert "frame" in one_line_naming(exc, path)
        assert 0 < len(got) < len(clip)
        assert got[:5] == [digest(f) for f in good.frames(0, 5)]


def test_no_video_stream(tmp_path):
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("aac", rate=48000, layout="mono")
        tone = np.sin(np.arange(48000, dtype=np.float32) / 48000 * 2 * np.pi * 220)[None, :]
        for i in range(0, 48000, 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, i : i + 1024]), format="fltp", layout="mono")
            f.sample_rate, f.pts = 48000, i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    with pytest.raises(MediaError) as exc:
        open_clip(path)
    assert "no video stream" in one_line_naming(exc, path)


def test_unsupported_pixel_format(tmp_path):
    """bgr4 (4-bit packed RGB, raw in NUT) decodes but cannot be converted to RGB."""
    path = tmp_path / "bgr4.nut"
    with av.open(str(path), "w") as out:
        s = out.add_stream("rawvideo", rate=24)
        s.width, s.height, s.pix_fmt = 16, 16, "bgr4"
        f = av.VideoFrame(16, 16, "bgr4")
        f.pts = 0
        for p in s.encode(f) + s.encode(None):
            out.mux(p)
    with pytest.raises(MediaError) as exc:
        open_clip(path)
    assert "unsupported pixel format bgr4" in one_line_naming(exc, path)


def test_sequence_with_gap(tmp_path, small_frames):
    with ClipWriter(tmp_path / "g.%04d.png", fps=24, width=320, height=180, first_frame_number=1) as w:
        for f in small_frames:
            w.write(f)
    (tmp_path / "g.0003.png").unlink()
    (tmp_path / "g.0004.png").unlink()
    with pytest.raises(MediaError) as exc:
        open_clip(tmp_path / "g.%04d.png")
    message = one_line_naming(exc, "g.%04d.png")
    assert "missing" in message and "3-4" in message


def test_a_numbered_photo_among_gappy_siblings_opens_alone(tmp_path, small_frames):
    """A camera folder (IMG_0007.jpg, IMG_0009.jpg, IMG_0012.jpg): one photo given by name opens
    as that photo, with a warning naming the gaps and the pattern; the pattern itself still
    refuses the gaps; without gaps the numbered file opens its whole sequence, unless the
    files differ in size (photos numbered in a row)."""
    photos = {7: small_frames[0], 9: np.ascontiguousarray(small_frames[1][:, ::-1]), 12: small_frames[2]}
    for number, frame in photos.items():
        cv2.imwrite(str(tmp_path / f"IMG_{number:04d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    with pytest.warns(RuntimeWarning, match=r"opening this image alone.*8, 10-11.*IMG_%04d\.jpg"):
        clip = open_clip(tmp_path / "IMG_0009.jpg")
    with clip:
        assert len(clip) == 1
        assert np.abs(clip.read(0).astype(int) - photos[9]).mean() < 3  # that photo (mirrored), no other
        assert np.abs(clip.read(0).astype(int) - photos[7]).mean() > 10
    with pytest.raises(MediaError, match="missing"):
        open_clip(tmp_path / "IMG_%04d.jpg")
    (tmp_path / "IMG_0012.jpg").unlink()
    cv2.imwrite(str(tmp_path / "IMG_0008.jpg"), cv2.cvtColor(small_frames[3], cv2.COLOR_RGB2BGR))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_clip(tmp_path / "IMG_0009.jpg") as clip:
            assert len(clip) == 3  # 7, 8, 9: a sequence
    # numbered in a row but of other sizes (face_001.jpg, face_002.jpg...): photos, not a sequence
    cv2.imwrite(str(tmp_path / "IMG_0010.jpg"), cv2.cvtColor(small_frames[4][:120, :200], cv2.COLOR_RGB2BGR))
    with pytest.warns(RuntimeWarning, match=r"differ in size.*200x120 and 320x180"):
        clip = open_clip(tmp_path / "IMG_0009.jpg")
    with clip:
        assert len(clip) == 1 and np.abs(clip.read(0).astype(int) - photos[9]).mean() < 3


def test_sequence_bad_frames(tmp_path, small_frames):
    with ClipWriter(tmp_path / "b.%04d.png", fps=24, width=320, height=180, first_frame_number=1) as w:
        for f in small_frames[:4]:
            w.write(f)
    (tmp_path / "b.0003.png").write_bytes((tmp_path / "b.0003.png").read_bytes()[:300])  # truncated
    cv2.imwrite(str(tmp_path / "b.0004.png"), np.zeros((10, 10, 3), np.uint8))  # wrong size
    with open_clip(tmp_path / "b.####.png") as clip:
        got = []
        with pytest.raises(MediaError) as exc:
            for f in clip.frames():
                got.append(f)
        one_line_naming(exc, "b.0003.png")
        assert len(got) == 2
        with pytest.raises(MediaError) as exc:
            clip.read(3)
        assert "10x10" in one_line_naming(exc, "b.0004.png")
    with pytest.raises(MediaError) as exc:
        open_clip(tmp_path / "none.%04d.exr")
    one_line_naming(exc, "none.%04d.exr")


def test_sequence_names():
    assert is_sequence_path("a/shot.%04d.exr") and is_sequence_path("shot.####.png")
    assert is_sequence_path("shot_v002.1001.exr") and not is_sequence_path("shot.mp4")
    assert not is_sequence_path("photo.png")
    assert not is_sequence_path("source_s12.jpg") and not is_sequence_path("take2.png")
    assert is_sequence_path("IMG_1234.jpg") and is_sequence_path("0001.png")
    p = parse_sequence_path("plates/shot_v002.1001.exr")
    assert (p.prefix, p.suffix, p.padding) == ("shot_v002.", ".exr", 4)
    assert p.path(12345).name == "shot_v002.12345.exr"
    assert parse_sequence_path("shot.####.tif").printf.name == "shot.%04d.tif"
    assert describe_gaps([1, 2, 5, 7]) == "3-4, 6"
    assert parse_sequence_path("frame####.png").printf.name == "frame%04d.png"
    assert parse_sequence_path("shot_##.png").padding == 2
    assert not is_sequence_path("Photo #3.png") and not is_sequence_path("gain 100%.png")


def test_fps_only_for_sequences(example_clip):
    with pytest.raises(MediaError):
        open_clip(example_clip, fps=25)


def test_deferred_frames_and_prepared_writes_give_the_same_pixels(tmp_path):
    """The pipeline's split of decode / convert / encode changes nothing: deferred frames equal
    ``frames``, and a movie written from ``prepare``d frames decodes to the same pixels as one
    written from the arrays (also with deep frames)."""
    from deage.video import ClipWriter, open_clip
    from deage.video.writer import PreparedFrame

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(5)]
    src = tmp_path / "src.mp4"
    with ClipWriter(src, fps=24, width=64, height=48) as w:
        for im in images:
            w.write(im)
    with open_clip(src) as clip:
        plain = list(clip.frames())
        deferred = [f() for f in clip.deferred_frames()]
        assert len(deferred) == 5 and all(np.array_equal(a, b) for a, b in zip(plain, deferred))
        floats = [f() for f in clip.deferred_frames(1, 3, precision=True)]
        assert all(np.array_equal(a, b) for a, b in zip(floats, clip.frames_float(1, 3)))

    outputs = {}
    for name, use_prepare in (("a.mp4", False), ("b.mp4", True)):
        with ClipWriter(tmp_path / name, fps=24, width=64, height=48) as w:
            assert w.prepare(plain[0]) is plain[0]  # before the first write: unchanged
            kinds = []
            for im in plain:
                item = w.prepare(im) if use_prepare else im
                kinds.append(type(item))
                w.write(item)
        if use_prepare:
            assert kinds[1:] == [PreparedFrame] * 4
        with open_clip(tmp_path / name) as clip:
            outputs[name] = list(clip.frames())
    assert all(np.array_equal(a, b) for a, b in zip(outputs["a.mp4"], outputs["b.mp4"]))

    with ClipWriter(tmp_path / "c.mp4", fps=24, width=64, height=48) as one, \
            ClipWriter(tmp_path / "d.mp4", fps=24, width=64, height=48) as other:
        one.write(plain[0])
        other.write(plain[0])
        with pytest.raises(ValueError, match="prepared by another writer"):
            other.write(one.prepare(plain[1]))


@pytest.mark.parametrize("codec, pix_fmt, full_range", [
    ("libx264", "yuv420p10le", False), ("libx264", "yuv420p10le", True), ("libx264", "yuv422p10le", False),
    ("libx264", "yuv444p10le", False), ("libx265", "yuv420p12le", False)])
def test_deep_frames_match_the_8_bit_frames_for_every_chroma_subsampling(tmp_path, small_frames, codec, pix_fmt,
                                                                         full_range):
    """A 10/12-bit H.264 / HEVC clip's float frames (what a deep render edits and writes) are its
    8-bit frames with more precision, whatever the chroma subsampling. swscale's full-chroma
    interpolation into 16-bit RGB turned 4:2:0 and 4:4:0 sources magenta and green (49 levels off)."""
    frames = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(
        format=pix_fmt, dst_colorspace=av.video.reformatter.Colorspace.ITU709,
        dst_color_range=av.video.reformatter.ColorRange.JPEG if full_range else av.video.reformatter.ColorRange.MPEG)
        for f in small_frames[:2]]
    # one x265 frame thread, no B-frames: a 2-frame HEVC stream then always muxes ("not yet implemented")
    options = {"crf": "12"} | ({"x265-params": "log-level=error:frame-threads=1:bframes=0"} if codec == "libx265" else {})
    path = encode_clip(tmp_path / "deep.mp4", frames, codec, options=options, tags=ColourTags(full_range=full_range))
    with open_clip(path) as clip:
        assert clip.info.bit_depth > 8
        deep = next(clip.frames_float())
        eight = clip.read(0).astype(np.float32)
    difference = np.abs(deep * 255 - eight)
    assert difference.mean() < 0.6 and difference.max() < 1.5, (difference.mean(), difference.max())
    assert np.abs(eight - small_frames[0]).mean() < 3  # and both are the picture encoded
