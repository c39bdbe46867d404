"""Region masks from landmarks and the per-face skin-colour model, on real faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import read_rgb
from deage.errors import DeageError
from deage.face import masks
from deage.face.align import align_face
from deage.face.masks import WRINKLE_REGIONS, FaceFrame, face_regions
from facehelpers import detect_faces, largest_face


@pytest.fixture(scope="module")
def astronaut_crop(astronaut):
    return align_face(astronaut, largest_face(astronaut), "ffhq", 512)


@pytest.fixture(scope="module")
def selfie_crops(shared_media):
    image = read_rgb(shared_media / "fo_selfie_diverse_group.jpg")
    faces = [f for f in detect_faces(image) if f.width > 120]
    assert len(faces) == 5, "the diverse selfie has five people"
    return [align_face(image, f, "ffhq", 512) for f in faces]


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask > 0.5)
    return np.array([xs.mean(), ys.mean()])


def _poly_mask(points: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size, size), np.uint8)
    cv2.fillPoly(out, [np.round(points).astype(np.int32)], 1)
    return out.astype(bool)


def test_regions_sit_where_the_anatomy_is(astronaut_crop):
    lm = astronaut_crop.landmarks
    fr = face_regions(astronaut_crop.image, lm)
    for name in WRINKLE_REGIONS:
        assert (fr.regions[name] > 0.5).sum() > 100, f"region {name} is empty on a frontal face"
    brow_y = lm[17:27, 1].mean()
    eye_y = lm[36:48, 1].mean()
    nose_y, mouth_y, chin_y = lm[33, 1], lm[48:60, 1].mean(), lm[8, 1]
    assert _centroid(fr.regions["forehead"])[1] < brow_y
    assert brow_y - 30 < _centroid(fr.regions["glabella"])[1] < eye_y
    assert abs(_centroid(fr.regions["glabella"])[0] - lm[27, 0]) < 15
    assert eye_y < _centroid(fr.regions["under_eye"])[1] < nose_y
    assert nose_y - 20 < _centroid(fr.regions["nasolabial"])[1] < chin_y
    assert mouth_y < _centroid(fr.regions["marionette"])[1] < chin_y + 10
    assert _centroid(fr.regions["neck"])[1] > chin_y - 10
    crows = fr.regions["crows_feet"] > 0.5
    assert crows[:, : int(lm[36, 0])].any() and crows[:, int(lm[45, 0]):].any(), "crow's feet on both sides"


def test_the_neck_region_runs_down_the_neck_narrower_than_the_jaw_and_fades(older_face):
    """The neck area (landmarks only), in the makeup editor's head crop: full under the chin,
    easing out between 0.6 and 1.1 eye distances below it, no wider than 0.8 of the jaw at its
    foot (beside the neck is hair, a collar, the shoulders), and 0 on the crop's edge rows (an
    edit must not end in a straight line where the crop ends)."""
    crop = align_face(older_face, largest_face(older_face), "head", 512)
    lm = crop.landmarks
    regions, _, _, _, frame = masks.landmark_regions(lm, 512, 512)
    neck, d = regions["neck"], frame.eye_distance

    def at(below: float, across: float) -> float:
        x, y = lm[8] - frame.up * below * d + frame.x_axis * across * d
        return float(neck[int(round(y)), int(round(x))])

    assert at(0.3, 0.0) > 0.95 and at(0.6, 0.3) > 0.95 and at(0.6, -0.3) > 0.95
    assert 0.05 < at(0.85, 0.0) < 0.95 and at(1.2, 0.0) < 0.01
    width = 0.8 * float((lm[12] - lm[8]) @ frame.x_axis) / d  # the band's half width at its foot
    assert at(0.6, width - 0.1) > 0.2
    # 0.9 eye distances to either side of her throat is beside her neck (inside the band while it
    # ran straight down from the jaw's widest points)
    assert at(0.7, 0.9) < 0.1 and at(0.7, -0.9) < 0.1
    assert max(neck[-2:].max(), neck[:, -2:].max(), neck[:, :2].max()) < 1e-3


def test_features_are_protected_and_never_in_a_region(astronaut_crop):
    lm = astronaut_crop.landmarks
    fr = face_regions(astronaut_crop.image, lm)
    size = fr.size
    union = np.max([fr.regions[n] for n in WRINKLE_REGIONS], axis=0)
    for name, idx in (("left eye", range(36, 42)), ("right eye", range(42, 48)), ("lips", range(48, 60))):
        inside = _poly_mask(lm[list(idx)], size)
        assert fr.protect[inside].min() > 0.9, f"{name} not fully protected"
        assert union[inside].max() < 0.05, f"a wrinkle region reaches into the {name}"
    brows = np.vstack([lm[17:22], lm[22:27]])
    for x, y in brows:
        assert fr.protect[int(round(y)), int(round(x))] > 0.9


def test_skin_model_covers_every_skin_tone_and_excludes_features(selfie_crops):
    """Five people of different skin tones: cheeks read as skin, eyes and mouths do not."""
    for i, crop in enumerate(selfie_crops):
        lm = crop.landmarks
        fr = face_regions(crop.image, lm)
        for jaw, wing in ((2, 31), (14, 35)):
            cx, cy = (lm[jaw] + lm[wing]) / 2
            patch = fr.skin[int(cy) - 6: int(cy) + 7, int(cx) - 6: int(cx) + 7]
            assert patch.mean() > 0.8, f"face {i}: cheek skin probability {patch.mean():.2f}"
        mouth = _poly_mask(lm[60:68], fr.size)
        assert fr.skin[mouth].mean() < 0.05, f"face {i}: the open mouth reads as skin"


def test_skin_model_excludes_dark_hair(shared_media):
    """The man in driving_d19 has dark hair above a bare forehead: hair must fall out of the mask."""
    image = read_rgb(shared_media / "driving_d19.jpg")
    crop = align_face(image, largest_face(image), "ffhq", 512)
    lm = crop.landmarks
    fr = face_regions(crop.image, lm)
    fr_frame = FaceFrame.from_landmarks(lm)
    # Straight above the brows, 1.1 eye distances up: hair on this man (his hairline is low).
    hair = lm[17:27].mean(0) + fr_frame.up * 1.1 * fr_frame.eye_distance
    x, y = np.round(hair).astype(int)
    assert crop.image[y, x].mean() < 90, "test premise: dark hair at that point"
    assert fr.skin[y - 4: y + 5, x - 4: x + 5].max() < 0.1
    forehead = lm[17:27].mean(0) + fr_frame.up * 0.45 * fr_frame.eye_distance
    x, y = np.round(forehead).astype(int)
    assert fr.skin[y - 4: y + 5, x - 4: x + 5].mean() > 0.8


def _height_above_brows(lm: np.ndarray, size: int) -> np.ndarray:
    """float (size, size): each pixel's height above the brows' mean, in eye distances."""
    frame = FaceFrame.from_landmarks(lm)
    yy, xx = np.mgrid[0:size, 0:size]
    return ((np.dstack([xx, yy]) - lm[17:27].mean(0)) @ frame.up) / frame.eye_distance


def test_skin_coloured_badge_cut_off_by_a_cap_is_not_skin(older_face, monkeypatch):
    """Grace Hopper's cap sits low on her forehead; its gold badge is skin-coloured and inside the
    estimated forehead. Cut off from her face by the dark cap, it must not be retouched; the
    forehead under the brim must."""
    crop = align_face(older_face, largest_face(older_face), "ffhq", 512)
    lm = crop.landmarks
    height = _height_above_brows(lm, 512)
    fr = face_regions(crop.image, lm)
    badge = (height > 0.7) & (fr.face > 0.5)
    forehead = (height > 0.05) & (height < 0.45) & (fr.face > 0.5)
    monkeypatch.setattr(masks, "connected_to_face", lambda skin, seeds, px: np.ones_like(skin))
    ungated = face_regions(crop.image, lm)
    assert (ungated.skin[badge] > 0.5).sum() > 200, "test premise: the badge's colour reads as skin"
    assert (fr.skin[badge] > 0.5).sum() == 0
    assert fr.skin[badge].max() < 0.2
    assert (fr.skin[forehead] > 0.5).sum() > 0.98 * (ungated.skin[forehead] > 0.5).sum()


@pytest.mark.parametrize("width, joined", [(0.06, True), (0.25, False)])
def test_strands_across_the_forehead_do_not_cut_it_off_but_a_band_does(shared_media, width, joined):
    """A dark line across driving_d19's bare forehead, half an eye distance above the brows: a
    strand of hair (0.06 eye distances) leaves the forehead above it skin; a hat band (0.25) cuts it
    off from the face."""
    image = read_rgb(shared_media / "driving_d19.jpg")
    crop = align_face(image, largest_face(image), "ffhq", 512)
    lm = crop.landmarks
    frame = FaceFrame.from_landmarks(lm)
    centre = lm[17:27].mean(0) + frame.up * 0.5 * frame.eye_distance
    img = crop.image.copy()
    ends = [tuple(int(v) for v in centre + s * frame.x_axis * 600) for s in (-1, 1)]
    cv2.line(img, ends[0], ends[1], (40, 30, 25), max(1, int(round(width * frame.eye_distance))))
    fr = face_regions(img, lm)
    above = (_height_above_brows(lm, 512) > 0.5 + width / 2 + 0.05) & (fr.face > 0.5)
    covered = (fr.skin[above] > 0.5).mean()
    if joined:
        assert covered > 0.6, f"only {covered:.0%} of the forehead above a thin strand is skin"
    else:
        assert covered < 0.02, f"{covered:.0%} of the forehead above a hat band is still skin"
    cheek = ((lm[2] + lm[31]) / 2).astype(int)
    assert fr.skin[cheek[1], cheek[0]] > 0.9


def test_parser_masks_replace_the_colour_model(shared_media, shared_models):
    """A real learned parser (the small skin/clothes/hair model in shared/models) drives the masks."""
    from deage.face.backends.skin_hair_seg import SkinHairParser

    image = read_rgb(shared_media / "driving_d19.jpg")
    crop = align_face(image, largest_face(image), "ffhq", 512)
    parser = SkinHairParser(shared_models / "skin_clothes_hair_seg_PAN_mbv3s.onnx", device="cpu")
    parsing = parser.parse(crop)
    fr = face_regions(crop.image, crop.landmarks, 256, parsing=parsing)
    hair = cv2.resize(parsing["hair"], (256, 256)) > 0.5
    assert hair.sum() > 500, "test premise: the parser finds hair"
    core = cv2.erode(hair.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert fr.skin[core].max() < 0.2, "parser hair must be excluded from the skin mask"
    assert fr.skin[hair].mean() < 0.05
    # An all-hair parse (a hat over everything) leaves no skin to edit.
    covered = {"skin": np.ones((512, 512), np.float32), "hair": np.ones((512, 512), np.float32)}
    assert face_regions(crop.image, crop.landmarks, 128, parsing=covered).skin.max() == 0.0
    with pytest.raises(DeageError, match="skin"):
        face_regions(crop.image, crop.landmarks, 128, parsing={"hair": parsing["hair"]})


def test_masks_scale_with_the_raster_size(astronaut_crop):
    big = face_regions(astronaut_crop.image, astronaut_crop.landmarks, 512)
    small = face_regions(astronaut_crop.image, astronaut_crop.landmarks, 128)
    assert small.size == 128 and small.skin.shape == (128, 128)
    down = cv2.resize(big.regions["forehead"], (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(down - small.regions["forehead"]).mean() < 0.05
    assert small.eye_distance == pytest.approx(big.eye_distance / 4, rel=1e-6)


def test_bad_input_is_a_clear_error(astronaut_crop):
    with pytest.raises(DeageError, match="square RGB uint8"):
        face_regions(astronaut_crop.image.astype(np.float32), astronaut_crop.landmarks)
    with pytest.raises(DeageError, match="68"):
        face_regions(astronaut_crop.image, astronaut_crop.landmarks[:5])
    flat = np.zeros((68, 2), np.float32)
    with pytest.raises(DeageError, match="degenerate"):
        face_regions(astronaut_crop.image, flat)


def test_a_light_sweater_under_the_chin_is_not_neck_skin(shared_media):
    """The selfie's woman on the right wears a cream sweater up to her chin. Its colour passes
    the skin model's chromaticity test, so it was taken for neck skin and retouched (an orange
    cast along its edge, up to 49 levels at 25 years). Below the face, skin must be no brighter
    than 1.1-1.3 times the face's own: the sweater (its pixels 1.3 times as bright or more) drops
    out, while an older neck, lit as her face is, stays skin."""
    image = read_rgb(shared_media / "fo_selfie_diverse_group.jpg")
    face = max((f for f in detect_faces(image) if f.width > 120), key=lambda f: f.box[0])
    aligned = align_face(image, face, "head", 512)
    regions = face_regions(aligned.image, aligned.landmarks, 160)
    small = cv2.resize(aligned.image, (160, 160), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    luma = small @ np.float32([0.299, 0.587, 0.114])
    ys = np.arange(160)[:, None] * np.ones((1, 160))
    chin = aligned.landmarks[8, 1] * 160 / 512
    reference = masks.SkinColourModel.features(small)[..., 2][masks.skin_sample_mask(
        regions.frame, aligned.landmarks, 160, 512) > 0.5].mean()
    sweater = (ys > chin + 0.3 * regions.eye_distance) & (luma > 1.3 * reference)
    assert sweater.sum() > 300
    assert regions.skin[sweater].mean() < 0.05, regions.skin[sweater].mean()


@pytest.mark.parametrize("photo, colour", [
    ("driving_d19.jpg", "blue"), ("driving_d19.jpg", "white"), ("driving_d19.jpg", "green"),
    ("source_s12.jpg", "blue"), ("source_s12.jpg", "white"), ("source_s12.jpg", "black"),
])
def test_a_face_mask_is_not_skin_and_the_skin_above_it_still_is(shared_media, photo, colour):
    """A surgical mask over the nose, cheeks and chin (insightface's mask photos warped onto real
    faces). The cheek sample lands on the mask, so the skin model used to learn the mask as the
    skin: every de-age operation then retouched it (its pleats filled, its colour evened) and the
    skin above it was left out. Now the cheeks' colour is checked against the skin between the
    brows (``lower_face_covered``): the model is fitted there, the mask is not skin, the forehead
    is, and ``lower_visible`` says how little of the lower face is skin."""
    from facehelpers import wear_face_mask

    image = read_rgb(shared_media / photo)
    bare = align_face(image, largest_face(image), "ffhq", 512)
    bare_regions = face_regions(bare.image, bare.landmarks)
    assert bare_regions.lower_visible is None  # uncovered
    masked, alpha = wear_face_mask(image, largest_face(image), colour)
    aligned = align_face(masked, largest_face(masked), "ffhq", 512)
    regions = face_regions(aligned.image, aligned.landmarks)
    on_mask = cv2.warpAffine(alpha, aligned.matrix[:2].astype(np.float64), (512, 512)) > 0.95
    assert on_mask.sum() > 20000
    assert regions.cover == 1.0 and regions.lower_visible is not None and regions.lower_visible < 0.1
    assert regions.skin[on_mask].mean() < 0.02
    forehead = (masks.landmark_regions(aligned.landmarks, 512, 512)[0]["forehead"] > 0.5) & ~on_mask
    assert regions.skin[forehead].mean() > 0.6, regions.skin[forehead].mean()


def test_no_bare_face_counts_as_covered(selfie_crops, astronaut_crop, older_face, group_photo):
    """Every skin tone and age, beards and glasses: cheeks are as red as the skin between the
    brows or redder, and never as dark as a black mask."""
    crops = [*selfie_crops, astronaut_crop, align_face(older_face, largest_face(older_face), "ffhq", 512)]
    crops += [align_face(group_photo, f, "ffhq", 512) for f in detect_faces(group_photo)]
    assert len(crops) >= 12
    for crop in crops:
        regions = face_regions(crop.image, crop.landmarks, 256)
        assert regions.cover == 0.0 and regions.lower_visible is None


@pytest.mark.parametrize("cheek, high, expected", [
    ((0.00, 0.8), (0.20, 0.8), 1.0),    # a white mask: not skin-red, much less red than the brows
    ((0.14, 0.8), (0.30, 0.8), 0.0),    # ruddy brows, skin-red cheeks: bare
    ((0.03, 0.25), (0.06, 0.8), 1.0),   # a black mask: not skin-red, far darker
    ((0.03, 0.7), (0.06, 0.8), 0.0),    # a grey-lit bare face: neither far less red nor darker
    ((0.00, 0.8), (0.06, 0.8), 0.5),    # a near call counts in part (no switching between frames)
])
def test_the_cover_weight_is_soft(cheek, high, expected):
    """``lower_face_cover`` on features with known medians (log R/G, log B/G, luminance)."""
    features = np.zeros((8, 8, 3), np.float32)
    features[:4, :, 0], features[:4, :, 2] = high
    features[4:, :, 0], features[4:, :, 2] = cheek
    rows = np.arange(8)[:, None] * np.ones((1, 8), int)
    cover = masks.lower_face_cover(features, rows >= 4, rows < 4)
    assert cover == pytest.approx(expected, abs=0.01) if expected in (0.0, 1.0) else 0.1 < cover < 0.9
