"""Edits fade in and out where a face's track starts or ends inside the shot, instead of popping."""

from __future__ import annotations

import numpy as np
import pytest

from deage.blend.fade import track_weight
from deage.blend.params import BlendParams
from deage.errors import LookError


def test_track_weight_eases_at_track_ends_inside_the_shot_only():
    present = set(range(10, 31))
    weights = [track_weight(present, i, 100, 6) for i in range(10, 31)]
    assert weights[0] == weights[-1] < 0.1                      # first and last frame: nearly off
    assert weights[:7] == sorted(weights[:7]) and weights[6] == 1.0  # rises over the fade
    assert weights[-7:] == sorted(weights[-7:], reverse=True)
    assert all(w == 1.0 for w in weights[6:15])
    # a track that runs from the clip's first frame is not faded there; its end inside the shot is
    assert track_weight(set(range(0, 31)), 0, 100, 6) == 1.0
    assert track_weight(set(range(0, 31)), 30, 100, 6) < 0.1
    assert track_weight(set(range(90, 100)), 99, 100, 6) == 1.0
    # a gap of one frame fades out and back in
    gap = set(range(0, 11)) | set(range(12, 40))
    assert track_weight(gap, 10, 40, 6) < 0.1 and track_weight(gap, 12, 40, 6) < 0.1
    assert track_weight(present, 10, 100, 0) == 1.0             # fade 0: no fade
    # a track that ends (or starts) at a cut between shots is not faded there: the shot ends
    assert track_weight(present, 30, 100, 6, cuts={31}) == 1.0
    assert track_weight(present, 10, 100, 6, cuts={10}) == 1.0
    assert track_weight(present, 30, 100, 6, cuts={40}) < 0.1   # a cut elsewhere changes nothing


def test_fade_is_a_validated_blend_parameter():
    assert BlendParams().fade == 6.0
    assert BlendParams.from_dict({"fade": 12}).fade == 12.0
    with pytest.raises(LookError, match="fade"):
        BlendParams.from_dict({"fade": -1})
    with pytest.raises(LookError, match="fade"):
        BlendParams.from_dict({"fade": "long"})


def test_a_face_that_leaves_fades_out_instead_of_popping(astronaut):
    """A real face in frames 0-19, hidden in 20-29 (a grey card over it, the shot goes on): the
    edit on frame 19 is faint, on frame 10 full."""
    from deage.face.analysis import AnalysisSettings, analyse_frames
    from deage.look import Look
    from deage.render import FrameRenderer

    rng = np.random.default_rng(1)
    frames = [np.clip(astronaut + rng.normal(0, 2, astronaut.shape), 0, 255).astype(np.uint8) for _ in range(20)]
    hidden = frames[0].copy()
    hidden[50:250, 140:340] = 128
    frames += [hidden] * 10
    analysis = analyse_frames(frames, 24, AnalysisSettings(descriptors=False))
    assert analysis.track_ids == [1] and max(analysis.track(1).faces) == 19
    assert analysis.cuts == []  # a face lost inside the shot: this is what fades

    def change(fade: float, index: int) -> float:
        look = Look(editor="makeup", edit={"years": 25}, blend={"mode": "multiband", "fade": fade})
        out, _ = FrameRenderer(look, analysis=analysis).render(frames[index], index, analysis.faces_at(index))
        return float(np.abs(out.astype(int) - frames[index]).mean())

    full = change(6, 10)
    assert full > 0.15  # mean over the whole 512x512 frame: the face is a fraction of it
    assert change(6, 19) < 0.15 * full                # the last frame before the face is lost
    assert change(0, 19) > 0.7 * full                 # without a fade the edit would pop off
