"""The frames of a face track where its face is seen best: where a measure made once a track
(how old the face looks, whether it wears glasses) is taken, so an edit driven by it does not
flicker from frame to frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from deage.types import Face

TRACK_SAMPLES = 5
"""Frames of a track a measure is taken on (an apparent age is their median)."""
TRACK_BEST = 0.8
"""Those frames are spread over the track's frames where its face is seen best: at least this
share of its best view (face width times how frontal it is: ``view_quality``)."""


def best_frames(track: Any, samples: int) -> list[int]:
    """Up to ``samples`` frame indices of ``track`` evenly spread over those where its face (with
    landmarks) is seen best (``TRACK_BEST`` of its best ``view_quality``); none without landmarks."""
    quality = {i: view_quality(f) for i, f in track.faces.items() if f.landmarks is not None}
    if not quality:
        return []
    best = max(quality.values())
    frames = sorted(i for i, q in quality.items() if q >= TRACK_BEST * best)
    return sorted({frames[round(k * (len(frames) - 1) / max(samples - 1, 1))] for k in range(samples)})


def view_quality(face: Face) -> float:
    """How well a face with 68 landmarks is seen: its eye-to-mouth width in pixels times how
    frontal it is (1 when the nose's bridge is midway between the outer eye corners, falling to
    0 as the head turns to a profile)."""
    lm = np.asarray(face.landmarks, np.float64)
    left, right = np.linalg.norm(lm[30] - lm[36]), np.linalg.norm(lm[30] - lm[45])
    frontal = min(left, right) / max(left, right, 1e-6)
    return float(np.linalg.norm(lm[45] - lm[36]) * frontal)
