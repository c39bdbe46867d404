"""Non-square pixels (anamorphic plates, HDV, NTSC DV): read, kept on output, faces found and edited unsqueezed.

A 2x anamorphic plate stores a face at half its width. The face models only know faces with
their true proportions, so the analysis works on unsqueezed frames and alignment unsqueezes each
crop; the render writes the source's pixel aspect so players show it as the source was.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from deage.face.align import estimate_alignment, template_points, transform_points
from deage.face.analysis import Analysis, analyse_clip, analyse_frames
from deage.look import default_look
from deage.render import render_clip
from deage.studio.views import fit_width
from deage.video import ClipWriter, open_clip
from deage.video.info import pixel_aspect_of

FRAMES = 24


@pytest.fixture(scope="module")
def square_frames(example_clip) -> list[np.ndarray]:
    with open_clip(example_clip) as clip:
        return list(clip.frames(0, FRAMES))


def _write(path: Path, frames: list[np.ndarray], size: tuple[int, int], aspect: Fraction, codec: str | None = None) -> Path:
    with ClipWriter(path, fps=24, width=size[0], height=size[1], pixel_aspect=aspect, codec=codec) as out:
        for frame in frames:
            out.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    return path


@pytest.fixture(scope="module")
def anamorphic(tmp_path_factory, square_frames) -> Path:
    """The example clip squeezed to half its width (640x720), flagged 2:1 pixels (displays 1280x720)."""
    return _write(tmp_path_factory.mktemp("anamorphic") / "plate.mp4", square_frames, (640, 720), Fraction(2))


@pytest.mark.parametrize("name, codec", [("a.mp4", None), ("a.mov", None), ("a.mov", "prores4444"),
                                         ("a.%04d.exr", None)])
def test_pixel_aspect_is_written_and_read_back(tmp_path, square_frames, name, codec):
    path = _write(tmp_path / name, square_frames[:2], (320, 360), Fraction(2), codec)
    with open_clip(path) as clip:
        assert clip.info.pixel_aspect == 2
        assert clip.info.to_dict()["pixel_aspect"] == "2/1"
    square = _write(tmp_path / ("sq_" + name), square_frames[:2], (320, 360), Fraction(1), codec)
    with open_clip(square) as clip:
        assert clip.info.pixel_aspect == 1


def test_photos_are_read_with_square_pixels(tmp_path, square_frames):
    """Viewers ignore a PNG's or JPEG's pixel density, so deage does too (only EXR / DPX plates count)."""
    path = _write(tmp_path / "still.png", square_frames[:1], (320, 360), Fraction(2))
    assert b"pHYs" in path.read_bytes()  # the file does declare 2:1
    with open_clip(path) as clip:
        assert clip.info.pixel_aspect == 1


def test_matroska_says_it_cannot_keep_the_pixel_aspect(tmp_path, square_frames):
    with pytest.warns(RuntimeWarning, match="pixel aspect"):
        _write(tmp_path / "a.mkv", square_frames[:1], (320, 360), Fraction(2))


def test_rotation_turns_the_pixel_aspect():
    assert pixel_aspect_of(Fraction(2), 0) == 2
    assert pixel_aspect_of(Fraction(2), 90) == Fraction(1, 2)
    assert pixel_aspect_of(Fraction(4, 3), 270) == Fraction(3, 4)
    assert pixel_aspect_of(None) == 1 and pixel_aspect_of(Fraction(0)) == 1


def test_alignment_unsqueezes_the_face():
    template = template_points("ffhq", 512)
    squeezed = (template * [0.25, 0.5] + [100.0, 80.0]).astype(np.float32)  # a face at 1/2 scale, x squeezed 2x
    matrix = estimate_alignment(squeezed, "ffhq", 512, pixel_aspect=2.0)
    np.testing.assert_allclose(transform_points(squeezed, matrix), template, atol=1e-3)
    # Taken as square, the same points do not fit the template: the face would be edited squeezed.
    square = estimate_alignment(squeezed, "ffhq", 512)
    assert np.abs(transform_points(squeezed, square) - template).max() > 20


def test_anamorphic_clip_is_analysed_unsqueezed(anamorphic, example_clip, tmp_path):
    plate = analyse_clip(anamorphic, cache_dir=tmp_path)
    reference = analyse_clip(example_clip, cache_dir=tmp_path)
    assert plate.pixel_aspect == 2.0 and (plate.width, plate.height) == (640, 720)
    assert len(plate.tracks) == 1 and len(plate.tracks[0].faces) == FRAMES
    for index in (0, FRAMES // 2, FRAMES - 1):
        face, ref = plate.faces_at(index)[1], reference.faces_at(index)[1]
        assert face.pixel_aspect == 2.0
        expected = (ref.landmarks + 0.5) * [0.5, 1.0] - 0.5  # the square clip's landmarks, squeezed
        assert np.abs(face.landmarks - expected).mean() < 1.5
    # The cache keeps it.
    again = analyse_clip(anamorphic, cache_dir=tmp_path)
    assert again.from_cache and again == plate and again.faces_at(0)[1].pixel_aspect == 2.0
    # Without unsqueezing, the detector does not see the squeezed face at all.
    with open_clip(anamorphic) as clip:
        frames = list(clip.frames(0, 4))
    assert analyse_frames(frames, 24).tracks == []
    assert len(analyse_frames(frames, 24, pixel_aspect=2.0).tracks) == 1


def test_anamorphic_render_edits_like_the_square_one(anamorphic, example_clip, tmp_path, square_frames):
    look = default_look()
    render_clip(anamorphic, tmp_path / "plate_out.mp4", look, frames=(0, 4), provenance=False,
                cache_dir=tmp_path)
    render_clip(example_clip, tmp_path / "square_out.mp4", look, frames=(0, 4), provenance=False,
                cache_dir=tmp_path)
    with open_clip(anamorphic) as src, open_clip(tmp_path / "plate_out.mp4") as out, \
            open_clip(tmp_path / "square_out.mp4") as ref:
        assert out.info.pixel_aspect == 2 and (out.info.width, out.info.height) == (640, 720)
        plate_in, plate_out, square_out = next(src.frames()), next(out.frames()), next(ref.frames())
    square_edit = square_out.astype(np.float32) - square_frames[0]
    plate_edit = cv2.resize(plate_out.astype(np.float32) - plate_in, (1280, 720), interpolation=cv2.INTER_LINEAR)
    face = np.abs(square_edit).max(axis=2) > 3
    assert face.sum() > 20000
    corr = np.corrcoef(square_edit[face].ravel(), plate_edit[face].ravel())[0, 1]
    assert corr > 0.6, corr  # the same edit in the same places (unsqueezed), at half the horizontal detail
    outside = cv2.dilate(face.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    assert np.abs(plate_edit[outside]).mean() < 1.0


def test_analysis_file_keeps_the_pixel_aspect(anamorphic, tmp_path):
    plate = analyse_clip(anamorphic, cache_dir=tmp_path)
    loaded = Analysis.load(plate.save(tmp_path / "plate.npz"))
    assert loaded.pixel_aspect == 2.0 and loaded.faces_at(3)[1].pixel_aspect == 2.0
    assert loaded.to_json()["pixel_aspect"] == 2.0


def test_previews_show_the_picture_unsqueezed():
    image = np.zeros((720, 640, 3), np.uint8)
    assert fit_width(image, 1000, 2.0).shape == (360, 640, 3)  # 2:1 pixels: shown 640x360 (16:9)
    assert fit_width(image, 320, 2.0).shape == (180, 320, 3)
    assert fit_width(np.zeros((720, 1706, 3), np.uint8), 2000, 0.75).shape == (720, 1280, 3)
    assert fit_width(image, 1000) is image


def test_report_thumbnails_are_unsqueezed():
    from deage.review.thumbnails import make_thumbnail

    frame = np.zeros((720, 640, 3), np.uint8)
    cv2.ellipse(frame, (320, 360), (70, 140), 0, 0, 360, (255, 255, 255), -1)  # a round disc, squeezed 2:1
    box = np.array([250.0, 220.0, 390.0, 500.0])

    def roundness(image: np.ndarray) -> float:
        ys, xs = np.nonzero(image[..., 0] > 127)
        return np.ptp(xs) / np.ptp(ys)

    thumb = make_thumbnail(frame, frame, box, size=256, pixel_aspect=2.0)
    assert abs(roundness(thumb.before) - 1.0) < 0.05  # shown round, as it is
    assert abs(roundness(make_thumbnail(frame, frame, box, size=256).before) - 0.5) < 0.05  # taken as square pixels
    whole = make_thumbnail(frame, frame, None, size=256, pixel_aspect=2.0)
    assert whole.before.shape == (144, 256, 3)  # 640x720 at 2:1 is 16:9


def test_gpu_path_edits_anamorphic_faces_like_the_cpu_path(anamorphic, tmp_path):
    """The GPU code run on torch's CPU device, on a 2:1 plate: same pixels within 2 levels."""
    import torch

    from deage.render import FrameRenderer

    plate = analyse_clip(anamorphic, cache_dir=tmp_path)
    with open_clip(anamorphic) as clip:
        frame = clip.read(5)
    faces, look = plate.faces_at(5), default_look()
    cpu, _ = FrameRenderer(look, analysis=plate).render(frame, 5, faces)
    gpu, _ = FrameRenderer(look, analysis=plate, device=torch.device("cpu")).render(frame, 5, faces)
    assert np.abs(cpu.astype(int) - frame).max() > 10
    diff = np.abs(cpu.astype(np.int16) - gpu.astype(np.int16))
    assert diff.max() <= 2 and diff.mean() < 0.5, (diff.max(), diff.mean())
