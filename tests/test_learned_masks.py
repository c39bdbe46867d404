"""The mask stage's model backends in a render: a Look's occluder and face parser.

The occluder tests use stand-in XSeg models built here (wiring: colour order, layout, where the
mask acts, errors, provenance), never a trained network's accuracy. The parser test runs the real
small skin/clothes/hair model from ../shared/models on a real photo.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from deage.edit.base import crop_size_for
from deage.errors import LookError, WeightsError
from deage.face.align import align_face, transform_points
from deage.face.learned_masks import LearnedMasks, validate_masks
from deage.face.masks import FaceFrame, face_outline
from deage.look import Look, default_look, with_years
from deage.render import FrameRenderer
from deage.weights import UnverifiedWeightsWarning
from facehelpers import largest_face
from standins import xseg_model


@pytest.fixture(scope="module")
def face(astronaut):
    return largest_face(astronaut)


def _occluder_dir(tmp_path: Path, covered: str) -> Path:
    """A weights folder holding a stand-in as the manifest's ``xseg_1.onnx`` (no pinned hash: it
    loads unverified, with a warning, as a user's first copy would)."""
    folder = tmp_path / f"weights_{covered}"
    xseg_model(folder / "xseg_1.onnx", covered)
    return folder


def _build(masks: dict, folder: Path) -> LearnedMasks:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedWeightsWarning)
        return LearnedMasks.build(masks, weights_dir=folder, device="cpu")


def test_xseg_backend_feeds_bgr_and_answers_at_the_crop_size(tmp_path, astronaut, face):
    """Wiring, not accuracy: the stand-in covers what is blue in the BGR it is fed. A blue patch on
    her cheek comes back covered and a red one seen; fed RGB, it would be the other way round."""
    masks = _build({"occluder": "xseg_1"}, _occluder_dir(tmp_path, "blue"))
    aligned = align_face(astronaut, face, "head", 512)
    image = aligned.image.copy()
    lm = aligned.landmarks
    blue_at = tuple(int(v) for v in (lm[2] + lm[31]) / 2)
    red_at = tuple(int(v) for v in (lm[14] + lm[35]) / 2)
    cv2.circle(image, blue_at, 30, (30, 60, 230), -1)
    cv2.circle(image, red_at, 30, (230, 60, 30), -1)
    painted = type(aligned)(image=image, matrix=aligned.matrix, keypoints5=aligned.keypoints5,
                            landmarks=aligned.landmarks, template=aligned.template)
    seen = masks.occluder.visible(painted)
    assert seen.shape == (512, 512) and seen.dtype == np.float32 and 0 <= seen.min() and seen.max() <= 1
    assert seen[blue_at[1], blue_at[0]] < 0.1
    assert seen[red_at[1], red_at[0]] > 0.9 and seen[60, 256] > 0.9


def test_an_occluder_of_the_wrong_layout_is_refused(tmp_path):
    """A channels-first [N, 3, 256, 256] model in xseg_1's place: refused on load, naming the file
    and what the backend expects."""
    from standins import save_onnx
    from onnx import helper

    folder = tmp_path / "weights"
    save_onnx(folder / "xseg_1.onnx", [helper.make_node("Identity", ["input"], ["output"])],
              [("input", ["N", 3, 256, 256])], [("output", ["N", 3, 256, 256])])
    with pytest.raises(WeightsError, match=r"xseg_1\.onnx: input 0 .*\[N,256,256,3\].*dimension 1 is 3 instead of 256"):
        _build({"occluder": "xseg_1"}, folder)


def _inside(aligned, inset_eyes: float) -> np.ndarray:
    """bool (S, S): crop pixels more than ``inset_eyes`` eye distances inside the face's outline."""
    size = aligned.size
    canvas = np.zeros((size, size), np.uint8)
    cv2.fillPoly(canvas, [np.round(face_outline(aligned.landmarks)).astype(np.int32)], 1)
    depth = cv2.distanceTransform(canvas, cv2.DIST_L2, 5)
    return depth > inset_eyes * FaceFrame.from_landmarks(aligned.landmarks).eye_distance


