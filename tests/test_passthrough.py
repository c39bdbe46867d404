"""deage.video.passthrough: a render encodes only what the edit changed over the decoded frame.

Checked at the encoder's input (the frames ``ClipWriter`` hands its encoder, captured), on a
real-face clip and on a 10-bit ProRes plate: outside the edit the encoder gets the source's
decoded code values, bit for bit, where a whole-frame conversion moves them; inside, exactly
what a whole-frame conversion gives.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import av
import numpy as np
import pytest

from deage.look import Look
from deage.render import render_clip
from deage.scale.outputs import RenderOutputs
from deage.video import open_clip
from deage.video.info import ColourTags
from deage.video.passthrough import FrameChange, can_encode_over, encode_over, find_change
from deage.video.pixels import frame_to_float, frame_to_rgb8, plane_rows
from deage.video.writer import ClipWriter, EncoderConversion

from mediahelpers import encode_clip

LOOK = Look.from_dict({"editor": "makeup", "edit": {"years": 20}, "blend": {"mode": "multiband", "feather": 8}})


def planes_of(frame: av.VideoFrame) -> list[np.ndarray]:
    """Copies of a planar YUV frame's planes, cut to their pixel sizes (uint8, or uint16 past 8 bits)."""
    fmt = frame.format
    dtype = np.uint8 if fmt.components[0].bits <= 8 else np.dtype("<u2")
    sizes = [(frame.height, frame.width)] + [(fmt.chroma_height(frame.height), fmt.chroma_width(frame.width))] * 2
    return [plane_rows(p, dtype)[:h, :w].copy() for p, (h, w) in zip(frame.planes, sizes)]


def decoded_planes(path: Path, start: int, stop: int) -> list[list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = [planes_of(f) for i, f in zip(range(stop), container.decode(video=0)) if i >= start]
    return frames


def encoder_input(monkeypatch, path: Path) -> list[list[np.ndarray]]:
    """Fills with the planes of every frame the writer of ``path`` hands its encoder."""
    got: list[list[np.ndarray]] = []
    original = ClipWriter._write_video

    def spy(self, frame, seconds):
        if self.path == path:
            got.append(planes_of(frame))
        return original(self, frame, seconds)

    monkeypatch.setattr(ClipWriter, "_write_video", spy)
    return got


def render_both_ways(source: Path, output: Path, monkeypatch, **kwargs) -> tuple[list, list]:
    """Encoder input of a render encoding over the decoded frames, and of the same render
    converting whole frames (``encodes_over`` refused)."""
    over = encoder_input(monkeypatch, output)
    render_clip(source, output, LOOK, provenance=False, **kwargs)
    whole_path = output.with_name("whole" + output.suffix)
    whole = encoder_input(monkeypatch, whole_path)
    monkeypatch.setattr(RenderOutputs, "encodes_over", lambda self, frame: False)
    render_clip(source, whole_path, LOOK, provenance=False, **kwargs)
    return over, whole


def check_planes(source: list[np.ndarray], over: list[np.ndarray], whole: list[np.ndarray]) -> None:
    """Luma and chroma: outside what the edit changed, ``over`` is the source exactly (``whole``
    is not everywhere); where it changed, ``over`` equals ``whole`` exactly."""
    changed = over[0] != source[0]
    assert changed.sum() > 2000  # the face was edited
    ys, xs = np.nonzero(changed)
    assert ys.max() - ys.min() < 0.8 * changed.shape[0] and xs.max() - xs.min() < 0.8 * changed.shape[1]
    np.testing.assert_array_equal(over[0][changed], whole[0][changed])
    # A round trip moves code values (on the example clip's frames 900-1300 luma samples outside
    # the face, a content-dependent count: what matters is that ``over`` moves none of them).
    assert np.count_nonzero(whole[0][~changed] != source[0][~changed]) > 300
    for plane in (1, 2):
        moved = over[plane] != source[plane]
        np.testing.assert_array_equal(over[plane][moved], whole[plane][moved])
        assert np.count_nonzero(whole[plane][~moved] != source[plane][~moved]) > 100


def test_an_h264_render_keeps_the_source_code_values_outside_the_edit(example_clip, tmp_path, monkeypatch):
    """The example clip (H.264 4:2:0) rendered to .mp4: frame by frame, the encoder's input is
    the decoded source except where the face changed, and there it is the whole-frame conversion's."""
    over, whole = render_both_ways(example_clip, tmp_path / "out.mp4", monkeypatch, frames=(20, 24),
                                   cache_dir=tmp_path / "cache")
    source = decoded_planes(example_clip, 20, 24)
    assert len(over) == len(whole) == len(source) == 4
    for s, o, w in zip(source, over, whole):
        check_planes(s, o, w)


def test_a_prores_plate_rendered_to_prores_keeps_its_10_bit_code_values(astronaut, tmp_path, monkeypatch):
    """A 10-bit ProRes 422 plate rendered to .mov (ProRes, full-precision plates): the same at 10 bits."""
    frames = []
    for i in range(3):
        image = np.roll(astronaut, 3 * i, axis=1)
        frames.append(av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
            format="yuv422p10le", dst_colorspace=av.video.reformatter.Colorspace.ITU709))
    plate = encode_clip(tmp_path / "plate.mov", frames, "prores_ks", options={"profile": "3"},
                        tags=ColourTags())
    over, whole = render_both_ways(plate, tmp_path / "out.mov", monkeypatch, cache_dir=tmp_path / "cache")
    source = decoded_planes(plate, 0, 3)
    assert over[0][0].dtype == np.uint16 and over[0][0].max() > 255
    for s, o, w in zip(source, over, whole):
        check_planes(s, o, w)


