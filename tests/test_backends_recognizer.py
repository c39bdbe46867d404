"""ArcFace recognizer backend, with a stand-in (no ArcFace weights are available here)."""

from __future__ import annotations

import numpy as np
import pytest

from deage.errors import WeightsError
from deage.face.backends import make_backend
from deage.face.protocols import Recognizer
from standins import constant_points_model, projection_model, write_manifest


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arcface")
    projection_model(folder / "w600k_r50.onnx")
    m = write_manifest(folder, {"arc": {"file": "w600k_r50.onnx", "kind": "recognizer", "backend": "arcface",
                                        "signature": {"threshold": 0.5}}})
    return make_backend("arc", manifest=m)


@pytest.fixture(scope="module")
def faces(shared_models, group_photo):
    return make_backend("scrfd_500m", shared_models).detect(group_photo)


def test_wiring_descriptors_follow_the_aligned_face(recognizer, faces, group_photo):
    """Wiring, not accuracy: the stand-in projects the pooled arcface-aligned crop, so the same face
    moved in the frame gives (almost) the same descriptor and another face a different one."""
    assert isinstance(recognizer, Recognizer)
    assert recognizer.threshold == 0.5 and recognizer.input_size == 112 and recognizer.input_normalisation == "centered"
    a = recognizer.describe(group_photo, faces[0])
    assert a.shape == (512,) and a.dtype == np.float32 and np.linalg.norm(a) == pytest.approx(1, abs=1e-5)
    shifted = np.roll(group_photo, (7, 13), axis=(0, 1))
    moved = faces[0].__class__(box=faces[0].box + [13, 7, 13, 7], score=faces[0].score,
                               keypoints5=faces[0].keypoints5 + [13, 7])
    same = recognizer.distance(a, recognizer.describe(shifted, moved))
    others = [recognizer.distance(a, recognizer.describe(group_photo, f)) for f in faces[1:]]
    assert same < 0.01 < min(others)
    assert recognizer.distance(a, a) == pytest.approx(0, abs=1e-6)


def test_batch_equals_one_by_one(recognizer, faces, group_photo):
    """Wiring (stand-in): one batch through the model equals the faces described one by one."""
    batch = recognizer.describe_many(group_photo, faces)
    assert batch.shape == (6, 512)
    single = np.stack([recognizer.describe(group_photo, f) for f in faces])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert recognizer.describe_many(group_photo, []).shape[0] == 0


def test_input_size_not_a_multiple_of_16_is_refused(tmp_path):
    """Wiring: a file whose square input (100 px) is no ArcFace size is refused, naming the rule."""
    constant_points_model(tmp_path / "bad.onnx", np.zeros(512), ["N", 3, 100, 100])
    m = write_manifest(tmp_path, {"arc": {"file": "bad.onnx", "kind": "recognizer", "backend": "arcface"}})
    with pytest.raises(WeightsError, match="multiple of 16"):
        make_backend("arc", manifest=m)
