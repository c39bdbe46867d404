"""Compositing an edited face back into real frames: exactness outside the mask, seams, modes."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from conftest import read_rgb
from deage.blend.colour import histogram_transfer, lab_transfer
from deage.blend.composite import composite
from deage.blend.feather import shape_mask
from deage.blend.other_faces import spare_other_faces
from deage.blend.params import BlendParams
from deage.blend.poisson import membrane, membrane_exact, poisson_blend
from deage.blend.pyramid import multiband_blend
from deage.edit.base import EditResult, crop_size_for
from deage.edit.makeup import MakeupEditor, MakeupParams
from deage.errors import DeageError, LookError
from deage.face.align import align_face
from deage.look import Look
from deage.render import FrameRenderer
from facehelpers import detect_faces, largest_face, refit

TEMPLATE = MakeupEditor.template  # the crop the makeup editor edits faces in (the render's)

MODES = ("feather", "multiband", "poisson")


@pytest.fixture(scope="module")
def selfie(shared_media):
    image = read_rgb(shared_media / "fo_selfie_diverse_group.jpg")
    return image, [f for f in detect_faces(image) if f.width > 120]


@pytest.fixture(scope="module")
def edited_faces(selfie):
    """(frame, aligned, result) for each of the five people in the selfie, edited at 30 years."""
    image, faces = selfie
    editor = MakeupEditor()
    out = []
    for face in faces:
        aligned = align_face(image, face, TEMPLATE, crop_size_for(face, TEMPLATE))
        out.append((image, aligned, editor.edit(aligned, MakeupParams(years=30))))
    return out


@pytest.fixture(scope="module")
def edited_selfie(edited_faces):
    return edited_faces[0]


def _boundary_gradient(image: np.ndarray, curve: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.hypot(gx, gy)[curve].mean())


# ---- parameters -------------------------------------------------------------------------------

def test_blend_params_round_trip_and_errors():
    p = BlendParams(mode="poisson", erode=2, dilate=4.5, feather=12, colour_match="lab", amount=0.7)
    assert BlendParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert BlendParams.from_dict({}) == BlendParams()
    for data, message in (
        ({"mode": "screen"}, "'mode' must be one of"),
        ({"feather": -1}, "'feather' = -1 is out of range"),
        ({"amount": 2}, "'amount' = 2 is out of range"),
        ({"colour_match": "rgb"}, "'colour_match' must be one of"),
        ({"erode": "3"}, "'erode' must be a number"),
        ({"blur": 3}, "unknown parameter 'blur'"),
    ):
        with pytest.raises(LookError, match=message):
            BlendParams.from_dict(data)


# ---- composite on real frames -------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_outside_the_mask_is_bit_identical_and_there_is_no_seam(edited_faces, mode):
    blend = BlendParams(mode=mode, dilate=4, feather=10)
    cases = [(f, a, res) for f, a, r in edited_faces for res in (r, EditResult(r.image, r.mask))]
    for frame, aligned, res in cases:  # every face; the retouch path and the plain-image path
        out, alpha = composite(frame, aligned, res, blend, return_mask=True)
        assert out.shape == frame.shape and out.dtype == np.uint8
        outside = alpha == 0
        assert outside.sum() > 0.5 * alpha.size
        assert np.array_equal(out[outside], frame[outside]), f"{mode}: pixels changed outside the mask"
        changed = (out != frame).any(axis=2)
        assert changed.sum() > 5000, f"{mode}: the edit did not reach the frame"
        # The mask's outer boundary and its middle contour: gradients no stronger than the input's.
        support = (alpha > 0).astype(np.uint8)
        ring = (support - cv2.erode(support, np.ones((3, 3), np.uint8))).astype(bool)
        mid = cv2.morphologyEx((alpha > 0.5).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        for name, curve in (("edge", ring), ("middle", mid)):
            ratio = _boundary_gradient(out, curve) / _boundary_gradient(frame, curve)
            assert ratio <= 1.2, f"{mode}: gradient along the mask {name} is {ratio:.2f}x the input's"


def test_retouch_path_matches_the_pasted_crop(edited_selfie):
    """Frame-resolution retouching gives the same picture as pasting the edited crop, minus the
    softening the crop's double resampling causes."""
    frame, aligned, result = edited_selfie
    direct, alpha = composite(frame, aligned, result, return_mask=True)
    pasted = composite(frame, aligned, EditResult(result.image, result.mask))
    inside = alpha > 0.9
    blur = lambda im: cv2.GaussianBlur(im.astype(np.float32), (0, 0), 2.0)  # noqa: E731
    assert np.abs(blur(direct) - blur(pasted))[inside].mean() < 1.5
    # The frame's own finest detail survives the retouch path better than the pasted crop.
    def fine(im):
        g = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return float(((g - cv2.GaussianBlur(g, (0, 0), 0.8))[inside] ** 2).mean())
    assert fine(direct) > fine(pasted)


