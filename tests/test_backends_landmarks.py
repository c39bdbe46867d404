"""Landmarker backends: PFLD with the real small model (against dlib), 2d106det with stand-ins."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest

from deage.errors import WeightsError
from deage.face.backends import make_backend
from deage.face.backends.common import keypoints5_from_68
from deage.face.backends.landmark106 import LANDMARK106_TO_68, landmarks106_to_68
from deage.types import Face
from standins import constant_points_model, write_manifest


@pytest.fixture(scope="module")
def scrfd(shared_models):
    return make_backend("scrfd_500m", shared_models)


@pytest.fixture(scope="module")
def pfld(shared_models):
    return make_backend("pfld_68", shared_models)


@pytest.fixture(scope="module")
def dlib_reference(astronaut):
    """dlib's 68 points on the astronaut (HOG box + shape predictor), the embedded reference."""
    import dlib

    from deage.face.backends.dlib_backend import model_paths

    predictor = dlib.shape_predictor(str(model_paths()["landmarks68"]))
    rect = dlib.get_frontal_face_detector()(astronaut, 1)[0]
    return np.array([[p.x, p.y] for p in predictor(astronaut, rect).parts()], np.float32)


def _nme(points, ref) -> float:
    """Mean point error over the outer-eye-corner distance (the 300W convention)."""
    return float(np.linalg.norm(points - ref, axis=1).mean() / np.linalg.norm(ref[36] - ref[45]))


@pytest.mark.parametrize("degrees", [0, 30])
def test_pfld_matches_dlib_on_the_astronaut(degrees, scrfd, pfld, astronaut, dlib_reference, artifacts_dir):
    """Real model: PFLD's 68 points agree with dlib's within 5% of the eye-corner distance, upright
    and with the head rolled 30 degrees (the crop is rotated upright from the detector's eye line)."""
    rot = cv2.getRotationMatrix2D((225.0, 120.0), degrees, 1.0)
    image = cv2.warpAffine(astronaut, rot, (512, 512), borderMode=cv2.BORDER_REFLECT)
    ref = dlib_reference @ rot[:, :2].T + rot[:, 2]
    face = scrfd.detect(image)[0]
    fitted = pfld.fit(image, face)
    assert fitted.landmarks.shape == (68, 2) and fitted.landmarks.dtype == np.float32
    assert fitted.box is not face.box and face.landmarks is None  # a new Face; the input is untouched
    error = _nme(fitted.landmarks, ref)
    print(f"PFLD vs dlib, astronaut rolled {degrees} deg: NME {error:.3f} of the eye-corner distance")
    assert error < 0.05
    np.testing.assert_allclose(fitted.keypoints5, keypoints5_from_68(fitted.landmarks))
    if degrees == 30:
        vis = image.copy()
        for x, y in ref:
            cv2.circle(vis, (int(x), int(y)), 2, (0, 255, 0), -1)
        for x, y in fitted.landmarks:
            cv2.circle(vis, (int(x), int(y)), 2, (255, 0, 0), -1)
        cv2.imwrite(str(artifacts_dir / "backends_pfld_vs_dlib_rolled30.png"), cv2.cvtColor(vis, cv2.COLOR_RGB2BGR))


def test_pfld_refuses_the_wrong_input_size(tmp_path):
    """Wiring: a landmark file with a 128 px input is refused with both shapes in the message."""
    constant_points_model(tmp_path / "pfld_128.onnx", np.zeros(136), ["N", 3, 128, 128])
    m = write_manifest(tmp_path, {"p": {"file": "pfld_128.onnx", "kind": "landmarker", "backend": "pfld"}})
    with pytest.raises(WeightsError) as err:
        make_backend("p", manifest=m)
    message = str(err.value)
    assert "pfld_128.onnx" in message and "[N,3,128,128]" in message and "[N,3,112,112]" in message


