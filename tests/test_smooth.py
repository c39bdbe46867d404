"""One Euro smoothing: noise removal, lag on motion, gaps, parameters, whole tracks.

Signals here are synthetic on purpose (known truth); the real-face jitter figure is in test_analysis.
"""

from __future__ import annotations

import numpy as np
import pytest

from deage.errors import DeageError
from deage.face.smooth import (
    OneEuroParams,
    contiguous_runs,
    one_euro,
    smooth_sequence,
    smooth_track,
    smooth_track_points,
)
from deage.types import Face, Track

FPS = 24.0


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(x**2, axis=-1))))


def test_still_points_lose_most_of_their_noise():
    rng = np.random.default_rng(0)
    truth = np.tile(np.array([[100.0, 50.0], [140.0, 52.0]]), (96, 1, 1))
    noisy = truth + rng.normal(0, 0.5, truth.shape)
    t = np.arange(96) / FPS
    for zero_phase, factor in ((False, 2.5), (True, 3.0)):
        out = smooth_sequence(noisy, t, OneEuroParams(zero_phase=zero_phase), scale=120.0)
        assert out.shape == noisy.shape and out.dtype == np.float32
        assert _rms(out[12:] - truth[12:]) < _rms(noisy - truth) / factor
    # zero-phase is smoother than one causal pass
    causal = smooth_sequence(noisy, t, OneEuroParams(zero_phase=False), 120.0)
    both = smooth_sequence(noisy, t, OneEuroParams(zero_phase=True), 120.0)
    assert _rms(both[12:-12] - truth[12:-12]) < _rms(causal[12:-12] - truth[12:-12])


def test_zero_phase_has_no_lag_on_steady_motion_and_causal_lag_is_bounded():
    t = np.arange(72) / FPS
    speed = 120.0  # px/s, one face width per second for a 120 px face
    truth = np.stack([np.stack([speed * t, np.zeros_like(t)], -1)], 1)  # (T, 1, 2)
    both = smooth_sequence(truth, t, OneEuroParams(), 120.0)
    assert np.abs(both[10:-10] - truth[10:-10]).max() < 0.1  # px, while 5 px move per frame
    causal = smooth_sequence(truth, t, OneEuroParams(zero_phase=False), 120.0)
    lag = truth[36:, 0, 0] - causal[36:, 0, 0]
    assert (lag > 0).all()  # a causal filter trails the motion...
    # ...by about speed / (2 pi (min_cutoff + beta * speed)): under 1/20 s of motion (6 px), not 1/3 s
    assert lag.max() < 0.05 * speed


def test_beta_cuts_lag_on_fast_motion():
    t = np.arange(48) / FPS
    truth = np.zeros((48, 1, 2))
    truth[24:, 0, 0] = 60.0  # a sudden 60 px move (half a face width)
    slow = one_euro(truth / 120.0, t, OneEuroParams(beta=0.0))[:, 0, 0] * 120.0
    fast = one_euro(truth / 120.0, t, OneEuroParams(beta=4.0))[:, 0, 0] * 120.0
    assert fast[26] > 2 * slow[26]  # two frames after the jump, beta has followed much further
    assert fast[30] > 50.0


def test_scale_makes_parameters_size_independent():
    rng = np.random.default_rng(1)
    t = np.arange(60) / FPS
    path = np.cumsum(rng.normal(0, 1, (60, 3, 2)), axis=0)
    small = smooth_sequence(path, t, OneEuroParams(), scale=100.0)
    large = smooth_sequence(path * 4, t, OneEuroParams(), scale=400.0)
    np.testing.assert_allclose(large, small * 4, rtol=1e-4, atol=1e-3)


def test_gaps_reset_the_filter():
    assert [(s.start, s.stop) for s in contiguous_runs(np.array([0, 1, 2, 7, 8, 10]))] == [(0, 3), (3, 5), (5, 6)]
    assert contiguous_runs(np.array([], dtype=int)) == []
    frames = np.array([0, 1, 2, 3, 10, 11, 12, 13])
    pts = np.zeros((8, 1, 2))
    pts[4:] = 100.0  # the face is elsewhere after the gap
    out = smooth_track_points(frames, pts, FPS, OneEuroParams(), scale=100.0)
    np.testing.assert_allclose(out[:4], 0.0, atol=1e-6)  # nothing from after the gap leaks back
    np.testing.assert_allclose(out[4:], 100.0, atol=1e-4)


