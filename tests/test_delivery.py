"""Delivery formats: every one reads back with the right frame count, size, bit depth, first frame
number and colour tagging, holding the rendered pixels; plus the proposed alpha and matte outputs.

Bit depth and colour are checked in the files themselves (PNG IHDR and chunks, the EXR header,
TIFF samples, the codec's stream tags), not only through deage's own reader.
"""

from __future__ import annotations

import inspect
import struct
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deage.look import Look
from deage.render import render_clip
from deage.video import ClipWriter, open_clip

FRAMES = (0, 3)
BT709 = 1  # AVCOL_PRI_BT709 / AVCOL_TRC_BT709 / AVCOL_SPC_BT709


def exr_header(path: Path) -> dict[str, tuple[str, bytes]]:
    """Attributes of a scanline OpenEXR file's header: name -> (type, raw value)."""
    data = path.read_bytes()
    assert data[:4] == b"\x76\x2f\x31\x01", f"{path.name} is not an OpenEXR file"
    attrs, pos = {}, 8
    while data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        start = type_end + 5
        attrs[data[pos:name_end].decode()] = (data[name_end + 1:type_end].decode(), data[start:start + size])
        pos = start + size
    return attrs


def exr_channel_types(raw: bytes) -> dict[str, int]:
    """``chlist`` -> {channel: pixel type} (0 uint, 1 half, 2 float)."""
    out, pos = {}, 0
    while raw[pos] != 0:
        end = raw.index(b"\0", pos)
        (pixel_type,) = struct.unpack_from("<i", raw, end + 1)
        out[raw[pos:end].decode()] = pixel_type
        pos = end + 1 + 16
    return out


def png_chunks(path: Path) -> dict[str, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4:pos + 8].decode("latin-1")
        chunks.setdefault(kind, data[pos + 8:pos + 8 + length])
        pos += 12 + length
    return chunks


@pytest.fixture(scope="module")
def source_frames(example_clip):
    with open_clip(example_clip) as clip:
        return [f.astype(np.int16) for f in clip.frames(*FRAMES)]


# name, codec, pix_fmt of the stream, bits, ProRes profile, lossless-ish max difference
FORMATS = [
    ("deliver.mp4", None, "yuv420p", 8, None, None),
    ("deliver_hq.mov", None, "yuv422p10le", 10, "HQ", None),
    ("deliver_4444.mov", "prores4444", None, 10, "4444", None),
    ("shot.####.exr", None, "gbrpf16le", 16, None, 1),
    ("shot.%04d.png", None, "rgb48be", 16, None, 0),
    ("shot.####.tif", None, "rgb48le", 16, None, 0),
]


@pytest.mark.parametrize("name, codec, pix_fmt, bits, profile, max_diff", FORMATS,
                         ids=["h264", "prores422hq", "prores4444", "exr-half", "png16", "tiff16"])
def test_delivery_format_reads_back(example_clip, source_frames, tmp_path, name, codec, pix_fmt, bits, profile,
                                    max_diff):
    out = tmp_path / name
    render_clip(example_clip, out, Look(), frames=FRAMES, codec=codec)
    with open_clip(out) as clip:
        info = clip.info
        frames = [f.astype(np.int16) for f in clip.frames()]
    assert info.frame_count == 3 and (info.width, info.height) == (1280, 720)
    assert info.bit_depth >= bits
    if pix_fmt is not None:
        assert info.pix_fmt == pix_fmt
    for got, want in zip(frames, source_frames):
        diff = np.abs(got - want)
        if max_diff is not None:
            assert diff.max() <= max_diff
        else:
            psnr = 10 * np.log10(255.0**2 / max(float(np.mean(diff.astype(np.float64) ** 2)), 1e-9))
            assert psnr > 40, psnr

    if info.is_sequence:
        assert info.first_frame_number == 1001
        first = tmp_path / name.replace("####", "1001").replace("%04d", "1001")
        assert sorted(p.name for p in tmp_path.glob(f"shot.*{first.suffix}")) == [
            f"shot.{n}{first.suffix}" for n in (1001, 1002, 1003)]
        assert (tmp_path / "shot.audio.mka").is_file()      # sequences cannot hold the plate's audio
        if first.suffix == ".exr":
            header = exr_header(first)
            assert set(exr_channel_types(header["channels"][1]).values()) == {1}   # half float
            assert struct.unpack("<f", header["gamma"][1])[0] == 1.0              # states linear light
        elif first.suffix == ".png":
            ihdr = png_chunks(first)["IHDR"]
            assert ihdr[8] == 16 and ihdr[9] == 2                                  # 16-bit RGB
        else:
            tif = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
            assert tif.dtype == np.uint16 and tif.shape == (720, 1280, 3)
    else:
        assert info.first_frame_number == 0 and info.has_audio
        with av.open(str(out)) as container:
            ctx = container.streams.video[0].codec_context
            assert (ctx.color_primaries, ctx.color_trc, ctx.colorspace) == (BT709, BT709, BT709)
            if profile is not None:
                assert ctx.name == "prores" and ctx.profile == profile


