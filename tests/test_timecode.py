"""Timecode: a render carries its source's SMPTE timecode, shifted to the first rendered frame.

Editorial conforms a returned VFX shot by its timecode; a render that dropped it (or kept the
plate's first frame's for a range starting later) would drop in at the wrong place.
"""

from __future__ import annotations

from fractions import Fraction
import struct
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deage.look import default_look
from deage.render import render_clip
from deage.video import open_clip
from deage.video import ClipWriter
from deage.video.timecode import format_timecode, image_timecode, pack_smpte, parse, shift, stamp_image

from mediahelpers import encode_clip

NTSC, NTSC60 = Fraction(30000, 1001), Fraction(60000, 1001)


def test_non_drop_timecode_counts_frames_and_wraps_at_a_day():
    assert parse("01:00:00:00", Fraction(24)) == 86400
    assert shift("01:00:10:05", 10, Fraction(24)) == "01:00:10:15"
    assert shift("00:00:00:23", 1, Fraction(24)) == "00:00:01:00"
    assert shift("23:59:59:24", 1, Fraction(25)) == "00:00:00:00"
    assert shift("00:00:59:29", 1, NTSC) == "00:01:00:00"  # 29.97 written non-drop stays non-drop


def test_drop_frame_timecode_skips_the_first_frame_numbers_of_most_minutes():
    assert shift("00:00:59;29", 1, NTSC) == "00:01:00;02"
    assert shift("00:09:59;29", 1, NTSC) == "00:10:00;00"  # every tenth minute keeps them
    assert shift("00:00:59;59", 1, NTSC60) == "00:01:00;04"
    assert parse("01:00:00;00", NTSC) == 107892  # an hour of drop-frame: 29.97 x 3600, rounded
    for count in range(0, 250000, 1237):
        assert parse(format_timecode(count, NTSC, drop=True), NTSC) == count


@pytest.mark.parametrize("text", ["", "1:00:00", "01:60:00:00", "01:00:00:24", "abc", None])
def test_unreadable_timecodes_are_none(text):
    assert shift(text, 3, Fraction(24)) is None


