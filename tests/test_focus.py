"""Softness of a face's edges (``deage.blend.focus``) on real photos, and a swapped face softened
to a soft plate's focus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from deage.blend.focus import MIN_BLUR, edge_blur, missing_blur, soften_to
from deage.face.backends.dlib_backend import DlibDetector
from deage.look import Look, load_look
from deage.render import FrameRenderer

REPO = Path(__file__).resolve().parents[1]


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _face_box(image: np.ndarray) -> np.ndarray:
    """bool (H, W): the largest face's inner hull (jaw and brows), dlib's landmarks."""
    face = max(DlibDetector().detect(image), key=lambda f: f.area)
    where = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(where, cv2.convexHull(face.landmarks.astype(np.int32)), 1)
    return where > 0


@pytest.mark.parametrize("photo", ["astronaut", "older_face"])
def test_edge_blur_rises_with_blur_and_ignores_noise(photo, request):
    """Blurred by 0-4 pixels, a photo's face reads ever softer (by 0.2 pixels a step at least), and
    camera-like noise of 4 levels changes the reading by under 10 % (the edges are picked where
    the noise is blurred away; picked on the noisy image a 3-pixel blur read 30 % sharper)."""
    image = request.getfixturevalue(photo)
    where = _face_box(image)
    rng = np.random.default_rng(3)
    readings = []
    for s in (0.0, 1.0, 2.0, 3.0, 4.0):
        blurred = _grey(cv2.GaussianBlur(image, (0, 0), s)) if s else _grey(image)
        noisy = blurred + rng.normal(0.0, 4.0, blurred.shape).astype(np.float32)
        readings.append(edge_blur(blurred, where))
        assert abs(edge_blur(noisy, where) / readings[-1] - 1.0) < 0.1, (s, edge_blur(noisy, where), readings[-1])
    assert 1.0 < readings[0] < 2.0, readings
    assert np.all(np.diff(readings) > 0.2), readings


def test_a_flat_image_is_not_measured_and_a_softer_face_is_left_alone(astronaut):
    """No edges: NaN, and nothing added. A face already softer than its plate gets no blur: the
    very array comes back."""
    where = _face_box(astronaut)
    assert math.isnan(edge_blur(np.full(astronaut.shape[:2], 90.0, np.float32), where))
    soft = cv2.GaussianBlur(astronaut, (0, 0), 2.0)
    assert missing_blur(soft, astronaut, where, where) == 0.0
    same, sigma = soften_to(soft, astronaut, where, where)
    assert same is soft and sigma == 0.0
    assert soften_to(astronaut, astronaut, where, where)[0] is astronaut  # as sharp: under MIN_BLUR


def test_soften_to_matches_the_plates_softness(astronaut, older_face):
    """Grace Hopper's portrait, sharp, softened to the astronaut blurred by 3 pixels: her face then
    reads as soft as the astronaut's, within 5 %."""
    plate = cv2.GaussianBlur(astronaut, (0, 0), 3.0)
    plate_where, face_where = _face_box(astronaut), _face_box(older_face)
    softened, sigma = soften_to(older_face, plate, face_where, plate_where)
    assert sigma > MIN_BLUR
    target = edge_blur(_grey(plate), plate_where)
    assert abs(edge_blur(_grey(softened), face_where) / target - 1.0) < 0.05


def _swap(plate: np.ndarray, face, focus: float, photo: Path) -> tuple[np.ndarray, np.ndarray]:
    data = load_look(REPO / "examples" / "looks" / "swap.json").to_dict()
    data["edit"]["focus"] = focus
    data["edit"]["sources"]["demo"]["photo"] = str(photo)
    out, (mask,) = FrameRenderer(Look.from_dict(json.loads(json.dumps(data)))).render(plate, 0, {1: face})
    return out, mask


def test_a_swapped_face_takes_the_softness_of_an_out_of_focus_plate(older_face):
    """Grace Hopper's sharp portrait swapped onto the same portrait out of focus (a 3-pixel blur),
    so the right answer is known: the plate's softness. Without ``focus`` her face came out as
    sharp as the photo (a reading of 1.8 against the plate's 3.5: a sharp patch on a soft frame);
    with it, within 10 % of the plate's. On the sharp portrait there is nothing to add: the render
    is bit for bit the same with ``focus`` 0 and 1."""
    import matplotlib

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    (face,) = DlibDetector().detect(older_face)
    plate = cv2.GaussianBlur(older_face, (0, 0), 3.0)
    sharp, mask = _swap(plate, face, 0.0, photo)
    matched, _ = _swap(plate, face, 1.0, photo)
    inside = cv2.erode((mask > 0.95).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert inside.sum() > 10000
    soft_plate = edge_blur(_grey(plate), inside)
    assert edge_blur(_grey(sharp), inside) < 0.6 * soft_plate
    assert abs(edge_blur(_grey(matched), inside) / soft_plate - 1.0) < 0.1
    outside = ~cv2.dilate((mask > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.array_equal(matched[outside], plate[outside])
    assert np.array_equal(_swap(older_face, face, 0.0, photo)[0], _swap(older_face, face, 1.0, photo)[0])