# -- 2d106det -------------------------------------------------------------------------------------
def _tilted_face(angle_deg: float) -> Face:
    """A face box (100, 80)-(200, 200) whose eye line is rotated by ``angle_deg``."""
    t = np.radians(angle_deg)
    eye = np.array([np.cos(t), np.sin(t)]) * 20
    center = np.array([150.0, 130.0])
    kps = np.array([center - eye, center + eye, center + [0, 20], center + [-15, 40], center + [15, 40]], np.float32)
    return Face(box=np.array([100, 80, 200, 200], np.float32), score=0.9, keypoints5=kps)


@pytest.fixture(scope="module")
def points106() -> np.ndarray:
    return np.random.default_rng(1).uniform(-0.6, 0.6, (106, 2)).astype(np.float32)


@pytest.fixture()
def landmark106(tmp_path, points106):
    constant_points_model(tmp_path / "2d106det.onnx", points106.ravel(), ["N", 3, 192, 192])
    return write_manifest(tmp_path, {"lm106": {"file": "2d106det.onnx", "kind": "landmarker",
                                               "backend": "landmark106"}})


@pytest.mark.parametrize("angle", [0.0, 30.0])
def test_landmark106_wiring_crop_and_mapping(landmark106, points106, angle):
    """Wiring, not accuracy: a stand-in that always outputs the same normalised 106 points must come
    back at box centre + rotation(eye line) * points * (1.5 * box side) / 2, then mapped to 68."""
    backend = make_backend("lm106", manifest=landmark106)
    image = np.zeros((300, 300, 3), np.uint8)
    face = _tilted_face(angle)
    got106 = backend.fit106(image, face)
    t = np.radians(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    expect = np.array([150.0, 140.0]) + (points106 * (1.5 * 120) / 2) @ rot.T
    np.testing.assert_allclose(got106, expect, atol=0.05)
    fitted = backend.fit(image, face)
    np.testing.assert_allclose(fitted.landmarks, landmarks106_to_68(expect), atol=0.05)
    np.testing.assert_allclose(fitted.keypoints5, keypoints5_from_68(fitted.landmarks), atol=1e-5)


def test_landmark106_input_normalisation_follows_the_graph(tmp_path, points106):
    """Wiring (stand-in), insightface's rule: Sub and Mul nodes first -> the model takes raw 0..255 pixels."""
    path = constant_points_model(tmp_path / "2d106det.onnx", points106.ravel(), ["N", 3, 192, 192])
    m = write_manifest(tmp_path, {"lm106": {"file": "2d106det.onnx", "kind": "landmarker", "backend": "landmark106"}})
    assert make_backend("lm106", manifest=m).input_normalisation == "centered"
    assert make_backend("lm106", manifest=m, input_normalisation="raw").input_normalisation == "raw"
    model = onnx.load(str(path))
    model.graph.node[0].name, model.graph.node[2].name = "Sub_0", "Mul_1"
    onnx.save(model, str(path))
    m = write_manifest(tmp_path, {"lm106": {"file": "2d106det.onnx", "kind": "landmarker", "backend": "landmark106"}})
    assert make_backend("lm106", manifest=m).input_normalisation == "raw"
    with pytest.raises(WeightsError, match="input_normalisation"):
        make_backend("lm106", manifest=m, input_normalisation="imagenet")


def test_106_to_68_table_is_well_formed():
    """Each iBUG region draws on the 106-point group the 2d106 mark-up gives it."""
    table = LANDMARK106_TO_68
    assert table.shape == (68, 2) and table.min() >= 0 and table.max() <= 105
    contour = set(range(0, 33))
    assert set(table[:17].ravel()) <= contour and table[8, 0] == table[8, 1] == 0  # chin
    assert set(table[17:22].ravel()) <= set(range(43, 52)) and set(table[22:27].ravel()) <= set(range(97, 106))
    assert set(table[36:42].ravel()) <= set(range(33, 43)) and set(table[42:48].ravel()) <= set(range(87, 97))
    assert set(table[48:68].ravel()) <= set(range(52, 72)) and len(set(table[48:68, 0])) == 20
    assert set(table[27:36].ravel()) <= set(range(72, 87))
    # no jaw point is used twice, and the jaw runs from one side through the chin to the other
    assert len(set(table[:17, 0])) == 17
