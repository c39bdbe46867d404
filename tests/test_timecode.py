"""Timecode: a render carries its source's SMPTE timecode, shifted to the first rendered frame.

Editorial conforms a returned VFX shot by its timecode; a render that dropped it (or kept the
plate's first frame's for a range starting later) would drop in at the wrong place.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deage.look import default_look
from deage.render import render_clip
from deage.video import open_clip
from deage.video.timecode import format_timecode, parse, shift

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