def test_a_10_bit_hdr_clip_to_mp4_is_hevc_main_10_keeping_its_code_values(astronaut, tmp_path, monkeypatch):
    """A phone's 10-bit HLG HEVC clip rendered to .mp4: HEVC Main 10 (tagged hvc1, HLG / BT.2020
    kept), not 8-bit H.264, which banded it and moved every pixel; outside the edit the encoder
    gets the decoded 10-bit code values."""
    hlg = ColourTags(9, 9, 18, False)
    frames = [av.VideoFrame.from_ndarray(np.roll(astronaut, 3 * i, axis=1), format="rgb24").reformat(
        format="yuv420p10le", dst_colorspace=av.video.reformatter.Colorspace.BT2020) for i in range(3)]
    source = encode_clip(tmp_path / "hlg.mp4", frames, "libx265", tags=hlg,
                         options={"x265-params": "log-level=error:frame-threads=1:bframes=0"})
    over, whole = render_both_ways(source, tmp_path / "out.mp4", monkeypatch, cache_dir=tmp_path / "cache")
    with av.open(str(tmp_path / "out.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_tag, stream.codec_context.pix_fmt) == ("hevc", "hvc1", "yuv420p10le")
    with open_clip(tmp_path / "out.mp4") as clip:
        assert clip.info.colour == hlg and clip.info.bit_depth == 10
    for s, o, w in zip(decoded_planes(source, 0, 3), over, whole):
        assert o[0].dtype == np.uint16
        check_planes(s, o, w)
        for plane in (1, 2):  # the edit is makeup: chroma moves a little (4:2:0 plates went magenta)
            moved = o[plane] != s[plane]
            assert np.abs(o[plane][moved].astype(int) - s[plane][moved]).mean() < 24


@pytest.mark.parametrize("codec, source_fmt, suffix, output_fmt", [
    ("libx264", "yuv444p", ".mp4", "yuv444p"),
    ("libx264", "yuv422p", ".mp4", "yuv422p"),
    ("prores_ks", "yuv444p10le", ".mov", "yuv444p12le"),
])
def test_a_4_4_4_or_4_2_2_source_keeps_its_chroma_resolution(astronaut, tmp_path, monkeypatch,
                                                             codec, source_fmt, suffix, output_fmt):
    """A 4:4:4 / 4:2:2 source is not written 4:2:0 (or ProRes 422): chroma halved would move
    colour edges all over the frame. H.264 keeps the source's layout and, outside the edit, its
    code values; a 4:4:4 ProRes plate is written as ProRes 4444, with 4444's profile (FFmpeg decodes
    ProRes 4444 at 12 bits, so its code values cannot pass through the 10-bit encoder unchanged)."""
    frames = [av.VideoFrame.from_ndarray(np.roll(astronaut, 3 * i, axis=1), format="rgb24").reformat(
        format=source_fmt, dst_colorspace=av.video.reformatter.Colorspace.ITU709) for i in range(3)]
    source = encode_clip(tmp_path / f"src{suffix}", frames, codec,
                         options={"qp": "0"} if codec == "libx264" else {"profile": "4"}, tags=ColourTags())
    said = pytest.warns(RuntimeWarning, match="only play 4:2:0") if codec == "libx264" else contextlib.nullcontext()
    with said:  # H.264 4:2:2 / 4:4:4 is not played everywhere: the render says so
        over, whole = render_both_ways(source, tmp_path / f"out{suffix}", monkeypatch, cache_dir=tmp_path / "cache")
    with av.open(str(tmp_path / f"out{suffix}")) as container:
        assert container.streams.video[0].codec_context.pix_fmt == output_fmt
        if codec != "libx264":  # ProRes 4444's own profile (it was written as 422 HQ: decoded 10-bit)
            assert container.streams.video[0].codec_context.profile == "4444"
    if codec != "libx264":
        return
    for s, o, w in zip(decoded_planes(source, 0, 3), over, whole):
        changed = o[0] != s[0]
        assert 2000 < changed.sum() < 0.3 * changed.size  # the face, and only the face, was edited
        for plane in range(3):
            assert o[plane].shape == s[plane].shape
            moved = o[plane] != s[plane]
            np.testing.assert_array_equal(o[plane][moved], w[plane][moved])


# ------------------------------------------------------------------------------ the parts


def _decoded_frame(path: Path, index: int) -> av.VideoFrame:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame
    raise AssertionError("clip too short")


def test_find_change_boxes_every_changed_pixel_with_a_margin_on_the_chroma_grid(example_clip):
    frame = frame_to_rgb8(_decoded_frame(example_clip, 5))
    assert find_change(frame, frame.copy()) is None
    edited = frame.copy()
    edited[101, 333, 2] ^= 1  # one bit of one channel
    edited[300:305, 601] = 0
    change = find_change(frame, edited)
    assert isinstance(change, FrameChange)
    x0, y0, x1, y1 = change.box
    assert all(v % 2 == 0 for v in change.box)
    assert x0 <= 333 - 8 and y0 <= 101 - 8 and x1 >= 601 + 9 and y1 >= 305 + 8
    assert x1 - x0 < 300 + 40 and y1 - y0 < 204 + 40
    assert change.changed.sum() == 1 + 5
    np.testing.assert_array_equal(change.after, edited[y0:y1, x0:x1])
    corner = frame.copy()
    corner[-1, -1] += 1  # at the frame's edge the box stops there
    assert find_change(frame, corner).box[2:] == (frame.shape[1], frame.shape[0])
    plate = frame_to_float(_decoded_frame(example_clip, 5))
    brighter = plate.copy()
    brighter[50:60, 70:80] += 0.5
    assert find_change(plate, brighter).changed.sum() == 100
    with pytest.raises(ValueError, match="differ"):
        find_change(frame, plate)


def test_encode_over_needs_the_same_format_matrix_and_range(example_clip):
    decoded = _decoded_frame(example_clip, 0)
    tags = ColourTags()  # BT.709, limited range: the example clip's
    assert can_encode_over(decoded, EncoderConversion("yuv420p", "h264", True, colour=tags))
    assert not can_encode_over(decoded, EncoderConversion("yuv422p10le", "prores", True, colour=tags))
    assert not can_encode_over(decoded, EncoderConversion("yuv420p", "h264", True, colour=ColourTags(matrix=6)))
    assert not can_encode_over(decoded, EncoderConversion("yuv420p", "h264", True,
                                                          colour=ColourTags(full_range=True)))
    assert not can_encode_over(decoded, EncoderConversion("bgr0", "ffv1", False))
    assert not can_encode_over(decoded, None)
    jpeg_range = av.VideoFrame(64, 64, "yuvj420p")  # MJPEG and some phones: full range by name
    jpeg_range.colorspace = 1  # BT.709 (untagged, a frame this small is read as BT.601)
    full = EncoderConversion("yuv420p", "h264", True, colour=ColourTags(full_range=True))
    assert can_encode_over(jpeg_range, full)
    assert not can_encode_over(jpeg_range, EncoderConversion("yuv420p", "h264", True, colour=tags))
    plane = plane_rows(jpeg_range.planes[0])
    plane[:] = np.arange(plane.shape[1], dtype=np.uint8)
    out = encode_over(jpeg_range, None, full)
    assert out.format.name == "yuv420p" and int(out.color_range) == 2
    np.testing.assert_array_equal(planes_of(out)[0], planes_of(jpeg_range)[0])


def test_encode_over_leaves_the_decoded_frame_alone_and_tags_the_new_one(example_clip):
    decoded = _decoded_frame(example_clip, 3)
    before = [p.copy() for p in planes_of(decoded)]
    rgb = frame_to_rgb8(decoded)
    edited = rgb.copy()
    edited[200:260, 400:470] = (250, 20, 20)
    conversion = EncoderConversion("yuv420p", "h264", True, colour=ColourTags(primaries=1, transfer=1))
    out = encode_over(decoded, find_change(rgb, edited), conversion)
    assert all(np.array_equal(a, b) for a, b in zip(before, planes_of(decoded)))  # decoders reuse its buffers
    assert (int(out.colorspace), int(out.color_range)) == (1, 1)
    y = planes_of(out)[0]
    assert (y[200:260, 400:470] == 75).all()  # BT.709 limited-range luma of (250, 20, 20)
    assert np.mean(y[200:260, 400:470] != before[0][200:260, 400:470]) > 0.9
    assert np.array_equal(np.delete(y, np.s_[200:260], axis=0), np.delete(before[0], np.s_[200:260], axis=0))
    unchanged = encode_over(decoded, None, conversion)
    assert all(np.array_equal(a, b) for a, b in zip(before, planes_of(unchanged)))


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p", "yuv444p"])
def test_encode_over_handles_odd_sizes_and_every_subsampling(pix_fmt):
    """A 4:2:0 / 4:2:2 / 4:4:4 frame of odd size (chroma planes rounded up): only the changed
    pixels' luma and their chroma samples move."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(40, 200, (49, 65, 3), dtype=np.uint8)
    decoded = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format=pix_fmt, dst_colorspace=av.video.reformatter.Colorspace.ITU709)
    decoded.colorspace = 1
    conversion = EncoderConversion(pix_fmt, "h264", True, colour=ColourTags())
    assert can_encode_over(decoded, conversion)
    before = frame_to_rgb8(decoded)
    after = before.copy()
    after[30:49, 50:65] = (255, 255, 0)  # a corner block, out to the odd edges
    out = planes_of(encode_over(decoded, find_change(before, after), conversion))
    source = planes_of(decoded)
    changed = np.zeros((49, 65), bool)
    changed[30:49, 50:65] = True
    assert (out[0] != source[0])[changed].mean() > 0.9 and np.array_equal(out[0][~changed], source[0][~changed])
    for plane in (1, 2):
        moved = np.argwhere(out[plane] != source[plane])
        assert len(moved) > 0
        rows = moved[:, 0] * (2 if out[plane].shape[0] < 49 else 1)
        cols = moved[:, 1] * (2 if out[plane].shape[1] < 65 else 1)
        assert rows.min() >= 28 and cols.min() >= 48  # only samples covering the changed block