def test_covered_face_pixels_keep_their_values_in_a_render(tmp_path, astronaut, face):
    """Wiring: a stand-in that says the crop's left half below 45 % of its height is covered (a
    hand on that cheek). With it, her pixels there, inside the face's outline, come out bit-identical while the
    rest of her face is still de-aged; without it, they change. Beyond the outline the editor's
    own mask stands (the neck below the chin is still retouched)."""
    look = with_years(default_look(), 25)
    look.masks = {"occluder": "xseg_1"}
    occluded = FrameRenderer(look, masks=_build(look.masks, _occluder_dir(tmp_path, "left_cheek")))
    plain = FrameRenderer(with_years(default_look(), 25))
    out, (matte,) = occluded.render(astronaut, 0, {0: face})
    ref, (ref_matte,) = plain.render(astronaut, 0, {0: face})

    size = crop_size_for(face, "head")
    aligned = align_face(astronaut, face, "head", size)
    deep = _inside(aligned, 0.3)
    quarter = np.zeros((size, size), bool)
    margin = size // 16  # clear of the covered part's edge and the blend's feather
    quarter[int(0.45 * size) + margin:, : size // 2 - margin] = True
    ys, xs = np.mgrid[0:astronaut.shape[0], 0:astronaut.shape[1]]
    crop = transform_points(np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64), aligned.matrix)
    cx, cy = np.round(crop).astype(int).T
    ok = (cx >= 0) & (cx < size) & (cy >= 0) & (cy < size)
    covered = np.zeros(xs.size, bool)
    covered[ok] = (quarter & deep)[cy[ok], cx[ok]]
    covered = covered.reshape(xs.shape)
    seen = np.zeros(xs.size, bool)
    seen[ok] = (~quarter & deep)[cy[ok], cx[ok]]
    seen = seen.reshape(xs.shape)
    assert covered.sum() > 200 and seen.sum() > 2000

    diff = np.abs(out.astype(int) - astronaut).max(axis=2)
    ref_diff = np.abs(ref.astype(int) - astronaut).max(axis=2)
    assert ref_diff[covered].mean() > 0.5  # the plain render edits that cheek
    assert diff[covered].max() == 0 and matte[covered].max() == 0.0
    assert diff[seen].mean() > 0.5 * ref_diff[seen].mean()  # the rest of the face is edited
    below = transform_points(aligned.landmarks[8:9] + [0, 0.3 * FaceFrame.from_landmarks(aligned.landmarks)
                                                          .eye_distance], np.asarray(
        cv2.invertAffineTransform(aligned.matrix)))[0].astype(int)
    assert matte[below[1], below[0]] == pytest.approx(ref_matte[below[1], below[0]], abs=0.05)


def test_render_cli_with_an_occluder_records_its_file(tmp_path, astronaut, monkeypatch):
    """End to end: ``deage render PHOTO --occluder xseg_1`` with the file in $DEAGE_WEIGHTS renders,
    the provenance names the model and its file's hash, and ``--occluder none`` turns it off."""
    from deage.cli import main
    from standins import sha256

    folder = _occluder_dir(tmp_path, "left_cheek")
    monkeypatch.setenv("DEAGE_WEIGHTS", str(folder))
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    out = tmp_path / "young.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedWeightsWarning)
        assert main(["render", str(photo), "-o", str(out), "--occluder", "xseg_1"]) == 0
    record = json.loads(Path(str(out) + ".provenance.json").read_text())
    assert record["look"]["masks"] == {"occluder": "xseg_1"}
    (model,) = [m for m in record["models"] if m["name"] == "xseg_1"]
    assert model["actual_sha256"] == sha256(folder / "xseg_1.onnx")
    plain = tmp_path / "plain.png"
    assert main(["render", str(photo), "-o", str(plain), "--occluder", "none"]) == 0
    record = json.loads(Path(str(plain) + ".provenance.json").read_text())
    assert "masks" not in record["look"] and not [m for m in record["models"] if m["name"] == "xseg_1"]
    a, b = cv2.imread(str(out)), cv2.imread(str(plain))
    assert np.abs(a.astype(int) - b).max() > 0  # the covered cheek differs


