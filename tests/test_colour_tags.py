"""Colour passthrough: a render keeps its source's YUV matrix, range, primaries and transfer.

Phones record HDR (HLG, BT.2020, 10-bit HEVC) and full-range video; SD clips are BT.601. Writing
them all as BT.709 limited range changed every untouched pixel's code values (full range: 6.5
levels on average) and declared HDR pictures SDR. These tests make such clips from the example
clip and check the render's tags and its untouched pixels' code values.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Colorspace
from mediahelpers import encode_clip

from deage.look import default_look
from deage.render import render_clip
from deage.video import ClipWriter, open_clip
from deage.video.info import ColourTags

FRAMES = 6


def _tagged_clip(path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, size: tuple[int, int],
                 tags: ColourTags) -> Path:
    """A clip encoded with ``tags`` (matrix, range, primaries, transfer) the way a camera would."""
    sws = {1: Colorspace.ITU709, 6: Colorspace.ITU601, 9: Colorspace.BT2020}[tags.matrix]
    encoded = []
    for rgb in frames:
        frame = av.VideoFrame.from_ndarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), format="rgb24")
        frame = frame.reformat(format=pix_fmt, dst_colorspace=sws,
                               dst_color_range=ColorRange.JPEG if tags.full_range else ColorRange.MPEG)
        frame.colorspace, frame.color_primaries, frame.color_trc = tags.matrix, tags.primaries, tags.transfer
        frame.color_range = 2 if tags.full_range else 1
        encoded.append(frame)
    # One frame thread, no B-frames: a short x265 stream muxes the same every time (with frame
    # threads, 2-frame clips sometimes failed to mux: "not yet implemented").
    options = {"x265-params": "log-level=error:frame-threads=1:bframes=0"} if codec == "libx265" else {}
    return encode_clip(path, encoded, codec, options=options, tags=tags)


def _luma(path: Path, index: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Frame ``index``'s Y plane as 8-bit code values (10-bit ones / 4), and its tags."""
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                deep = "10" in frame.format.name
                plane = frame.planes[0]
                rows = np.frombuffer(plane, np.uint16 if deep else np.uint8)
                rows = rows.reshape(frame.height, plane.line_size // (2 if deep else 1))[:, :frame.width]
                tags = (int(frame.colorspace), int(frame.color_primaries), int(frame.color_trc), int(frame.color_range))
                return rows.astype(np.float32) / (4.0 if deep else 1.0), tags
    raise AssertionError(f"{path} has no frame {index}")


@pytest.fixture(scope="module")
def frames(example_clip) -> list[np.ndarray]:
    with open_clip(example_clip) as clip:
        return list(clip.frames(0, FRAMES))


CASES = {
    "hlg_hevc10": ("libx265", "yuv420p10le", (640, 360), ColourTags(9, 9, 18, False)),
    "full_range_sd": ("libx264", "yuv420p", (640, 360), ColourTags(6, 6, 6, True)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_keeps_the_source_colour(tmp_path, frames, case):
    codec, pix_fmt, size, tags = CASES[case]
    source = _tagged_clip(tmp_path / f"{case}.mp4", frames, codec, pix_fmt, size, tags)
    with open_clip(source) as clip:
        assert clip.info.colour == tags
    result = render_clip(source, tmp_path / "out.mp4", default_look(), provenance=False, cache_dir=tmp_path,
                         matte=tmp_path / "matte.mov")
    assert result.faces_edited > 0
    with open_clip(tmp_path / "out.mp4") as out:
        assert out.info.colour == tags
    before, _ = _luma(source, 3)
    after, written = _luma(tmp_path / "out.mp4", 3)
    assert written == (tags.matrix, tags.primaries, tags.transfer, 2 if tags.full_range else 1)
    with open_clip(tmp_path / "matte.mov") as matte:
        untouched = next(matte.frames(3, 4))[..., 0] == 0  # 0 where the matte is 0: outside every edit
    difference = np.abs(after - before)
    # Untouched pixels keep their code values, up to one H.264 re-encode (as BT.709 limited range
    # they moved 1.2 (HLG) and 6.5 (full range) levels on average, up to 16).
    assert untouched.mean() > 0.5 and difference[untouched].mean() < 0.9, difference[untouched].mean()
    assert difference[~untouched].max() > 8  # and the face was edited


def test_prores_keeps_hdr_tags_but_is_limited_range(tmp_path, frames):
    hdr = ColourTags(9, 9, 18, False)
    for name, tags, expected in [("hdr.mov", hdr, (9, 9, 18, 1)), ("full.mov", ColourTags(6, 6, 6, True), (6, 6, 6, 1))]:
        with ClipWriter(tmp_path / name, fps=24, width=64, height=64, colour=tags) as out:
            out.write(frames[0][:64, :64])
        assert _luma(tmp_path / name, 0)[1] == expected


def test_hdr_into_image_files_warns(tmp_path):
    with pytest.warns(RuntimeWarning, match="HDR"):
        ClipWriter(tmp_path / "f.%04d.png", fps=24, width=64, height=64, colour=ColourTags(9, 9, 18, False))


def test_default_colour_is_bt709_limited(example_clip):
    with open_clip(example_clip) as clip:
        assert clip.info.colour == ColourTags(1, 1, 1, False)


def test_info_names_the_colour(tmp_path, frames, capsys):
    from deage.cli import main

    source = _tagged_clip(tmp_path / "hlg.mp4", frames[:2], *CASES["hlg_hevc10"])
    assert main(["info", str(source)]) == 0
    assert "BT.2020 matrix, BT.2020 primaries, HLG transfer, limited range" in capsys.readouterr().out
    assert ColourTags(6, 6, 6, True).describe() == \
        "BT.601 (525) matrix, BT.601 (525) primaries, BT.601 transfer, full range"
    assert "#99 transfer" in ColourTags(transfer=99).describe()


def test_an_untagged_hd_clip_renders_untagged_so_every_decoder_reads_both_alike(tmp_path, frames):
    """Many tools write HD H.264 without colour tags. Players read such a clip as BT.709, FFmpeg's
    default conversions (PyAV's ``to_ndarray``, OpenCV) as BT.601. The render keeps the code values
    and, now, the absent tags: a BT.709 tag made the default decode of the render 4.8 levels off
    the default decode of the source outside the face."""
    encoded = []
    for rgb in frames:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709)
        frame.colorspace, frame.color_primaries, frame.color_trc, frame.color_range = 2, 2, 2, 0
        encoded.append(frame)
    source = encode_clip(tmp_path / "untagged.mp4", encoded, "libx264")
    assert _luma(source, 0)[1][:3] == (2, 2, 2)
    with open_clip(source) as clip:
        assert clip.info.colour == ColourTags(1, 1, 1, False, tagged=False)
        assert "untagged" in clip.info.colour.describe()
    out = tmp_path / "out.mp4"
    render_clip(source, out, default_look(), provenance=False, cache_dir=tmp_path, matte=tmp_path / "matte.mov")
    assert _luma(out, 3)[1][:3] == (2, 2, 2)
    with open_clip(out) as clip:
        assert clip.info.colour == ColourTags(1, 1, 1, False, tagged=False)

    def default_decode(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            return next(f for i, f in enumerate(container.decode(video=0)) if i == 3).to_ndarray(format="rgb24")

    with open_clip(tmp_path / "matte.mov") as matte:
        untouched = next(matte.frames(3, 4))[..., 0] == 0
    difference = np.abs(default_decode(out).astype(np.float32) - default_decode(source))
    assert untouched.mean() > 0.5 and difference[untouched].mean() < 0.9, difference[untouched].mean()
    assert difference[~untouched].max() > 8
