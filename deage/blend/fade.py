"""Fade an edit in and out where a face's track starts or ends inside the shot.

A face the analysis loses (a head turning to profile, a hand over it, a person walking out) would
otherwise lose its edit from one frame to the next: a pop a viewer sees at once. ``track_weight``
gives each (track, frame) an opacity factor that eases from ~0 to 1 over ``BlendParams.fade``
frames after a track (re)starts and before it ends. It depends only on the analysis, so a
preview, a render and every range of a distributed render agree frame for frame.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Container


def _frames_to_edge(present: Container[int], index: int, step: int, frame_count: int, limit: int,
                    cuts: Container[int] = ()) -> int:
    """Frames the track stays present from ``index`` in direction ``step`` (at most ``limit``);
    running into the clip's first or last frame, or into a cut between shots, counts as ``limit``
    (no fade at the clip's ends or at a cut: the shot itself ends there)."""
    j = index
    for run in range(limit):
        if (j + 1 if step > 0 else j) in cuts:  # the step from j crosses into another shot
            return limit
        j += step
        if j < 0 or j >= frame_count:
            return limit
        if j not in present:
            return run
    return limit


def track_weight(present: Container[int], index: int, frame_count: int, fade: float,
                 cuts: Container[int] = ()) -> float:
    """Opacity factor in (0, 1] for a track's edit at frame ``index``.

    Args:
        present: the frames where the track has a face (e.g. ``Track.faces``); must hold ``index``.
        index: 0-based frame index.
        frame_count: frames in the clip.
        fade: frames of the fade (``BlendParams.fade``); 0 gives 1 everywhere.
        cuts: first frames of new shots (``Analysis.cuts``): a track that ends or starts at a cut
            does not fade there.

    Returns:
        1 at least ``fade`` frames from the track's start or end (or at the clip's ends), easing
        (smoothstep of ``(frames to the edge + 1) / (fade + 1)``) down to about 5% on the track's
        first or last frame inside the shot when ``fade`` is 6.
    """
    if fade <= 0:
        return 1.0
    limit = int(math.ceil(fade))
    nearest = min(_frames_to_edge(present, index, -1, frame_count, limit, cuts),
                  _frames_to_edge(present, index, +1, frame_count, limit, cuts))
    if nearest >= limit:
        return 1.0
    t = (nearest + 1) / (fade + 1)
    return float(t * t * (3.0 - 2.0 * t)) if t < 1 else 1.0


def faded_blend(blend, analysis, track_id: int, index: int):
    """``blend`` (``BlendParams``) with its ``amount`` scaled by ``track_weight`` of the track in
    ``analysis`` (``deage.face.analysis.Analysis``) at frame ``index``; unchanged without an analysis."""
    if blend.fade <= 0 or analysis is None or track_id not in analysis.track_ids:
        return blend
    weight = track_weight(analysis.track(track_id).faces, index, analysis.frame_count, blend.fade, analysis.cuts)
    return blend if weight >= 1.0 else dataclasses.replace(blend, amount=blend.amount * weight)
