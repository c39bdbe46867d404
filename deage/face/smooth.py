"""Temporal smoothing of landmark tracks: the One Euro filter, causal or zero-phase.

The One Euro filter (Casiez, Roussel, Vogel, CHI 2012) is a low-pass filter whose cutoff rises
with speed: ``cutoff = min_cutoff + beta * |speed|``. Slow drift and sensor noise are removed
(at ``min_cutoff`` Hz) while fast motion passes with little lag.

Analysis is offline, so by default (``zero_phase=True``) the filter is run forwards and
backwards over the whole track and the two passes are averaged: the forward pass lags motion
by as much as the backward pass leads it, so on smooth motion the lag cancels, and noise is
reduced a little more than by one pass.

Coordinates are divided by a ``scale`` (the face's size in pixels) before filtering, so
``beta`` is in units of face sizes per second and one set of parameters suits small and large
faces alike. Speed is measured per point (2-D norm), so a fast-moving mouth is followed
closely while a still forehead stays smooth.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deage.errors import DeageError
from deage.face.backends.common import keypoints5_from_68
from deage.types import Face, Track


@dataclass(frozen=True)
class OneEuroParams:
    """One Euro filter parameters.

    Attributes:
        min_cutoff: cutoff frequency (Hz) at rest; lower = smoother, more lag on slow motion.
        beta: how fast the cutoff rises with speed (per face size per second); higher = less lag
            on fast motion, more jitter while moving.
        d_cutoff: cutoff (Hz) of the filter applied to the speed estimate.
        zero_phase: run forwards and backwards and average (offline; cancels the lag).
    """

    min_cutoff: float = 0.5
    beta: float = 4.0
    d_cutoff: float = 1.0
    zero_phase: bool = True

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise DeageError(f"One Euro {name} must be a positive number of Hz, got {value}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise DeageError(f"One Euro beta must be >= 0, got {self.beta}")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(values: np.ndarray, times: np.ndarray, params: OneEuroParams = OneEuroParams()) -> np.ndarray:
    """Causal One Euro filter along axis 0.

    Args:
        values: float (T, N, D) samples, e.g. T frames of N points in D=2 coordinates (already
            divided by the face scale); speed is the norm over the last axis.
        times: float (T,) strictly increasing timestamps in seconds.
        params: filter parameters (``zero_phase`` is ignored here).

    Returns:
        float64 (T, N, D) filtered values; the first sample passes unchanged.
    """
    x = np.asarray(values, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if x.ndim != 3 or t.shape != (x.shape[0],):
        raise DeageError(f"one_euro needs values (T, N, D) and times (T,), got {x.shape} and {t.shape}")
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    if np.any(np.diff(t) <= 0):
        raise DeageError("one_euro timestamps must be strictly increasing")
    prev = x[0].copy()
    dprev = np.zeros(x.shape[1:2] + (1,))
    out[0] = prev
    for i in range(1, len(x)):
        dt = t[i] - t[i - 1]
        speed = np.linalg.norm(x[i] - prev, axis=-1, keepdims=True) / dt
        a_d = _alpha(params.d_cutoff, dt)
        dprev = a_d * speed + (1 - a_d) * dprev
        a = _alpha(params.min_cutoff + params.beta * dprev, dt)
        prev = a * x[i] + (1 - a) * prev
        out[i] = prev
    return out


def smooth_sequence(
    values: np.ndarray, times: np.ndarray, params: OneEuroParams = OneEuroParams(), scale: float = 1.0
) -> np.ndarray:
    """One Euro smoothing of one contiguous run of samples (no gaps).

    Args:
        values: float (T, N, 2) points (pixels) over T samples.
        times: float (T,) seconds, strictly increasing.
        params: filter parameters; ``zero_phase`` averages a forward and a backward pass.
        scale: pixels per unit (a face size); coordinates are divided by it while filtering.

    Returns:
        float32 (T, N, 2), same units as ``values``.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise DeageError(f"smoothing scale must be positive, got {scale}")
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        return x.astype(np.float32)
    origin = x.reshape(-1, x.shape[-1]).mean(0)
    z = (x - origin) / scale
    t = np.asarray(times, dtype=np.float64)
    fwd = one_euro(z, t, params)
    if params.zero_phase:
        bwd = one_euro(z[::-1], -t[::-1], params)[::-1]
        fwd = 0.5 * (fwd + bwd)
    return (fwd * scale + origin).astype(np.float32)