def test_sequence_with_a_chosen_first_frame(tmp_path, source_frames):
    with ClipWriter(tmp_path / "plate.####.exr", fps=24, width=1280, height=720, first_frame_number=1) as writer:
        for f in source_frames:
            writer.write(f.astype(np.uint8))
    assert sorted(p.name for p in tmp_path.glob("plate.*.exr")) == ["plate.0001.exr", "plate.0002.exr",
                                                                     "plate.0003.exr"]
    with open_clip(tmp_path / "plate.0002.exr") as clip:
        assert (clip.info.first_frame_number, clip.info.frame_count, clip.info.bit_depth) == (1, 3, 16)


def test_png_sequence_states_srgb(tmp_path, source_frames):
    with ClipWriter(tmp_path / "srgb.%04d.png", fps=24, width=1280, height=720) as writer:
        writer.write(source_frames[0].astype(np.uint8))
    assert "sRGB" in png_chunks(tmp_path / "srgb.1001.png")


def test_prores4444_with_alpha(tmp_path, source_frames):
    rgba = np.dstack([source_frames[0].astype(np.uint8), np.tile(np.linspace(0, 255, 1280, dtype=np.uint8), (720, 1))])
    with ClipWriter(tmp_path / "alpha.mov", fps=24, width=1280, height=720, codec="prores4444") as writer:
        writer.write(rgba)
    with av.open(str(tmp_path / "alpha.mov")) as container:
        frame = next(container.decode(video=0))
        assert frame.format.name.startswith("yuva444p")
        alpha = frame.to_ndarray(format="rgba64le")[..., 3] / 65535.0
    assert np.abs(alpha[360, ::160] - np.linspace(0, 1, 1280)[::160]).max() < 0.01


def test_matte_is_the_union_of_blend_masks(example_clip, tmp_path):
    if "matte" not in inspect.signature(render_clip).parameters:
        pytest.skip("render_clip has no matte= option yet (proposed as exact code in the review report)")
    out, matte = tmp_path / "young.mkv", tmp_path / "young_matte.####.png"
    render_clip(example_clip, out, Look(editor="makeup", edit={"years": 20}), frames=(0, 2), codec="ffv1",
                matte=matte)
    with open_clip(example_clip) as src, open_clip(out) as ren, open_clip(matte) as mat:
        assert len(mat) == 2 and mat.info.bit_depth == 16 and mat.info.first_frame_number == 1001
        for a, b, m in zip(src.frames(0, 2), ren.frames(), mat.frames_float()):
            alpha = m[..., 0]
            assert np.allclose(m[..., 0], m[..., 2]) and 0.99 < alpha.max() <= 1.0
            changed = np.any(a != b, axis=2)
            assert changed.any() and np.all(alpha[changed] > 0)   # every edited pixel is in the matte
            assert alpha[:50, :50].max() == 0 and not changed[alpha == 0].any()