def test_a_missing_or_wrong_mask_model_is_a_clear_error(tmp_path):
    """No file: the error names the file and where to get it. A parser named as the occluder, or a
    name no manifest knows: refused, naming what would do."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError, match=r"xseg_1\.onnx.*facefusion-assets"):
        LearnedMasks.build({"occluder": "xseg_1"}, weights_dir=empty)
    with pytest.raises(WeightsError, match=r"masks\.occluder needs a model of kind 'occluder' \(xseg_1, xseg_2, "
                                           r"xseg_3\); 'skin_hair_seg' is of kind 'parser'"):
        LearnedMasks.build({"occluder": "skin_hair_seg"}, weights_dir=empty)
    with pytest.raises(WeightsError, match="no model or backend called 'nope'"):
        LearnedMasks.build({"parser": "nope"}, weights_dir=empty)


def test_the_looks_masks_section_is_validated_and_round_trips():
    assert validate_masks(None) == {} and validate_masks({"parser": None, "occluder": ""}) == {}
    look = Look.from_dict({"editor": "makeup", "masks": {"occluder": "xseg_1", "parser": None}})
    assert look.masks == {"occluder": "xseg_1"}
    assert Look.from_dict(look.to_dict()).masks == {"occluder": "xseg_1"}
    assert "masks" not in default_look().to_dict()  # looks without one are saved as before
    for bad, message in (("xseg_1", "must be an object"), ({"occluder": 3}, "must be a model name"),
                         ({"hands": "xseg_1"}, r"unknown key\(s\) \['hands'\]")):
        with pytest.raises(LookError, match=message):
            Look.from_dict({"editor": "makeup", "masks": bad})


class _NoSkin:
    """A parser that finds no skin anywhere (and counts its calls)."""

    name = "no_skin"
    calls = 0

    def parse(self, aligned):
        self.calls += 1
        return {"skin": np.zeros((aligned.size, aligned.size), np.float32)}


def test_a_parsers_masks_replace_the_skin_colour_model(astronaut, face, shared_models, monkeypatch):
    """The real skin/clothes/hair model from $DEAGE_WEIGHTS drives the makeup de-ager's skin (its
    render differs from the skin-colour model's and still de-ages her); a parser that finds no
    skin leaves only the lips', eyes' and teeth's work, a fraction of the change (the shape warp,
    which moves pixels whatever the skin, is off here)."""
    look = with_years(default_look(), 25)
    look.edit.update(jaw_lift=0.0, cheek_fullness=0.0, eye_aperture=0.0, lip_fullness=0.0)
    ref, _ = FrameRenderer(look).render(astronaut, 0, {0: face})
    monkeypatch.setenv("DEAGE_WEIGHTS", str(shared_models))
    look.masks = {"parser": "skin_hair_seg"}
    renderer = FrameRenderer(look)
    assert type(renderer.masks.parser).__name__ == "SkinHairParser"
    parsed, _ = renderer.render(astronaut, 0, {0: face})
    x0, y0, x1, y1 = face.box.astype(int)
    box = (slice(y0, y1), slice(x0, x1))
    change = np.abs(parsed[box].astype(int) - astronaut[box]).mean()
    ref_change = np.abs(ref[box].astype(int) - astronaut[box]).mean()
    assert change > 0.5 * ref_change and np.abs(parsed.astype(int) - ref).max() > 0
    no_skin = _NoSkin()
    bare, _ = FrameRenderer(look, masks=LearnedMasks(parser=no_skin)).render(astronaut, 0, {0: face})
    assert no_skin.calls == 1
    assert np.abs(bare[box].astype(int) - astronaut[box]).mean() < 0.3 * ref_change


def test_a_render_with_a_missing_mask_model_fails_before_the_analysis(tmp_path, monkeypatch):
    """The file is checked before the (long) analysis of the clip and before any output exists."""
    import deage.render as render

    def no_analysis(*args, **kwargs):
        raise AssertionError("the analysis ran before the look's models were checked")

    monkeypatch.setattr(render, "_analyse_and_select", no_analysis)
    monkeypatch.setenv("DEAGE_WEIGHTS", str(tmp_path))
    look = default_look()
    look.masks = {"occluder": "xseg_1"}
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(WeightsError, match=r"xseg_1\.onnx"):
        render.render_clip(photo, tmp_path / "out.png", look)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_the_shape_warp_is_stilled_around_what_covers_the_face(tmp_path, astronaut, face):
    """Wiring: with the left cheek and jaw covered (stand-in), the jaw lift does not move anything
    on that side, not even beyond the face's outline where the mask does not reach (a hand over the
    jaw would bend where it crosses the outline); the other side's warp is untouched. The input
    result is not modified."""
    from deage.edit.makeup import MakeupEditor, MakeupParams

    masks = _build({"occluder": "xseg_1"}, _occluder_dir(tmp_path, "left_cheek"))
    editor = MakeupEditor()
    aligned = align_face(astronaut, face, editor.template, crop_size_for(face, editor.template))
    result = editor.edit(aligned, MakeupParams(years=25))
    flow = result.retouch.flow.copy()
    occluded = masks.occlude(aligned, result)
    still = occluded.retouch.flow
    grid = flow.shape[0]
    moving = np.hypot(flow[..., 0], flow[..., 1]) > 0.5
    covered = np.zeros((grid, grid), bool)
    covered[int(0.45 * grid):, : grid // 2 - 2] = True
    assert (moving & covered).sum() > 10  # the jaw lift moves that side without an occluder
    assert np.abs(still[covered]).max() < 0.1  # crop pixels: under the warp's own dead zone (0.2)
    far = np.zeros((grid, grid), bool)
    far[:, int(0.65 * grid):] = True  # the right jaw, beyond the stilled band
    assert (moving & far).sum() > 5 and np.abs(still[far] - flow[far]).max() < 0.05
    np.testing.assert_array_equal(result.retouch.flow, flow)
    assert occluded.image.shape == result.image.shape and not np.array_equal(occluded.image, result.image)


def test_a_swap_never_carries_what_covers_the_source_face(tmp_path, astronaut, group_photo):
    """Wiring (stand-in occluder that calls blue "covered"): a source photo with a blue patch on
    her cheek (a hand, a microphone) swapped onto another face. Without the occluder the patch
    comes along onto the target; with it, that cheek is filled from the mirror image of her other
    cheek: no blue on the target, and that cheek is the source's skin, not a hole."""
    from deage.face.backends.dlib_backend import DlibDetector

    photo = astronaut.copy()
    source_face = largest_face(photo)
    lm = source_face.landmarks
    patch_at = tuple(int(v) for v in (lm[2] + lm[31]) / 2)
    radius = int(0.25 * np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    cv2.circle(photo, patch_at, radius, (30, 60, 230), -1)
    source = tmp_path / "source.png"
    cv2.imwrite(str(source), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    target = cv2.resize(group_photo, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    face = max(DlibDetector().detect(target), key=lambda f: f.center[0])  # the rightmost person
    look = Look(editor="swap", edit={"sources": {"a": {"photo": str(source), "consent": {
        "name": "test subject", "reference": "test fixture, not for publication"}}}})

    def blue(image: np.ndarray) -> np.ndarray:
        rgb = image.astype(int)
        return (rgb[..., 2] - np.maximum(rgb[..., 0], rgb[..., 1])) > 80

    carried, _ = FrameRenderer(look).render(target, 0, {0: face})
    masks = _build({"occluder": "xseg_1"}, _occluder_dir(tmp_path, "blue"))
    renderer = FrameRenderer(look, masks=masks)
    clean, (matte,) = renderer.render(target, 0, {0: face})
    assert blue(carried).sum() > 100 and blue(target).sum() == 0
    assert blue(clean).sum() == 0
    # the covered cheek came from her other cheek: the swap covers it, in skin tones
    x0, y0, x1, y1 = face.box.astype(int)
    assert matte[y0:y1, x0:x1].mean() > 0.5
    assert renderer.editor._covered["a"] and not FrameRenderer(look).editor._covered["a"]