@pytest.fixture(scope="module")
def timecoded_clip(example_clip, tmp_path_factory) -> Path:
    """16 frames of the example clip at 640x360, with a tmcd track starting at 01:00:10:05."""
    path = tmp_path_factory.mktemp("timecode") / "plate.mov"
    with open_clip(example_clip) as clip:
        frames = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in clip.frames(0, 16)]
    encoded = [av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p") for rgb in frames]
    return encode_clip(path, encoded, "libx264", metadata={"timecode": "01:00:10:05"})


@pytest.mark.parametrize("ext", [".mov", ".mp4"])
def test_a_render_carries_the_timecode_of_its_first_frame(timecoded_clip, tmp_path, ext):
    with open_clip(timecoded_clip) as clip:
        assert clip.info.timecode == "01:00:10:05"
    out = tmp_path / f"out{ext}"
    render_clip(timecoded_clip, out, default_look(), frames=(10, 14), matte=tmp_path / "matte.mkv",
                provenance=False, cache_dir=tmp_path / "cache")
    for written in (out, tmp_path / "matte.mkv"):
        with open_clip(written) as clip:
            assert len(clip) == 4 and clip.info.timecode == "01:00:10:15", written
    whole = tmp_path / f"whole{ext}"
    render_clip(timecoded_clip, whole, default_look(), provenance=False, cache_dir=tmp_path / "cache")
    with open_clip(whole) as clip:
        assert clip.info.timecode == "01:00:10:05"


def test_a_clip_without_timecode_renders_without_one(example_clip, tmp_path):
    with open_clip(example_clip) as clip:
        assert clip.info.timecode is None
    out = tmp_path / "out.mov"
    render_clip(example_clip, out, default_look(), frames=(0, 2), provenance=False, cache_dir=tmp_path / "c")
    with av.open(str(out)) as container:
        assert not [s for s in container.streams if s.type == "data"]
        assert np.all([k.lower() != "timecode" for k in container.streams.video[0].metadata])


# ------------------------------------------------------------------- DPX and EXR plates

def bcd_word(text: str) -> int:
    """``"HH:MM:SS:FF"`` (``;`` = drop frame) as an SMPTE 12M packed word (BCD, bit 6 = drop)."""
    digits = [int(part) for part in text.replace(";", ":").split(":")]
    word = 0
    for value in digits:
        word = word << 8 | (value // 10) << 4 | value % 10
    return word | (1 << 6 if ";" in text else 0)


def dpx_with_timecode(path: Path, rgb: np.ndarray, word: int) -> Path:
    """An 8-bit DPX file of ``rgb`` (FFmpeg's encoder, whose header stops before the television
    header) with a full 2048-byte header whose television header records ``word``."""
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = rgb.shape[1], rgb.shape[0], "rgb24", Fraction(1, 24)
    data = bytearray(bytes(ctx.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24"))[0]))
    order = "<" if data[:4] == b"XPDS" else ">"
    offset, = struct.unpack(order + "I", data[4:8])
    header, pixels = data[:offset] + b"\xff" * (2048 - offset), data[offset:]
    header[4:8] = struct.pack(order + "I", 2048)
    header[16:20] = struct.pack(order + "I", 2048 + len(pixels))
    header[1920:1924] = struct.pack(order + "I", word)
    path.write_bytes(bytes(header + pixels))
    return path


def exr_with_timecode(path: Path, rgb: np.ndarray, word: int) -> Path:
    """A half-float EXR of ``rgb`` (deage's writer) with a ``timeCode`` attribute added to its
    header (the chunk offset table shifted to match)."""
    from deage.video import ClipWriter

    plain = path.with_name("plain_" + path.name)
    with ClipWriter(plain, fps=24, width=rgb.shape[1], height=rgb.shape[0]) as writer:
        writer.write(rgb)
    data = plain.read_bytes()
    pos = 8
    while data[pos] != 0:  # attributes: name, type, size, value
        type_end = data.index(b"\0", data.index(b"\0", pos) + 1)
        size, = struct.unpack("<i", data[type_end + 1:type_end + 5])
        pos = type_end + 5 + size
    end = pos + 1  # the offset table follows the header's closing zero
    count = (struct.unpack("<Q", data[end:end + 8])[0] - end) // 8
    attribute = b"timeCode\0timecode\0" + struct.pack("<iII", 8, word, 0)
    table = struct.pack(f"<{count}Q", *(o + len(attribute) for o in struct.unpack(f"<{count}Q", data[end:end + 8 * count])))
    path.write_bytes(data[:pos] + attribute + data[pos:end] + table + data[end + 8 * count:])
    return path


def test_image_timecode_reads_dpx_and_exr_headers(tmp_path):
    rgb = np.full((16, 16, 3), 100, np.uint8)
    assert image_timecode(dpx_with_timecode(tmp_path / "a.dpx", rgb, bcd_word("01:00:10:05"))) == "01:00:10:05"
    assert image_timecode(dpx_with_timecode(tmp_path / "b.dpx", rgb, bcd_word("10:59:59;29"))) == "10:59:59;29"
    assert image_timecode(exr_with_timecode(tmp_path / "a.exr", rgb, bcd_word("23:00:00:11"))) == "23:00:00:11"
    with open_clip(tmp_path / "a.exr") as clip:  # the added attribute leaves the picture readable
        np.testing.assert_array_equal(clip.read(0), rgb)
    # none recorded, digits that are no time, a short header, other formats: None
    assert image_timecode(dpx_with_timecode(tmp_path / "c.dpx", rgb, 0xFFFFFFFF)) is None
    assert image_timecode(dpx_with_timecode(tmp_path / "d.dpx", rgb, 0x010A0000)) is None
    assert image_timecode(exr_with_timecode(tmp_path / "e.exr", rgb, 0x25000000)) is None  # hour 25
    (tmp_path / "short.dpx").write_bytes(b"SDPX" + b"\0" * 100)
    assert image_timecode(tmp_path / "short.dpx") is None
    assert image_timecode(tmp_path / "plain_a.exr") is None
    assert image_timecode(tmp_path / "missing.exr") is None


@pytest.mark.parametrize("ext", ["dpx", "exr"])
def test_a_dpx_or_exr_plate_renders_with_its_timecode(example_clip, tmp_path, ext):
    """A four-frame plate whose files record 01:00:10:05 onwards: the sequence opens with its
    first file's timecode, and a render of frames 1-2 into .mov starts at 01:00:10:06."""
    make = dpx_with_timecode if ext == "dpx" else exr_with_timecode
    with open_clip(example_clip) as clip:
        frames = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in clip.frames(0, 4)]
    for i, rgb in enumerate(frames):
        make(tmp_path / f"plate.{1001 + i}.{ext}", np.ascontiguousarray(rgb), bcd_word(f"01:00:10:{5 + i:02d}"))
    with open_clip(tmp_path / f"plate.1001.{ext}") as clip:
        assert len(clip) == 4 and clip.info.timecode == "01:00:10:05"
    out = tmp_path / "young.mov"
    render_clip(tmp_path / f"plate.1001.{ext}", out, default_look(), frames=(1, 3), provenance=False,
                cache_dir=tmp_path / "cache")
    with open_clip(out) as clip:
        assert len(clip) == 2 and clip.info.timecode == "01:00:10:06"


@pytest.mark.parametrize("ext", ["dpx", "exr"])
def test_a_dpx_or_exr_sequence_render_records_each_frames_timecode(example_clip, tmp_path, ext):
    """Frames 1-2 of a plate starting at 01:00:10:05 rendered into a DPX / EXR sequence: each
    file's header records its own frame's timecode (01:00:10:06, 01:00:10:07; editorial conforms
    returned frames by them), and the render opens as a sequence starting at 01:00:10:06."""
    make = dpx_with_timecode if ext == "dpx" else exr_with_timecode
    with open_clip(example_clip) as clip:
        frames = [cv2.resize(f, (320, 180), interpolation=cv2.INTER_AREA) for f in clip.frames(0, 3)]
    for i, rgb in enumerate(frames):
        make(tmp_path / f"plate.{1001 + i}.{ext}", np.ascontiguousarray(rgb), bcd_word(f"01:00:10:{5 + i:02d}"))
    render_clip(tmp_path / f"plate.1001.{ext}", tmp_path / f"young.%04d.{ext}", default_look(), frames=(1, 3),
                provenance=False, cache_dir=tmp_path / "cache")
    assert [image_timecode(tmp_path / f"young.{n}.{ext}") for n in (1002, 1003)] == ["01:00:10:06", "01:00:10:07"]
    with open_clip(tmp_path / f"young.1002.{ext}") as clip:
        assert len(clip) == 2 and clip.info.timecode == "01:00:10:06"


def test_sequence_timecodes_count_up_across_a_drop_frame_minute(tmp_path):
    """At 29.97 fps drop frame, the frame after 00:00:59;29 is 00:01:00;02; a PNG sequence has no
    place for a timecode (written without one)."""
    rgb = np.full((16, 16, 3), 90, np.uint8)
    for ext in ("dpx", "exr", "png"):
        with ClipWriter(tmp_path / f"tc.%04d.{ext}", fps=NTSC, width=16, height=16, timecode="00:00:59;28") as writer:
            for _ in range(3):
                writer.write(rgb)
        found = [image_timecode(tmp_path / f"tc.{n}.{ext}") for n in (1001, 1002, 1003)]
        assert found == ([None] * 3 if ext == "png" else ["00:00:59;28", "00:00:59;29", "00:01:00;02"]), ext


def test_stamping_leaves_what_it_cannot_stamp_as_it_is(tmp_path):
    assert pack_smpte("01:00:10:05") == bcd_word("01:00:10:05") and pack_smpte("10:59:59;29") == bcd_word("10:59:59;29")
    assert pack_smpte("25:00:00:00") is None and pack_smpte("no") is None
    fps = Fraction(24)
    for data, suffix in ((b"\x89PNG\r\n\x1a\n" + bytes(64), ".png"), (b"SDPX" + bytes(100), ".dpx"),
                         (b"v/1\x01" + bytes(40), ".exr"), (b"XPDS" + bytes(3000), ".dpx")):
        assert stamp_image(data, suffix, "01:00:00:00", fps) == data, suffix  # not a header it knows
    stamped = exr_with_timecode(tmp_path / "a.exr", np.full((8, 8, 3), 50, np.uint8), bcd_word("02:00:00:00")).read_bytes()
    assert stamp_image(stamped, ".exr", "01:00:00:00", fps) == stamped  # one recorded already stays
    assert stamp_image(stamped, ".exr", None, fps) == stamped


def test_dpx_output_is_10_bit_and_gives_back_what_was_written(tmp_path):
    """8-bit frames into DPX are written 10-bit and read back bit for bit; a 10-bit plate's
    float frames are written 10-bit again, code value for code value."""
    rgb = np.random.default_rng(3).integers(0, 256, (24, 32, 3)).astype(np.uint8)
    rgb[0, :, 0] = np.arange(32) * 8
    with ClipWriter(tmp_path / "a.%04d.dpx", fps=24, width=32, height=24) as writer:
        writer.write(rgb)
    with open_clip(tmp_path / "a.1001.dpx") as clip:
        assert clip.info.pix_fmt == "gbrp10le"
        np.testing.assert_array_equal(clip.read(0), rgb)
    ten = np.random.default_rng(4).integers(0, 1024, (24, 32, 3)).astype(np.uint16)
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 32, 24, "gbrp10le", Fraction(1, 24)
    (tmp_path / "plate.dpx").write_bytes(bytes(ctx.encode(av.VideoFrame.from_ndarray(ten, format="gbrp10le"))[0]))
    with open_clip(tmp_path / "plate.dpx") as clip:
        plate, pix_fmt = clip.read_float(0), clip.info.pix_fmt
    with ClipWriter(tmp_path / "b.%04d.dpx", fps=24, width=32, height=24, source_pix_fmt=pix_fmt) as writer:
        writer.write(plate)
    with av.open(str(tmp_path / "b.1001.dpx")) as container:
        np.testing.assert_array_equal(next(container.decode(video=0)).to_ndarray(), ten)