def test_bad_parameters_and_inputs_are_clear_errors():
    with pytest.raises(DeageError, match="min_cutoff"):
        OneEuroParams(min_cutoff=0.0)
    with pytest.raises(DeageError, match="beta"):
        OneEuroParams(beta=-1.0)
    with pytest.raises(DeageError, match="increasing"):
        one_euro(np.zeros((3, 1, 2)), np.array([0.0, 0.0, 1.0]))
    with pytest.raises(DeageError, match="frame rate"):
        smooth_track_points(np.arange(3), np.zeros((3, 1, 2)), 0.0)
    with pytest.raises(DeageError):
        smooth_track_points(np.arange(3), np.zeros((4, 1, 2)), FPS)


def test_smooth_track_keeps_frames_scores_descriptors_and_rederives_keypoints():
    rng = np.random.default_rng(2)
    base = rng.uniform(100, 200, (68, 2)).astype(np.float32)
    track = Track(3)
    for i in [0, 1, 2, 3, 4, 9, 10]:
        lm = (base + rng.normal(0, 0.5, base.shape)).astype(np.float32)
        desc = np.ones(128, np.float32) if i == 2 else None
        track.faces[i] = Face(np.array([100, 100, 200, 200], np.float32), 0.8 + i / 100, lm[:5].copy(), lm, desc)
    out = smooth_track(track, FPS)
    assert out.track_id == 3 and sorted(out.faces) == sorted(track.faces)
    for i, face in out.faces.items():
        assert face.score == track.faces[i].score
        assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
        np.testing.assert_allclose(face.keypoints5[2], face.landmarks[30])  # re-derived, not copied
        np.testing.assert_allclose(face.box, track.faces[i].box, atol=1e-3)
    assert out.faces[2].descriptor is track.faces[2].descriptor
    assert track.faces[0].keypoints5[2].tolist() != out.faces[0].keypoints5[2].tolist()
    assert smooth_track(Track(5), FPS).faces == {}


def test_smoothing_restarts_at_a_cut():
    """A face re-identified after a cut is framed anew: the frames either side of the cut are
    smoothed apart (each run of the shot passes a still face through unchanged), whereas one run
    across the cut drags the frames next to it part-way towards the other shot's position."""
    frames = np.arange(20)
    points = np.zeros((20, 1, 2))
    points[:10, 0, 0], points[10:, 0, 0] = 100.0, 400.0  # a still face, then the cut to another framing
    points[:, 0, 1] = np.arange(20) * 1e-4  # fitted, not repeated: no two frames' points are equal
    assert contiguous_runs(frames, cuts=[10]) == [slice(0, 10), slice(10, 20)]
    assert contiguous_runs(frames, cuts=[0, 25]) == [slice(0, 20)]  # cuts outside the run change nothing
    apart = smooth_track_points(frames, points, FPS, OneEuroParams(), 120.0, cuts=[10])
    assert np.abs(apart - points).max() < 1e-3
    across = smooth_track_points(frames, points, FPS, OneEuroParams(), 120.0)
    assert np.abs(across[9:11] - points[9:11]).max() > 5.0  # what restarting at the cut prevents
    track = Track(1, {i: Face(np.array([x - 50, 50, x + 50, 150], np.float32), 0.9, np.tile(p, (5, 1)), None)
                      for i, (x, p) in enumerate(zip(points[:, 0, 0], points))})
    smoothed = smooth_track(track, FPS, OneEuroParams(), cuts=[10])
    assert smoothed.faces[9].box[0] == pytest.approx(50.0, abs=1e-3)
    assert smoothed.faces[10].box[0] == pytest.approx(350.0, abs=1e-3)


def test_points_repeated_exactly_stay_equal_after_smoothing():
    """Frames whose points repeat the frame before's exactly (the tracker's repeated pictures: a
    clip on twos) are one sample: smoothed, each pair is still equal, and the moving frames are
    smoothed as the same motion without the repeats would be."""
    frames = np.arange(40)
    moving = np.stack([np.sin(np.arange(20) / 3.0) * 30.0, np.arange(20) * 2.0], -1)[:, None, :]
    twos = np.repeat(moving, 2, axis=0)
    out = smooth_track_points(frames, twos, FPS, OneEuroParams(), 120.0)
    assert np.array_equal(out[0::2], out[1::2])
    alone = smooth_sequence(moving, frames[0::2] / FPS, OneEuroParams(), 120.0)
    assert np.abs(out[0::2] - alone).max() < 1e-3
