"""A source with an alpha channel (a cut-out portrait PNG, RGBA plates) keeps it in a render.

The edit changes colour, never coverage: the output's alpha is the source's, value for value,
in every image format that can hold one (PNG, TIFF, WebP, EXR); formats that cannot (JPEG, BMP, movies)
get the picture and a warning that the alpha was left out.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from deage.look import Look
from deage.render import render_clip
from deage.video import open_clip

LOOK = Look(editor="makeup", edit={"years": 25})


def cut_out(image: np.ndarray, shift: int = 0) -> np.ndarray:
    """uint8 (H, W) alpha: an opaque soft-edged ellipse around the astronaut's head and shoulders
    (moved ``shift`` px right), transparent corners, a ramp of partial coverage on its rim."""
    h, w = image.shape[:2]
    alpha = np.zeros((h, w), np.uint8)
    cv2.ellipse(alpha, (230 + shift, 220), (170, 230), 0, 0, 360, 255, -1)
    return cv2.GaussianBlur(alpha, (0, 0), 6)


def read_unchanged(path) -> np.ndarray:
    """The file's stored channels as OpenCV reads them (BGR[A], 8 or 16 bits)."""
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("ext", ["png", "tif", "webp"])
def test_a_cut_out_photo_keeps_its_alpha_and_the_face_is_edited(astronaut, tmp_path, ext):
    alpha = cut_out(astronaut)
    photo = tmp_path / "cutout.png"
    cv2.imwrite(str(photo), np.dstack([astronaut[..., ::-1], alpha]))
    with open_clip(photo) as clip:
        assert clip.info.has_alpha
        np.testing.assert_array_equal(np.round(clip.read_alpha(0) * 255), alpha)
    out = tmp_path / f"young.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is dropped: no warning
        render_clip(photo, out, LOOK, cache_dir=tmp_path / "cache", provenance=False)
    stored = read_unchanged(out)
    assert stored.shape == (512, 512, 4)
    scale = 257 if stored.dtype == np.uint16 else 1  # 16-bit PNG / TIFF, 8-bit WebP
    np.testing.assert_array_equal(stored[..., 3], alpha.astype(stored.dtype) * scale)
    before = astronaut[..., ::-1].astype(np.float32)
    after = stored[..., :3].astype(np.float32) / scale
    assert np.abs(after[80:220, 180:300] - before[80:220, 180:300]).mean() > 0.5  # the face is edited
    # far from the face, untouched; lossless WebP stores no colour under zero alpha (libwebp
    # without -exact, which FFmpeg does not expose): there, only visible pixels must match
    far = np.zeros(alpha.shape, bool)
    far[:, :60] = far[450:] = True
    if ext == "webp":
        far &= alpha > 0
    assert far.sum() > 3000
    np.testing.assert_array_equal(after[far], before[far])


@pytest.mark.parametrize("kind", ["grey+alpha png", "palette png", "rgba webp"])
def test_other_cut_out_stills_keep_their_alpha_value_for_value(astronaut, tmp_path, kind):
    """Cut-outs as tools make them: a grey portrait with alpha (PNG ``LA``: its opaque 255 came out
    254, swscale scaling an 8-bit alpha by 256), a palette PNG with transparency (pngquant, TinyPNG:
    its alpha was dropped), an RGBA WebP (Pillow decodes WebP; its alpha was dropped). Each comes
    out with its alpha exactly, silently, and its face edited."""
    from PIL import Image

    alpha = np.where(cut_out(astronaut) > 127, 255, 0).astype(np.uint8)  # a palette holds few alphas
    rgba = Image.fromarray(np.dstack([astronaut, alpha]))
    source = tmp_path / ("cutout.webp" if kind == "rgba webp" else "cutout.png")
    if kind == "grey+alpha png":
        rgba.convert("LA").save(source)
    elif kind == "palette png":
        rgba.quantize(colors=255, method=Image.Quantize.FASTOCTREE).save(source)
    else:
        rgba.save(source, lossless=True)
    with open_clip(source) as clip:
        assert clip.info.has_alpha
        np.testing.assert_array_equal(np.round(clip.read_alpha(0) * 255), alpha)
    out = tmp_path / ("young" + source.suffix)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_clip(source, out, LOOK, cache_dir=tmp_path / "cache", provenance=False)
    with Image.open(source) as a, Image.open(out) as b:
        np.testing.assert_array_equal(np.asarray(b.convert("RGBA"))[..., 3], alpha)
        before = np.asarray(a.convert("RGB")).astype(np.float32)
        after = np.asarray(b.convert("RGB")).astype(np.float32)
    assert np.abs(after[80:220, 180:300] - before[80:220, 180:300]).mean() > 0.5  # the face is edited


