"""A photo's ICC profile and EXIF go into the rendered photo (``deage.video.photo_tags``).

Phones shoot Display P3 with an ICC profile; without it, colour-managed viewers show the
render's same RGB values as sRGB, and the picture's date, camera and place were lost too.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from deage.render import render_clip
from deage.look import default_look
from deage.video.photo_tags import PhotoTags, embed_photo_tags, read_photo_tags

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


@pytest.fixture(scope="module")
def profile() -> bytes:
    """A real ICC profile (Pillow's built-in LAB profile: anything not sRGB would do)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


def _tagged_jpeg(path: Path, rgb: np.ndarray, profile: bytes, orientation: int = 1) -> Path:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Maker", "Model 7", orientation
    exif.get_ifd(EXIF_IFD).update({0x829A: 0.01, 0x9003: "2024:05:01 10:00:00", 0xA002: rgb.shape[1], 0xA003: rgb.shape[0]})
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 0.0)})
    Image.fromarray(rgb).save(path, quality=95, icc_profile=profile, exif=exif.tobytes())
    return path


@pytest.mark.parametrize("suffix, alpha", [(".jpg", False), (".png", False), (".png", True), (".webp", False),
                                           (".webp", True)])
def test_tags_go_into_encoded_files_that_every_reader_still_opens(tmp_path, astronaut, profile, suffix, alpha):
    source = _tagged_jpeg(tmp_path / "src.jpg", astronaut, profile, orientation=6)
    tags = read_photo_tags(source)
    assert tags.icc == profile and tags.exif
    image = np.dstack([astronaut, np.full(astronaut.shape[:2], 200, np.uint8)]) if alpha else astronaut
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if alpha else cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else [])
    assert ok
    data = embed_photo_tags(encoded.tobytes(), suffix, tags)
    assert embed_photo_tags(encoded.tobytes(), suffix, PhotoTags()) == encoded.tobytes()
    with Image.open(io.BytesIO(data)) as back:
        back.load()
        assert back.info.get("icc_profile") == profile
        exif = back.getexif()
        assert (exif[0x010F], exif[0x0110], exif[0x0112], exif[0x0131]) == ("Maker", "Model 7", 1, "deage")
        assert exif.get_ifd(EXIF_IFD)[0x9003] == "2024:05:01 10:00:00"
        assert (exif.get_ifd(EXIF_IFD)[0xA002], exif.get_ifd(EXIF_IFD)[0xA003]) == (512, 512)
        assert exif.get_ifd(GPS_IFD)[1] == "N"
        pixels = np.asarray(back)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # libpng / libjpeg / libwebp
    assert decoded.shape[:2] == astronaut.shape[:2] and decoded.shape[2] == (4 if alpha else 3)
    assert pixels.shape[2] == (4 if alpha else 3)
    if suffix != ".jpg":  # lossless: the picture is untouched
        np.testing.assert_array_equal(pixels[..., :3], astronaut)


