"""deage.face.align: templates, alignment, warps and paste back, on real faces."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from deage.errors import DeageError
from deage.face.align import (
    align_face,
    crop_footprint,
    estimate_alignment,
    frame_coverage,
    invert_affine,
    paste_back,
    template_points,
    transform_points,
    warp_to_frame,
)
from deage.face.backends.dlib_backend import DlibDetector
from deage.types import Face

ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


@pytest.fixture(scope="module")
def astronaut_face(astronaut) -> Face:
    return DlibDetector().detect(astronaut)[0]


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def test_templates_are_the_published_ones():
    np.testing.assert_allclose(template_points("arcface", 112), ARCFACE_112)
    # insightface's 128-multiple convention: scale by size/128 after shifting x by 8
    np.testing.assert_allclose(template_points("arcface", 256), (ARCFACE_112 + [8, 0]) * 2)
    ffhq = template_points("ffhq", 1024)
    np.testing.assert_allclose(ffhq, template_points("ffhq", 512) * 2)
    assert ffhq[0, 0] < ffhq[1, 0] and ffhq[3, 0] < ffhq[4, 0]  # image-left eye and mouth corner first
    with pytest.raises(ValueError, match="unknown alignment template"):
        template_points("vggface", 112)


def test_alignment_recovers_a_known_similarity():
    dst = template_points("arcface", 112)
    truth = _similarity(12.0, 0.4, 20.0, -7.0)  # crop -> frame
    frame_pts = transform_points(dst, truth)
    matrix = estimate_alignment(frame_pts, "arcface", 112)
    assert matrix.shape == (2, 3) and matrix.dtype == np.float64
    np.testing.assert_allclose(transform_points(frame_pts, matrix), dst, atol=1e-3)
    np.testing.assert_allclose(invert_affine(matrix), truth, atol=1e-4)


def test_align_face_puts_the_astronaut_on_the_template(astronaut, astronaut_face):
    aligned = align_face(astronaut, astronaut_face, "ffhq", 512)
    assert aligned.image.shape == (512, 512, 3) and aligned.image.dtype == np.uint8
    assert aligned.template == "ffhq" and aligned.size == 512
    # a similarity cannot fit 5 real points exactly (she smiles: wide mouth); they land near the template
    err = np.linalg.norm(aligned.keypoints5 - template_points("ffhq", 512), axis=1)
    assert err.max() < 25.0 and err[:3].max() < 12.0
    assert aligned.landmarks.shape == (68, 2)
    np.testing.assert_allclose(aligned.landmarks, transform_points(astronaut_face.landmarks, aligned.matrix), atol=1e-4)
    # the crop really holds the face: its centre is skin-coloured (red > blue), not the grey background
    centre = aligned.image[240:300, 220:300].reshape(-1, 3).mean(0)
    assert centre[0] > centre[2] + 20


def test_warp_to_frame_and_paste_back_round_trip(astronaut, astronaut_face):
    frame = astronaut.copy()
    aligned = align_face(frame, astronaut_face, "arcface", 256)
    mask = np.zeros((256, 256), np.float32)
    mask[64:192, 64:192] = 1.0
    out = paste_back(frame, aligned.image, aligned.matrix, mask)
    np.testing.assert_array_equal(frame, astronaut)  # input untouched
    warped_mask, (x0, y0, x1, y1) = warp_to_frame(mask, aligned.matrix, frame.shape)
    assert warped_mask.shape == (y1 - y0, x1 - x0)
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = warped_mask <= 0
    np.testing.assert_array_equal(out[outside], frame[outside])  # bit-identical where the mask is 0
    inner = np.zeros(frame.shape[:2], bool)
    inner[y0:y1, x0:x1] = warped_mask >= 0.999
    assert inner.sum() > 1000
    diff = np.abs(out[inner].astype(int) - frame[inner].astype(int))
    assert diff.mean() < 4.0  # pasting the unedited crop back changes only interpolation error


def test_paste_back_of_an_edit_changes_the_face_region(astronaut, astronaut_face):
    aligned = align_face(astronaut, astronaut_face, "ffhq", 512)
    edited = np.full_like(aligned.image, 255)
    out = paste_back(astronaut, edited, aligned.matrix, np.ones((512, 512), np.float32))
    lm = astronaut_face.landmarks
    nose = lm[30].round().astype(int)
    assert (out[nose[1], nose[0]] == 255).all()
    assert (out[5, 5] == astronaut[5, 5]).all()  # far corner untouched


def test_crop_footprint_is_clipped_to_the_frame(astronaut_face):
    matrix = estimate_alignment(astronaut_face.keypoints5, "ffhq", 512)
    x0, y0, x1, y1 = crop_footprint(matrix, 512, (512, 512, 3))
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    big = crop_footprint(matrix, 512, (4000, 4000, 3))
    assert big[2] - big[0] > x1 - x0 or big[0] >= 0


def test_alignment_of_a_video_face_is_stable_under_keypoint_jitter(astronaut_face):
    """Sub-pixel keypoint noise must not make the crop jump: a least-squares similarity moves the
    crop about as much as the points move (x scale); a robust fit that drops points moves it more."""
    rng = np.random.default_rng(0)
    kp = astronaut_face.keypoints5.astype(np.float64)
    centre = np.append(kp.mean(0), 1.0)
    scale = np.linalg.norm(estimate_alignment(kp, "ffhq", 512)[:, 0])
    moves = np.array([
        estimate_alignment((kp + rng.normal(0, 0.3, kp.shape)).astype(np.float32), "ffhq", 512) @ centre
        for _ in range(100)
    ])
    assert moves.std(0).max() < 2.0 * 0.3 * scale


def test_alignment_follows_a_gradual_mouth_opening_smoothly(astronaut_face):
    kp = astronaut_face.keypoints5.astype(np.float64)
    angles = []
    for drop in np.linspace(0, 24, 25):
        moved = kp.copy()
        moved[3:, 1] += drop
        m = estimate_alignment(moved.astype(np.float32), "ffhq", 512)
        angles.append(np.degrees(np.arctan2(m[1, 0], m[0, 0])))
    assert np.abs(np.diff(angles)).max() < 0.3


def test_degenerate_keypoints_are_a_clear_error():
    with pytest.raises(DeageError):
        estimate_alignment(np.full((5, 2), 50.0, np.float32), "ffhq", 512)
    with pytest.raises(DeageError):
        estimate_alignment(np.full((5, 2), np.nan, np.float32), "ffhq", 512)


def test_frame_coverage_marks_where_a_crop_reaches_past_the_frame(astronaut, astronaut_face):
    """A crop wholly inside its frame has no coverage mask; a crop that reaches past the frame's
    top and left (the face near the frame's corner) is 0 over the mirrored border and 1 over the
    frame's own pixels, its edge where the frame's corner maps to."""
    padded = cv2.copyMakeBorder(astronaut, 512, 512, 512, 512, cv2.BORDER_REFLECT_101)
    centred = replace(astronaut_face, box=astronaut_face.box + 512.0, keypoints5=astronaut_face.keypoints5 + 512.0,
                      landmarks=None)
    whole = align_face(padded, centred, "head", 256)
    assert whole.frame_size == (1536, 1536) and frame_coverage(whole, 256) is None
    corner = astronaut[150:, 150:]  # the face now near the frame's top-left corner
    shifted = replace(astronaut_face, box=astronaut_face.box - 150.0, keypoints5=astronaut_face.keypoints5 - 150.0,
                      landmarks=None)
    near = align_face(corner, shifted, "head", 256)
    inside = frame_coverage(near, 256)
    assert inside is not None and inside.shape == (256, 256) and inside.dtype == np.float32
    # frame points just inside and just outside its top-left corner, where they land in the crop
    probes = np.array([[12.0, 12.0], [-12.0, 12.0], [12.0, -12.0], [-12.0, -12.0], [40.0, 60.0]])
    (xs, ys) = np.round(transform_points(probes, near.matrix)).astype(int).T
    assert ((xs > 0) & (xs < 256) & (ys > 0) & (ys < 256)).all(), (xs, ys)
    assert inside[ys, xs].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