def test_every_face_of_a_group_and_faces_cut_by_the_frame_edge(selfie):
    image, faces = selfie
    editor = MakeupEditor()
    out = image
    for face in faces:
        aligned = align_face(out, face, TEMPLATE, crop_size_for(face, TEMPLATE))
        out = composite(out, aligned, editor.edit(aligned, MakeupParams(years=20)))
    assert (out != image).any(axis=2).sum() > 50000
    # A face half outside the frame: crop the photo through the first face.
    face = faces[0]
    cut = np.ascontiguousarray(image[:, int(face.center[0]):])
    shifted = detect_faces(cut)
    if shifted:
        f = shifted[0]
        aligned = align_face(cut, f, TEMPLATE, crop_size_for(f, TEMPLATE))
        res = composite(cut, aligned, editor.edit(aligned, MakeupParams(years=20)))
        assert res.shape == cut.shape


def _features(face, shape: tuple[int, ...]) -> np.ndarray:
    """bool (H, W): the convex hull of a face's landmarks 17-67 (brows, eyes, nose, mouth)."""
    hull = cv2.convexHull(np.round(face.landmarks[17:68]).astype(np.int32))
    canvas = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(canvas, [hull], 1)
    return canvas > 0


def test_no_face_is_changed_by_another_faces_edit(selfie):
    """In a group selfie (heads together, landmark fits running over the face in front), one
    face's edit (forehead, neck, jaw warp) reached another's eyes, nose and mouth: the mattes of
    four of the five faces covered another's features at full strength. Each face's edit must
    leave the others' features untouched (matte under 0.05 there: the cut's margin keeps the
    blend's feather off them; none over 0.02 when written) and still cover its own as before (mean
    over 0.8; 0.85-0.94)."""
    image, faces = selfie
    look = Look.from_dict({"editor": "makeup", "edit": {"years": 25}, "blend": {"mode": "multiband", "feather": 10}})
    _, mattes = FrameRenderer(look).render(image, 0, dict(enumerate(faces)))
    features = [_features(face, image.shape) for face in faces]
    for i, matte in enumerate(mattes):
        assert matte[features[i]].mean() > 0.8, f"face {i}'s own features are not edited"
        for j, other in enumerate(features):
            if j != i:
                assert matte[other].max() < 0.05, f"face {i}'s edit reaches face {j}'s features"


def test_sparing_the_other_faces_keeps_their_pixels_and_ignores_a_double_detection(selfie):
    """One face edited, the others not: the others' features keep their exact pixels (without the
    cut some of them change: the test would catch a cut that does nothing). A second detection
    of the same face (two tracks on one person) must not cut the edit of the first."""
    image, faces = selfie
    editor = MakeupEditor()
    changed = 0
    for i, face in enumerate(faces):
        others = faces[:i] + faces[i + 1:]
        aligned = align_face(image, face, TEMPLATE, crop_size_for(face, TEMPLATE))
        result = editor.edit(aligned, MakeupParams(years=25))
        plain = composite(image, aligned, result)
        spared = composite(image, aligned, spare_other_faces(result, aligned, face, others))
        for other in others:
            inside = _features(other, image.shape)
            assert (spared[inside] == image[inside]).all()
            changed += int((plain[inside] != image[inside]).any(axis=-1).sum())
        twin = replace(face, landmarks=face.landmarks + np.float32(3.0))
        assert spare_other_faces(result, aligned, face, [twin]) is result
    assert changed > 1000, f"without the cut only {changed} pixels of other faces' features changed"


def test_amount_zero_and_empty_mask_change_nothing(edited_selfie):
    frame, aligned, result = edited_selfie
    assert np.array_equal(composite(frame, aligned, result, BlendParams(amount=0.0)), frame)
    empty = EditResult(result.image, np.zeros_like(result.mask))
    out, alpha = composite(frame, aligned, empty, return_mask=True)
    assert np.array_equal(out, frame) and not alpha.any()
    half = composite(frame, aligned, result, BlendParams(amount=0.5)).astype(np.float32)
    full = composite(frame, aligned, result).astype(np.float32)
    assert np.abs(half - frame).mean() < 0.75 * np.abs(full - frame).mean()


def test_erode_dilate_feather_shape_the_matte(edited_selfie):
    frame, aligned, result = edited_selfie
    areas = {}
    for name, blend in (("base", BlendParams()), ("erode", BlendParams(erode=20)), ("dilate", BlendParams(dilate=20))):
        _, alpha = composite(frame, aligned, result, blend, return_mask=True)
        areas[name] = float((alpha > 0.5).sum())
    assert areas["erode"] < 0.9 * areas["base"] < 0.9 * 0.9 * areas["dilate"]
    soft = shape_mask(np.pad(np.ones((20, 20), np.float32), 20), feather=12)
    assert 0 < soft[30, 17] < soft[30, 22] < soft[30, 30] and soft[0, 0] == 0.0