def test_a_rendered_photo_keeps_its_profile_and_camera_data(tmp_path, astronaut, profile):
    """A phone-style JPEG (ICC profile, EXIF with a 90-degree orientation, GPS) rendered to JPEG
    and PNG: both keep the profile and the EXIF. The PNG is upright with orientation 1 and the
    pixel dimensions swapped to match; the JPEG, encoded as the camera encoded it, is stored as
    the source was (sideways, orientation 6, the source's dimensions) and shows upright the same;
    a photo without them gets none."""
    from PIL import ImageOps

    upright = np.ascontiguousarray(astronaut[:, 40:440])  # 400 x 512, her face whole
    turned = np.ascontiguousarray(np.rot90(upright, 1))  # stored sideways, orientation 6 turns it back
    source = _tagged_jpeg(tmp_path / "phone.jpg", turned, profile, orientation=6)
    for name, orientation, stored in (("young.png", 1, (400, 512)), ("young.jpg", 6, (512, 400))):
        render_clip(source, tmp_path / name, default_look(), provenance=False, cache_dir=tmp_path)
        with Image.open(tmp_path / name) as out:
            assert out.info.get("icc_profile") == profile
            exif = out.getexif()
            assert exif[0x0112] == orientation and exif[0x010F] == "Maker" and exif[0x0131] == "deage"
            assert (exif.get_ifd(EXIF_IFD)[0xA002], exif.get_ifd(EXIF_IFD)[0xA003]) == stored
            assert out.size == stored
            assert ImageOps.exif_transpose(out).size == (400, 512)
    plain = tmp_path / "plain.jpg"
    Image.fromarray(astronaut).save(plain, quality=95)
    render_clip(plain, tmp_path / "plain_young.jpg", default_look(), provenance=False, cache_dir=tmp_path)
    with Image.open(tmp_path / "plain_young.jpg") as out:
        assert "icc_profile" not in out.info and len(out.getexif()) == 0


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_a_jpeg_stored_turned_loses_no_more_than_an_upright_one(tmp_path, astronaut, orientation):
    """Phones store portrait photos sideways with an EXIF orientation. A render to JPEG is stored
    as the source was (same orientation, same block grid), so outside the edit it loses what an
    upright source loses; turned upright and encoded with the same tables it lost twice as much
    (0.65 levels against 0.31 on the astronaut at 4:2:0). Every orientation, mirrored ones too,
    shows the render upright, the face de-aged in place."""
    from PIL import ImageOps

    from deage.video.photo_tags import _STORED_FROM_UPRIGHT

    transpose = getattr(Image.Transpose, _STORED_FROM_UPRIGHT[orientation])
    stored = Image.fromarray(astronaut).transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(tmp_path / "turned.jpg", quality=90, exif=exif.tobytes())
    Image.fromarray(astronaut).save(tmp_path / "upright.jpg", quality=90)
    errors = {}
    for name in ("turned", "upright"):
        source, out = tmp_path / f"{name}.jpg", tmp_path / f"{name}_young.jpg"
        render_clip(source, out, default_look(), provenance=False, cache_dir=tmp_path, matte=tmp_path / f"{name}.png")
        with Image.open(source) as a, Image.open(out) as b:
            assert b.getexif().get(0x0112, 1) == a.getexif().get(0x0112, 1)
            before = np.asarray(ImageOps.exif_transpose(a).convert("RGB")).astype(int)
            after = np.asarray(ImageOps.exif_transpose(b).convert("RGB")).astype(int)
        matte = cv2.imread(str(tmp_path / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        outside = (matte if matte.ndim == 2 else matte[..., 0]) == 0
        assert outside.shape == astronaut.shape[:2] and 0.5 < outside.mean() < 0.99
        errors[name] = np.abs(after - before)[outside].mean()
        assert np.abs(after - before)[~outside].mean() > 0.5  # the face is edited, in place
    assert errors["turned"] < 1.2 * errors["upright"] + 0.02, errors


def test_a_tiff_render_keeps_the_profile(tmp_path, astronaut, profile):
    """A photographer's 16-bit TIFF in a wide-gamut space (ProPhoto, Adobe RGB) rendered to TIFF
    lost its profile, so every colour-managed application read the same values as sRGB. The
    profile now goes into the TIFF's image directory; the 16-bit pixels are untouched."""
    source = tmp_path / "retouch.tif"
    Image.fromarray(astronaut).save(source, icc_profile=profile)
    assert read_photo_tags(source).icc == profile
    render_clip(source, tmp_path / "young.tif", default_look(), provenance=False, cache_dir=tmp_path)
    with Image.open(tmp_path / "young.tif") as out:
        assert out.info.get("icc_profile") == profile
    back = cv2.imread(str(tmp_path / "young.tif"), cv2.IMREAD_UNCHANGED)  # libtiff
    assert back.dtype == np.uint16 and back.shape == (512, 512, 3)
    corner = (back[:60, :60].astype(np.float64) / 257).round()  # far from the face: untouched
    np.testing.assert_array_equal(corner[..., ::-1], astronaut[:60, :60])
    plain = tmp_path / "plain.tif"
    Image.fromarray(astronaut).save(plain)
    assert embed_photo_tags(plain.read_bytes(), ".tif", PhotoTags(icc=None, exif=b"x")) == plain.read_bytes()


@pytest.mark.parametrize("subsampling", [2, 0])
def test_a_jpeg_photo_rendered_to_jpeg_is_encoded_as_the_camera_encoded_it(tmp_path, astronaut, subsampling):
    """A real face photo stored as a JPEG (quality 85; 4:2:0 as phones store them, and 4:4:4):
    the render's JPEG has the source's quantisation tables and subsampling and about its size,
    and far from the face its pixels come back as the source's: 0.05 levels on average, 96 % exact,
    at 4:4:4; 0.4 levels, 81 % exact at 4:2:0, where the chroma is subsampled a second time
    (FFmpeg's MJPEG encoder, the writer before: 1.4-1.5 levels, 18-20 % exact, and files nearly
    twice the size); the face is de-aged."""
    from PIL import JpegImagePlugin

    from deage.face.backends.dlib_backend import DlibDetector

    source = tmp_path / "photo.jpg"
    Image.fromarray(astronaut).save(source, "JPEG", quality=85, subsampling=subsampling)
    out = tmp_path / "young.jpg"
    render_clip(source, out, default_look())
    with Image.open(source) as a, Image.open(out) as b:
        assert b.quantization == a.quantization
        assert JpegImagePlugin.get_sampling(b) == JpegImagePlugin.get_sampling(a) == subsampling
        before, after = np.asarray(a.convert("RGB")).astype(int), np.asarray(b.convert("RGB")).astype(int)
    assert 0.75 < out.stat().st_size / source.stat().st_size < 1.25
    (face,) = DlibDetector().detect(astronaut)
    x0, y0, x1, y1 = face.box.astype(int)
    w, h = x1 - x0, y1 - y0
    far = np.ones(astronaut.shape[:2], bool)
    far[max(y0 - h, 0):y1 + h, max(x0 - w, 0):x1 + w] = False
    change = np.abs(after - before).max(axis=2)
    mean, exact = (0.1, 0.9) if subsampling == 0 else (0.5, 0.75)
    assert change[far].mean() < mean and (change[far] == 0).mean() > exact
    assert change[y0:y1, x0:x1].mean() > 0.5


def test_tables_libjpeg_refuses_fall_back_to_ffmpegs_encoder(tmp_path, astronaut):
    """A source encoding Pillow cannot repeat (here: tables of the wrong length) still gives a JPEG."""
    from deage.video.photo_tags import JpegEncoding
    from deage.video.writer import ClipWriter

    out = tmp_path / "still.jpg"
    tags = PhotoTags(jpeg=JpegEncoding({0: [1] * 10, 1: [1] * 10}, 2))
    with ClipWriter(out, fps=1, width=512, height=512, photo_tags=tags) as w:
        w.write(astronaut)
    with Image.open(out) as image:
        assert image.size == (512, 512)
        assert np.abs(np.asarray(image.convert("RGB")).astype(int) - astronaut).mean() < 3