@pytest.mark.parametrize("processes", [0, 2])
def test_a_16_bit_rgba_sequence_keeps_each_frames_own_alpha(astronaut, tmp_path, monkeypatch, processes):
    """Two 16-bit RGBA PNG plates with different mattes: each rendered frame carries its own
    source frame's alpha at 16 bits (not the first frame's, not rounded to 8 bits), taken from
    the frame as it was decoded for the edit: the render never reads a frame a second time (it
    read each plate again for its alpha before), with editing threads or worker processes."""
    from deage.video.reader import Clip

    def reread(self, index):
        raise AssertionError(f"frame {index} was decoded a second time")
    rng = np.random.default_rng(5)
    alphas = []
    for i, shift in enumerate((0, 40)):
        fine = rng.integers(0, 200, (512, 512)).astype(np.uint16)  # sub-8-bit detail in the alpha
        coarse = cut_out(astronaut, shift).astype(np.uint16) * 257
        alpha = coarse - np.minimum(fine, coarse)
        alphas.append(alpha)
        cv2.imwrite(str(tmp_path / f"plate.{1001 + i:04d}.png"),
                    np.dstack([astronaut[..., ::-1].astype(np.uint16) * 257, alpha]))
    with open_clip(tmp_path / "plate.1001.png") as clip:  # the analysis, before reading is refused
        from deage.face.analysis import analyse_clip
        from deage.render import measure_tracks
        analysis = analyse_clip(clip, cache_dir=tmp_path / "cache")
        measure_tracks(LOOK, analysis, analysis.track_ids, clip.read)  # the apparent ages and glasses it reads for
    for name in ("read", "read_float", "read_alpha"):
        monkeypatch.setattr(Clip, name, reread)
    render_clip(tmp_path / "plate.1001.png", tmp_path / "young.%04d.png", LOOK, analysis=analysis,
                provenance=False, processes=processes)
    for i, alpha in enumerate(alphas):
        stored = read_unchanged(tmp_path / f"young.{1001 + i:04d}.png")
        assert stored.dtype == np.uint16 and stored.shape[2] == 4
        np.testing.assert_array_equal(stored[..., 3], alpha)


def test_an_exr_render_keeps_the_alpha_unlinearised(astronaut, tmp_path):
    """EXR stores colour scene-linear but alpha as coverage: the alpha reads back as the source's
    (to half precision), the colour far from the face as the photo's."""
    alpha = cut_out(astronaut)
    photo = tmp_path / "cutout.png"
    cv2.imwrite(str(photo), np.dstack([astronaut[..., ::-1], alpha]))
    render_clip(photo, tmp_path / "young.exr", LOOK, cache_dir=tmp_path / "cache", provenance=False)
    with open_clip(tmp_path / "young.exr") as clip:
        assert clip.info.has_alpha
        np.testing.assert_allclose(clip.read_alpha(0), alpha / 255.0, atol=1e-3)
        after = clip.read(0).astype(int)
    assert np.abs(after[:, :60] - astronaut[:, :60]).max() <= 1
    assert np.abs(after[80:220, 180:300] - astronaut[80:220, 180:300]).mean() > 0.5


