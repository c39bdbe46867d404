"""Interlaced sources (broadcast, DV, older cameras): the field order is read and H.264 renders keep it.

Writing an interlaced picture as progressive frames makes players show its combing on every
moving edge instead of deinterlacing it; H.264 output is flagged interlaced with the source's
field order, other codecs warn.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from mediahelpers import encode_clip

from deage.look import default_look
from deage.render import render_clip
from deage.video import ClipWriter, open_clip


def _interlaced_clip(path: Path, frames: list[np.ndarray], order: str) -> Path:
    encoded = [av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p") for rgb in frames]
    return encode_clip(path, encoded, "libx264", rate=25, options={"x264-params": f"interlaced=1:{order}=1"})


def _flags(path: Path) -> tuple[bool, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return bool(frame.interlaced_frame), int(container.streams.video[0].codec_context.field_order)


@pytest.mark.parametrize("order, av_field_order", [("tff", 2), ("bff", 3)])
def test_an_interlaced_source_renders_interlaced(example_clip, tmp_path, order, av_field_order):
    with open_clip(example_clip) as clip:
        frames = list(clip.frames(0, 6))
    source = _interlaced_clip(tmp_path / f"{order}.mp4", frames, order)
    with open_clip(source) as clip:
        assert clip.info.field_order == order
    result = render_clip(source, tmp_path / "out.mp4", default_look(), provenance=False, cache_dir=tmp_path)
    assert result.faces_edited > 0
    assert _flags(tmp_path / "out.mp4") == (True, av_field_order)
    with open_clip(tmp_path / "out.mp4") as clip:
        assert clip.info.field_order == order


def test_progressive_stays_progressive_and_other_codecs_warn(example_clip, tmp_path):
    with open_clip(example_clip) as clip:
        assert clip.info.field_order == "progressive"
        frame = clip.read(0)
    with ClipWriter(tmp_path / "p.mp4", fps=25, width=frame.shape[1], height=frame.shape[0]) as out:
        out.write(frame)
    assert _flags(tmp_path / "p.mp4")[0] is False
    with pytest.warns(RuntimeWarning, match="interlaced"):
        ClipWriter(tmp_path / "i.mov", fps=25, width=64, height=64, field_order="tff")
    with pytest.raises(ValueError, match="field_order"):
        ClipWriter(tmp_path / "x.mp4", fps=25, width=64, height=64, field_order="upper")