def test_temporal_static_head_adds_no_flicker(shared_media):
    """One real frame repeated with sensor noise and re-fitted landmarks every frame: inside the
    face the edit itself (its smooth part: what flicker would be) changes from frame to frame by
    under a tenth of what the noise changes the input (0.22 against 3.39 levels), and the output
    changes no more than the input does (the plate's noise passes through, as grain)."""
    image = read_rgb(shared_media / "driving_d19.jpg")
    face = largest_face(image)
    editor = MakeupEditor()
    rng = np.random.default_rng(7)
    frames_in, frames_out, masks = [], [], []
    for _ in range(5):
        noisy = np.clip(image.astype(np.float32) + rng.normal(0, 3.0, image.shape), 0, 255).astype(np.uint8)
        f = refit(noisy, face)
        aligned = align_face(noisy, f, TEMPLATE, crop_size_for(f, TEMPLATE))
        out, alpha = composite(noisy, aligned, editor.edit(aligned, MakeupParams(years=30)), return_mask=True)
        frames_in.append(noisy.astype(np.float32))
        frames_out.append(out.astype(np.float32))
        masks.append(alpha)
    inside = np.min(masks, axis=0) > 0.5
    change_in = np.mean([np.abs(b - a)[inside].mean() for a, b in zip(frames_in, frames_in[1:])])
    change_out = np.mean([np.abs(b - a)[inside].mean() for a, b in zip(frames_out, frames_out[1:])])
    edits = [cv2.GaussianBlur(o - i, (0, 0), 3.0) for i, o in zip(frames_in, frames_out)]
    change_edit = np.mean([np.abs(b - a)[inside].mean() for a, b in zip(edits, edits[1:])])
    assert change_edit < 0.1 * change_in, f"the edit changes {change_edit:.2f} per frame, the input {change_in:.2f}"
    assert change_out <= 1.01 * change_in, f"output changes {change_out:.2f} per frame, input {change_in:.2f}"


def test_bad_input_is_a_clear_error(edited_selfie):
    frame, aligned, result = edited_selfie
    with pytest.raises(DeageError, match="RGB uint8"):
        composite(frame.astype(np.float32), aligned, result)
    with pytest.raises(DeageError, match="mask"):
        composite(frame, aligned, EditResult(result.image, result.mask[:100, :100]))


# ---- the blend algorithms on their own -------------------------------------------------------

def test_poisson_membrane_matches_the_exact_solver():
    rng = np.random.default_rng(1)
    h, w = 90, 120
    values = cv2.GaussianBlur(rng.normal(0, 20, (h, w, 3)).astype(np.float32), (0, 0), 6)
    inside = np.zeros((h, w), bool)
    cv2.ellipse(inside.view(np.uint8), (60, 45), (45, 30), 15, 0, 360, 1, -1)
    fast, exact = membrane(values, inside), membrane_exact(values, inside)
    assert np.abs(fast - exact)[inside].max() < 0.5
    assert np.array_equal(fast[~inside], values[~inside])


def test_poisson_blend_removes_a_colour_offset_and_keeps_detail(astronaut):
    base = astronaut.astype(np.float32)
    top = base + np.array([25.0, -15.0, 10.0], np.float32)  # same detail, shifted colour
    region = np.zeros(base.shape[:2], bool)
    region[150:350, 150:350] = True
    out = poisson_blend(base, top, region)
    assert np.abs(out - base).max() < 1.0


def test_multiband_blend_limits():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 255, (64, 80, 3)).astype(np.float32)
    b = rng.uniform(0, 255, (64, 80, 3)).astype(np.float32)
    ones, zeros = np.ones((64, 80), np.float32), np.zeros((64, 80), np.float32)
    assert np.allclose(multiband_blend(a, b, ones, 4), b, atol=1e-3)
    assert np.allclose(multiband_blend(a, b, zeros, 4), a, atol=1e-3)
    assert np.allclose(multiband_blend(a, a, rng.uniform(0, 1, (64, 80)).astype(np.float32), 4), a, atol=1e-3)


@pytest.mark.parametrize("transfer", [lab_transfer, histogram_transfer])
def test_colour_transfer_undoes_a_colour_drift(astronaut, transfer):
    ref = astronaut.astype(np.float32)
    drifted = np.clip(ref * np.array([1.05, 0.93, 0.88], np.float32) + 10.0, 0, 255)
    weight = np.zeros(ref.shape[:2], np.float32)
    weight[80:250, 150:330] = 1.0
    fixed = transfer(drifted, ref, weight)
    inside = weight > 0
    assert np.abs(fixed - ref)[inside].mean() < 0.4 * np.abs(drifted - ref)[inside].mean()
