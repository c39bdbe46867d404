"""Face detector backends: SCRFD and YuNet with the real small models, RetinaFace with a stand-in."""

from __future__ import annotations

import numpy as np
import pytest

from deage.errors import DeageError, WeightsError
from deage.face.backends import make_backend
from standins import retinaface_anchor_state, scrfd_without_keypoints, write_manifest


@pytest.fixture(scope="module")
def scrfd(shared_models):
    return make_backend("scrfd_500m", shared_models, device="cpu")


@pytest.fixture(scope="module")
def yunet(shared_models):
    return make_backend("yunet", shared_models)


def _iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _assert_plausible(face, image_shape):
    """Box inside the frame, key points inside the box, and in the face's upright frame (eye line
    horizontal): eyes above the nose above the mouth, left before right."""
    h, w = image_shape[:2]
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    k = face.keypoints5
    assert face.box.dtype == np.float32 and k.shape == (5, 2) and k.dtype == np.float32
    assert np.all((k[:, 0] > x0) & (k[:, 0] < x1) & (k[:, 1] > y0) & (k[:, 1] < y1))
    angle = np.arctan2(*(k[1] - k[0])[::-1])
    assert abs(np.degrees(angle)) < 60
    c, s = np.cos(-angle), np.sin(-angle)
    up = (k - k[2]) @ np.array([[c, s], [-s, c]])  # rotate by -angle about the nose
    assert up[0, 0] < up[1, 0] and up[3, 0] < up[4, 0]
    assert max(up[0, 1], up[1, 1]) < up[2, 1] < min(up[3, 1], up[4, 1])
    assert 0 < face.score <= 1


@pytest.mark.parametrize("name", ["scrfd", "yunet"])
def test_finds_the_astronaut(name, request, astronaut):
    detector = request.getfixturevalue(name)
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    _assert_plausible(faces[0], astronaut.shape)
    # her face is about 90 px wide around x=225, y=120 in skimage's astronaut
    cx, cy = faces[0].center
    assert 200 < cx < 250 and 95 < cy < 145 and 70 < faces[0].width < 120


@pytest.mark.parametrize("name", ["scrfd", "yunet"])
def test_finds_all_six_in_the_group_photo(name, request, group_photo):
    faces = request.getfixturevalue(name).detect(group_photo)
    assert len(faces) == 6
    for face in faces:
        _assert_plausible(face, group_photo.shape)
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


def test_scrfd_and_yunet_agree(scrfd, yunet, shared_media):
    from conftest import read_rgb

    image = read_rgb(shared_media / "fo_selfie_diverse_group.jpg")
    a, b = scrfd.detect(image), yunet.detect(image)
    assert len(a) == len(b) == 5
    for face in a:
        best = max(b, key=lambda o: _iou(face.box, o.box))
        assert _iou(face.box, best.box) > 0.6
        iod = np.linalg.norm(face.keypoints5[1] - face.keypoints5[0])
        assert np.abs(face.keypoints5 - best.keypoints5).max() < 0.5 * iod  # YuNet-n is looser on tilted heads


@pytest.mark.parametrize("name", ["scrfd", "yunet"])
def test_coordinates_follow_scale_and_offset(name, request, astronaut):
    """A frame 3x larger, with the face moved, gives the same face scaled and moved."""
    import cv2

    detector = request.getfixturevalue(name)
    ref = detector.detect(astronaut)[0]
    big = np.zeros((1200, 2000, 3), np.uint8)
    big[60:60 + 1536, 300:300 + 1536][:1140] = cv2.resize(astronaut, (1536, 1536))[:1140]
    faces = detector.detect(big)
    assert len(faces) == 1
    expect = ref.box * 3 + np.array([300, 60, 300, 60])
    assert np.abs(faces[0].box - expect).max() < 0.06 * ref.width * 3
    iod = np.linalg.norm(ref.keypoints5[1] - ref.keypoints5[0]) * 3
    assert np.abs(faces[0].keypoints5 - (ref.keypoints5 * 3 + [300, 60])).max() < 0.15 * iod


def test_no_face_and_bad_input(scrfd, yunet):
    flat = np.full((240, 320, 3), 128, np.uint8)
    assert scrfd.detect(flat) == [] and yunet.detect(flat) == []
    for detector in (scrfd, yunet):
        with pytest.raises(DeageError, match="RGB uint8"):
            detector.detect(np.zeros((64, 64, 3), np.float32))
        with pytest.raises(DeageError, match="RGB uint8"):
            detector.detect(np.zeros((64, 64), np.uint8))


def test_detector_without_keypoints_is_refused(tmp_path):
    """Wiring: a SCRFD-family file with only score/box outputs gets a clear signature error."""
    scrfd_without_keypoints(tmp_path / "det_nokps.onnx")
    m = write_manifest(tmp_path, {"nokps": {"file": "det_nokps.onnx", "kind": "detector", "backend": "scrfd"}})
    with pytest.raises(WeightsError, match="6 outputs.*key points") as err:
        make_backend("nokps", manifest=m)
    assert "det_nokps.onnx" in str(err.value)


def test_yunet_refuses_another_model(tmp_path, shared_models):
    """A real ONNX model of another kind (PFLD) under YuNet's backend is refused."""
    import shutil

    shutil.copy(shared_models / "pfld_landmarks.onnx", tmp_path / "fake_yunet.onnx")
    m = write_manifest(tmp_path, {"fake": {"file": "fake_yunet.onnx", "kind": "detector", "backend": "yunet"}})
    with pytest.raises(WeightsError, match="not YuNet's"):
        make_backend("fake", manifest=m)


def test_retinaface_wiring_with_anchor_standin(tmp_path):
    """Wiring, not accuracy: a facexlib RetinaFace whose heads predict "face, no offset" for every
    anchor returns boxes and key points on the anchor grid, scaled back from ``max_side``."""
    retinaface_anchor_state(tmp_path / "retina_standin.pth")
    m = write_manifest(tmp_path, {"retina": {"file": "retina_standin.pth", "kind": "detector",
                                             "backend": "retinaface", "signature": {"network": "mobile0.25"}}})
    detector = make_backend("retina", manifest=m, device="cpu", max_side=64)
    assert detector.network == "mobile0.25" and detector.device == "cpu"
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    faces = detector.detect(image)  # the network sees 48 x 64: scale 0.5
    assert len(faces) > 3
    for face in faces:
        k = face.keypoints5
        assert np.allclose(k, k[0], atol=1e-3)  # zero landmark offsets: all 5 at the anchor centre
        grid = k[0] * 0.5  # back in network pixels: (j + 0.5) * step for a step of 8, 16 or 32
        assert any(np.allclose(((grid / step) - 0.5) % 1.0, 0, atol=1e-3) for step in (8, 16, 32)), grid
        assert face.score == pytest.approx(1 / (1 + np.exp(-6)), abs=1e-4)


def test_retinaface_refuses_a_foreign_state_dict(tmp_path):
    """Wiring: a state dict of another network is refused, naming what does not fit."""
    import torch

    torch.save({"conv.weight": torch.zeros(3, 3)}, str(tmp_path / "not_retina.pth"))
    m = write_manifest(tmp_path, {"retina": {"file": "not_retina.pth", "kind": "detector", "backend": "retinaface",
                                             "signature": {"network": "mobile0.25"}}})
    with pytest.raises(WeightsError, match="not a RetinaFace mobile0.25 state dict: .*missing tensors"):
        make_backend("retina", manifest=m, device="cpu")