@pytest.mark.parametrize("ext", ["jpg", "bmp"])
def test_an_output_without_alpha_says_it_left_the_alpha_out(astronaut, tmp_path, ext):
    photo = tmp_path / "cutout.png"
    cv2.imwrite(str(photo), np.dstack([astronaut[..., ::-1], cut_out(astronaut)]))
    out = tmp_path / f"young.{ext}"
    with pytest.warns(RuntimeWarning, match="alpha"):
        render_clip(photo, out, LOOK, cache_dir=tmp_path / "cache", provenance=False)
    with open_clip(out) as clip:
        assert not clip.info.has_alpha


def test_a_mov_of_rgba_plates_is_prores_4444_with_their_alpha(astronaut, tmp_path):
    """RGBA PNG plates rendered to .mov: ProRes 4444 (not 422 HQ, which has no alpha) carrying
    each frame's own alpha (through the encoder's 10-bit alpha plane: within a level of 255),
    the face edited; and that movie, rendered again to .mov and to a PNG sequence, passes its
    alpha on (a ProRes 4444 source's alpha was left out before)."""
    alphas = []
    for i, shift in enumerate((0, 40)):
        alphas.append(cut_out(astronaut, shift))
        cv2.imwrite(str(tmp_path / f"plate.{1001 + i:04d}.png"), np.dstack([astronaut[..., ::-1], alphas[-1]]))
    movie = tmp_path / "young.mov"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is dropped: no warning
        render_clip(tmp_path / "plate.1001.png", movie, LOOK, cache_dir=tmp_path / "cache", provenance=False)
    import av

    with av.open(str(movie)) as container:
        assert container.streams.video[0].codec_context.profile == "4444"
    with open_clip(movie) as clip:
        assert clip.info.codec == "prores" and clip.info.has_alpha and len(clip) == 2
        for i, alpha in enumerate(alphas):
            assert np.abs(clip.read_alpha(i) * 255 - alpha).max() <= 1
            after = clip.read(i).astype(int)
            assert np.abs(after[80:220, 180:300] - astronaut[80:220, 180:300]).mean() > 0.5  # the face is edited
    # The same with worker processes (which convert a movie's frames for the encoder themselves
    # where no alpha is carried): the same file.
    parallel = tmp_path / "parallel.mov"
    render_clip(tmp_path / "plate.1001.png", parallel, LOOK, cache_dir=tmp_path / "cache", provenance=False,
                processes=2)
    with open_clip(movie) as one, open_clip(parallel) as two:
        for i in range(2):
            np.testing.assert_array_equal(two.read(i), one.read(i))
            np.testing.assert_array_equal(two.read_alpha(i), one.read_alpha(i))
    again, frames = tmp_path / "again.mov", tmp_path / "again.%04d.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_clip(movie, again, LOOK, cache_dir=tmp_path / "cache", provenance=False)
        render_clip(movie, frames, LOOK, cache_dir=tmp_path / "cache", provenance=False)
    with open_clip(again) as clip:
        assert clip.info.has_alpha
        for i, alpha in enumerate(alphas):
            assert np.abs(clip.read_alpha(i) * 255 - alpha).max() <= 1
    for i, alpha in enumerate(alphas):
        stored = read_unchanged(tmp_path / f"again.{1001 + i:04d}.png")
        assert stored.shape == (512, 512, 4)
        assert np.abs(stored[..., 3] / 257 - alpha).max() <= 1


def test_an_opaque_source_is_written_without_alpha(astronaut, tmp_path):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), astronaut[..., ::-1])
    with open_clip(photo) as clip:
        assert not clip.info.has_alpha
        np.testing.assert_array_equal(clip.read_alpha(0), np.ones((512, 512), np.float32))
    render_clip(photo, tmp_path / "young.png", LOOK, cache_dir=tmp_path / "cache", provenance=False)
    assert read_unchanged(tmp_path / "young.png").shape == (512, 512, 3)