def contiguous_runs(frames: np.ndarray, cuts: Iterable[int] = ()) -> list[slice]:
    """Slices of a sorted int array's runs of consecutive values: [0,1,2,5,6] -> [0:3, 3:5]. A run
    also breaks before a frame in ``cuts`` (the first frames of new shots): [3,4,5,6] with cut 5
    -> [0:2, 2:4]."""
    frames = np.asarray(frames)
    if len(frames) == 0:
        return []
    step = np.diff(frames) != 1
    cut = np.isin(frames[1:], np.asarray(list(cuts), dtype=np.int64))
    breaks = np.flatnonzero(step | cut) + 1
    edges = [0, *breaks.tolist(), len(frames)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def smooth_track_points(
    frames: np.ndarray, points: np.ndarray, fps: float, params: OneEuroParams = OneEuroParams(), scale: float = 1.0,
    cuts: Iterable[int] = (),
) -> np.ndarray:
    """Smooth one track's points, each run of consecutive frames on its own (gaps and cuts reset
    the filter: nothing is averaged across a cut, where a re-identified face is framed anew).
    Frames whose points equal the frame before's exactly count as one sample: they stay equal.

    Args:
        frames: int (T,) sorted frame indices of the track.
        points: float (T, N, 2) pixel points at those frames.
        fps: frames per second (timestamps are ``frame / fps``).
        params: One Euro parameters.
        scale: the face size in pixels (see ``smooth_sequence``).
        cuts: first frames of new shots (``Analysis.cuts``).

    Returns:
        float32 (T, N, 2).
    """
    if not (math.isfinite(fps) and fps > 0):
        raise DeageError(f"frame rate must be positive, got {fps}")
    frames = np.asarray(frames)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or len(pts) != len(frames):
        raise DeageError(f"points must be (T, N, 2) for T={len(frames)} frames, got {pts.shape}")
    out = np.empty(pts.shape, dtype=np.float32)
    for run in contiguous_runs(frames, cuts):
        # A frame whose points repeat the frame before's exactly (the tracker's repeated pictures)
        # is one sample with it: filtered once, both get the same result.
        part = pts[run]
        new = np.ones(len(part), bool)
        new[1:] = np.any(part[1:] != part[:-1], axis=(1, 2))
        first = np.cumsum(new) - 1  # each frame's sample
        out[run] = smooth_sequence(part[new], frames[run][new] / float(fps), params, scale)[first]
    return out


def smooth_track(track: Track, fps: float, params: OneEuroParams = OneEuroParams(), cuts: Iterable[int] = ()) -> Track:
    """A new ``Track`` with landmarks and box corners smoothed (``keypoints5`` re-derived from the
    landmarks), each run of consecutive frames within one shot on its own (``cuts``: first frames
    of new shots).

    The scale is the track's median box width, so ``beta`` is in face widths per second. Faces
    without landmarks keep their points; scores and descriptors are copied.
    """
    frames = np.array(sorted(track.faces), dtype=np.int64)
    if len(frames) == 0:
        return Track(track.track_id)
    faces = [track.faces[i] for i in frames]
    has_lm = all(f.landmarks is not None for f in faces)
    corners = np.stack([np.asarray(f.box, np.float64).reshape(2, 2) for f in faces])
    parts = [corners]
    if has_lm:
        parts.append(np.stack([np.asarray(f.landmarks, np.float64) for f in faces]))
    else:
        parts.append(np.stack([np.asarray(f.keypoints5, np.float64) for f in faces]))
    points = np.concatenate(parts, axis=1)
    scale = float(np.median(corners[:, 1, 0] - corners[:, 0, 0]))
    out = smooth_track_points(frames, points, fps, params, max(scale, 1.0), cuts)
    result = Track(track.track_id)
    for k, (i, f) in enumerate(zip(frames.tolist(), faces)):
        box = out[k, :2].reshape(4)
        if has_lm:
            lm = out[k, 2:]
            result.faces[i] = Face(box, f.score, keypoints5_from_68(lm), lm, f.descriptor)
        else:
            result.faces[i] = Face(box, f.score, out[k, 2:], None, f.descriptor)
    return result

