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


def _moving_clip(face: np.ndarray, speed: float, shutter: float, count: int = 9) -> list[np.ndarray]:
    """``face`` (a photo) crossing a grey 900x600 frame at ``speed`` pixels a frame, each frame
    exposed for ``shutter`` degrees: the mean of 16 positions over that part of the move."""
    blur = speed * shutter / 360.0
    frames = []
    for i in range(count):
        acc = np.zeros((600, 900, 3), np.float64)
        offsets = np.linspace(-0.5, 0.5, 16) * blur if blur else [0.0]
        for t in offsets:
            move = np.float32([[1, 0, 100 + speed * i + t], [0, 1, 0]])
            acc += cv2.warpAffine(face, move, (900, 600), borderMode=cv2.BORDER_CONSTANT, borderValue=(60, 60, 60))
        frames.append(np.clip(acc / len(offsets) + 0.5, 0, 255).astype(np.uint8))
    return frames


def test_a_swapped_face_takes_the_motion_blur_of_a_moving_plate(older_face):
    """Grace Hopper's portrait crossing the frame at 12 pixels a frame, filmed with a 180-degree
    shutter (6 pixels of motion blur), her own photo swapped onto it. The analysis reads her
    motion from the tracked landmarks (about 12 pixels a frame, mid-clip). The face's horizontal
    over vertical edge energy: the moving plate's 0.45 (a still one's 0.70); the swapped face
    without ``shutter`` 0.68, a sharp face on a blurred head; with ``shutter`` 180 within 0.06 of
    the plate's. ``shutter`` 0, or a photo (no motion known), adds nothing: bit for bit the same."""
    import matplotlib

    from deage.face.analysis import AnalysisSettings, analyse_frames

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    frames = _moving_clip(older_face, 12.0, 180.0)
    analysis = analyse_frames(frames, 25, AnalysisSettings())
    (track,) = analysis.track_ids
    assert np.allclose(analysis.motion(track, 4), (12.0, 0.0), atol=1.5), analysis.motion(track, 4)
    data = load_look(REPO / "examples" / "looks" / "swap.json").to_dict()
    data["edit"]["sources"]["demo"]["photo"] = str(photo)
    outs = {}
    for shutter in (0.0, 180.0):
        data["edit"]["shutter"] = shutter
        renderer = FrameRenderer(Look.from_dict(json.loads(json.dumps(data))), analysis=analysis)
        outs[shutter], (mask,) = renderer.render(frames[4], 4, analysis.faces_at(4))
    inside = cv2.erode((mask > 0.95).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert inside.sum() > 10000

    def across_over_down(image: np.ndarray) -> float:
        grey = _grey(image)
        gx, gy = (np.abs(cv2.Sobel(grey, cv2.CV_32F, dx, 1 - dx))[inside].mean() for dx in (1, 0))
        return float(gx / gy)

    plate = across_over_down(frames[4])
    assert plate < 0.55 and across_over_down(_moving_clip(older_face, 12.0, 0.0)[4]) > 0.6
    assert across_over_down(outs[0.0]) > 0.6
    assert abs(across_over_down(outs[180.0]) - plate) < 0.06
    outside = ~cv2.dilate((mask > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.array_equal(outs[180.0][outside], frames[4][outside])
    # A photo: no neighbouring frames, no motion.
    (face,) = DlibDetector().detect(older_face)
    assert np.array_equal(_swap(older_face, face, 1.0, photo)[0],
                          FrameRenderer(Look.from_dict(json.loads(json.dumps(data)))).render(older_face, 0, {1: face})[0])
