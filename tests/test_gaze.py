"""Gaze: where the irises sit in the eyes, and a swapped face's eyes looking where the plate looks.

Real footage: ../shared/media/driving_d0.mp4, a man who looks at the camera (frames 0-9), to the
image right (12-27), to the image left (33-39) and closes his eyes (66); the swap's source is the
woman in ../shared/media/driving_d30.jpg, who looks at the camera.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deage.edit.swap import SwapEditor, SwapParams
from deage.edit.swap.gaze import MAX_SHIFT, column_knots, redirect_gaze
from deage.face.align import align_face
from deage.face.analysis import analyse_clip
from deage.face.gaze import IRIS_WIDTH, estimate_gaze
from deage.video import open_clip

CONSENT = {"name": "test subject", "reference": "test fixture, not for publication"}
STRAIGHT, RIGHT, LEFT, CLOSED = 3, 21, 36, 66


@pytest.fixture(scope="module")
def plate(shared_media):
    """{frame: (RGB uint8 frame, its one Face)} of the looking-around clip."""
    clip = open_clip(shared_media / "driving_d0.mp4")
    analysis = analyse_clip(clip, use_cache=False)
    wanted = {STRAIGHT, RIGHT, LEFT, CLOSED, 12, 15, 18, 24, 30, 33, 39}
    out = {}
    for index, frame in enumerate(clip.frames()):
        if index in wanted:
            faces = analysis.faces_at(index)
            assert len(faces) == 1, f"frame {index}: {len(faces)} faces"
            out[index] = (frame, next(iter(faces.values())))
    return out


def _eye_openings(landmarks: np.ndarray, shape: tuple[int, ...], grow: int) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    for start in (36, 42):
        cv2.fillPoly(mask, [np.round(landmarks[start:start + 6]).astype(np.int32)], 1)
    return cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0


def _gaze(plate, index):
    frame, face = plate[index]
    return estimate_gaze(frame, face.landmarks)


def test_iris_positions_follow_where_he_looks(plate):
    straight, right, left = _gaze(plate, STRAIGHT), _gaze(plate, RIGHT), _gaze(plate, LEFT)
    assert np.all(np.abs(straight.u - 0.5) < 0.1), straight.u
    assert np.all(right.u > 0.75), right.u
    assert np.all(left.u < 0.25), left.u
    assert np.all(straight.contrast > 0.1) and np.all(right.contrast > 0.1)
    closed = _gaze(plate, CLOSED)
    assert not closed.known.any() and np.isnan(closed.both()).all(), closed.u


def test_unknown_eye_takes_the_other_eyes_position(plate):
    frame, face = plate[RIGHT]
    landmarks = face.landmarks
    hidden = frame.copy()
    left_eye = _eye_openings(landmarks, frame.shape, 6) & (np.arange(frame.shape[1])[None, :] < landmarks[39, 0] + 6)
    hidden[left_eye] = hidden[left_eye].mean(axis=0).astype(np.uint8)  # a flat patch: no iris to see
    gaze = estimate_gaze(hidden, landmarks)
    assert np.isnan(gaze.u[0]) and gaze.u[1] > 0.75
    assert gaze.both()[0] == gaze.u[1]
    tiny = estimate_gaze(cv2.resize(frame, None, fx=0.1, fy=0.1), landmarks * 0.1)  # eyes ~4 px wide
    assert not tiny.known.any()


def test_column_map_moves_the_iris_rigidly_and_keeps_the_corners():
    to, src = column_knots(0.5, 0.7)
    assert np.all(np.diff(to) > 0) and np.all(np.diff(src) > 0)
    half = 0.5 * IRIS_WIDTH
    assert np.interp(0.7 - half, to, src) == pytest.approx(0.5 - half)
    assert np.interp(0.7 + half, to, src) == pytest.approx(0.5 + half)
    assert np.interp(0.0, to, src) == pytest.approx(0.0) and np.interp(0.12, to, src) == pytest.approx(0.12)
    to, src = column_knots(0.5, 0.95)  # into the corner: the corner moves out with the iris
    assert 1.0 not in src and np.all(np.diff(src) > 0)


def test_redirect_moves_the_irises_inside_the_eyes_only(plate):
    frame, face = plate[STRAIGHT]
    aligned = align_face(frame, face, "ffhq", 512)
    start = estimate_gaze(aligned.image, aligned.landmarks)
    for target in (0.85, 0.15):
        moved = redirect_gaze(aligned.image, aligned.landmarks, start.u, np.array([target, target]))
        after = estimate_gaze(moved, aligned.landmarks)
        expect = start.u + np.clip(target - start.u, -MAX_SHIFT, MAX_SHIFT)
        assert np.all(np.abs(after.u - expect) < 0.12), (target, start.u, after.u)  # the measure reads ~0.1 nearer a corner
        changed = np.any(moved != aligned.image, axis=2)
        assert changed.sum() > 200
        assert not (changed & ~_eye_openings(aligned.landmarks, moved.shape, 2)).any()
    # Unknown positions, tiny moves and an iris already in a corner leave the crop as it is.
    assert np.array_equal(redirect_gaze(aligned.image, aligned.landmarks, np.array([np.nan, 0.5]),
                                        np.array([0.9, np.nan])), aligned.image)
    assert np.array_equal(redirect_gaze(aligned.image, aligned.landmarks, start.u, start.u + 0.01), aligned.image)
    assert np.array_equal(redirect_gaze(aligned.image, aligned.landmarks, np.array([0.9, 0.9]),
                                        np.array([0.5, 0.5])), aligned.image)


def test_swapped_eyes_look_where_the_plate_looks(plate, shared_media):
    """The source looks at the camera; with gaze "target" its eyes follow the actor's, with
    gaze "source" they keep staring ahead."""
    def params(gaze: str) -> SwapParams:
        return SwapParams.from_dict({"sources": {"s": {"photo": str(shared_media / "driving_d30.jpg"),
                                                       "consent": CONSENT}}, "gaze": gaze})

    editor = SwapEditor()
    source_gaze = None
    errors = {"target": [], "source": []}
    for index in (12, 15, 18, 24, 30, 33, 39):
        frame, face = plate[index]
        aligned = align_face(frame, face, "ffhq", 512)
        wanted = estimate_gaze(aligned.image, aligned.landmarks).both()
        for gaze in errors:
            result = editor.edit(aligned, params(gaze), track_id=1)
            seen = estimate_gaze(result.image, aligned.landmarks).both()
            errors[gaze].append(np.abs(seen - wanted).max())
        source_gaze = editor._sources["s"].gaze.u
    assert np.all(np.abs(source_gaze - 0.5) < 0.12), source_gaze
    # Gaze to the side is 0.35-0.4 from the middle; moves stop at MAX_SHIFT (0.3) from the source's.
    assert np.median(errors["target"]) < 0.12, errors
    assert np.median(errors["source"]) > 0.25, errors
