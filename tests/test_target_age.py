"""A target age: every face made to look one age, each by as many years as it looks older; and the
makeup preset's hollows, which only faces that look older get.

The faces' apparent ages come from the embedded age model (``deage.face.apparent_age``), one per
track; what these tests check is the wiring from those ages to each face's edit, on real photos.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import insightface_image_path, read_rgb
from deage.edit.makeup import MakeupEditor, MakeupParams
from deage.errors import DeageError, LookError
from deage.face.align import align_face
from deage.face.analysis import Analysis, AnalysisSettings, analyse_frames
from deage.face.apparent_age import measure_tracks
from deage.look import Look, with_target_age
from deage.render import FrameRenderer, needs_apparent_age, render_clip, uses_apparent_age

TARGET = 30.0


def makeup(**edit) -> Look:
    return Look(editor="makeup", edit=edit)


def test_params_resolve_years_from_the_apparent_age():
    p = MakeupParams(years=5, target_age=25)
    assert p.for_apparent_age(40).years == 15 and p.for_apparent_age(40).target_age is None
    assert p.for_apparent_age(20).years == 0 and p.for_apparent_age(20).resolve().is_identity
    assert p.for_apparent_age(75).years == 30                    # at most 30 years
    plain = MakeupParams(years=5, hollows=0.0)
    assert plain.for_apparent_age(70) is plain
    assert MakeupParams.from_dict({"target_age": 40}).to_dict() == {"years": 10.0, "target_age": 40.0}
    with pytest.raises(LookError, match="target_age"):
        MakeupParams.from_dict({"target_age": 0})
    assert uses_apparent_age(makeup(target_age=30)) and needs_apparent_age(makeup(target_age=30))
    assert uses_apparent_age(makeup(years=20)) and not needs_apparent_age(makeup(years=20))  # the preset
    assert not uses_apparent_age(Look(editor="identity"))
    keyed = makeup(years=20, hollows=0.0)
    keyed.set_key("edit.target_age", 0, 40.0)
    assert uses_apparent_age(keyed) and needs_apparent_age(keyed)


def test_the_preset_gives_hollows_only_to_faces_that_look_older():
    ten = MakeupParams(years=10)
    assert ten.resolve().hollows == 0.0                          # no age known: none
    assert ten.for_apparent_age(30).hollows == 0.0 and ten.for_apparent_age(40).hollows == 0.0
    old = ten.for_apparent_age(70).hollows
    assert old == pytest.approx(0.8 * (1 - (2 / 3) ** 1.6), abs=1e-4)   # the texture curve at 10 of 30 years
    assert 0 < ten.for_apparent_age(47.5).hollows < old
    assert MakeupParams(years=30).for_apparent_age(60).hollows == 0.8
    assert MakeupParams(years=0).for_apparent_age(70).resolve().is_identity
    assert MakeupParams(years=10, hollows=0.2).for_apparent_age(70).hollows == 0.2   # an artist's value stays
    resolved = MakeupParams(target_age=40).for_apparent_age(75)   # 35 years older: the most, 30
    assert resolved.years == 30 and resolved.hollows == 0.8 and resolved.target_age is None


def test_a_child_keeps_the_shape_and_features_of_her_face():
    """On a face that looks 12 or younger the preset does no shape or feature work (a child has no
    jowls or thinned lips to give back); from 18 all of it; an artist's value stays."""
    ten = MakeupParams(years=10)
    adult = ten.resolve()
    child = ten.for_apparent_age(4).resolve()
    teen = ten.for_apparent_age(15).resolve()
    for name in ("jaw_lift", "cheek_fullness", "eye_aperture", "lip_fullness", "lip_contrast", "eye_whites", "teeth"):
        assert getattr(child, name) == 0.0 and 0 < getattr(teen, name) < getattr(adult, name), name
        assert getattr(ten.for_apparent_age(18).resolve(), name) == pytest.approx(getattr(adult, name), abs=1e-4)
    assert child.wrinkles == adult.wrinkles and child.under_eye == adult.under_eye   # the skin work stays
    assert ten.for_apparent_age(30) == MakeupParams(years=10, hollows=0.0)          # an adult: nothing scaled
    assert MakeupParams(years=10, lip_fullness=0.5).for_apparent_age(4).lip_fullness == 0.5


def test_a_small_girls_photo_gets_skin_work_only(shared_media):
    """source_s11.jpg, a girl of about three (she looks 2.8 to the age model): the default look
    renders her exactly as the same look with every shape and feature operation at 0, and still
    touches her skin."""
    from deage.look import default_look
    from deage.render import render_image

    child = read_rgb(shared_media / "source_s11.jpg")
    look = default_look()
    still = ("jaw_lift", "cheek_fullness", "eye_aperture", "lip_fullness", "lip_contrast", "eye_whites", "teeth")
    plain = Look.from_dict({**look.to_dict(), "edit": {**look.edit, **dict.fromkeys(still, 0.0)}})
    out = render_image(child, look)
    assert np.array_equal(out, render_image(child, plain))
    assert np.abs(out.astype(np.int16) - child.astype(np.int16)).max() > 2


def test_an_older_face_gets_its_folds_softened_and_a_young_one_is_left_as_it_was(older_face, astronaut):
    """Rendered with the default look, Grace Hopper (she looks about 79) gets the preset's hollows:
    the shading along her nasolabial folds and jowls is evened, a change of its own over the
    same look with hollows 0; the astronaut (she looks about 33) renders pixel for pixel as with
    hollows 0."""
    from deage.look import default_look
    from deage.render import render_image

    def without_hollows(look: Look) -> Look:
        return Look.from_dict({**look.to_dict(), "edit": {**look.edit, "hollows": 0.0}})

    look = default_look()
    young = render_image(astronaut, look)
    assert np.array_equal(young, render_image(astronaut, without_hollows(look)))
    assert not np.array_equal(young, astronaut)

    folds, flat = render_image(older_face, look), render_image(older_face, without_hollows(look))
    face = analyse_frames([older_face], 1, AnalysisSettings()).faces_at(0)[1]
    lm = np.asarray(face.landmarks)
    x0, x1 = int(lm[48, 0] - 20), int(lm[54, 0] + 20)            # mouth corners and the folds beside them
    y0, y1 = int(lm[31, 1]), int(lm[57, 1] + 20)
    change = np.abs(folds.astype(np.int16) - flat.astype(np.int16)).max(axis=2)[y0:y1, x0:x1]
    assert change.mean() > 0.8 and np.percentile(change, 95) >= 3   # levels (1.27 and 5 when written)
    assert np.array_equal(folds[:, : int(lm[:, 0].min()) - 80], older_face[:, : int(lm[:, 0].min()) - 80])

    def shading(im: np.ndarray) -> float:  # spread of the broad shading (folds, jowls), not the texture
        return float(cv2.GaussianBlur(im[y0:y1, x0:x1].astype(np.float32).mean(2), (0, 0), 6).std())

    assert shading(folds) < shading(flat) - 0.3                   # 13.7 -> 13.05 levels when written


def test_without_the_age_model_the_preset_renders_with_no_hollows_and_says_so(older_face, monkeypatch):
    import deage.face.apparent_age as apparent_age
    from deage.errors import WeightsError
    from deage.look import default_look
    from deage.render import render_image

    def missing(*_a, **_k):
        raise WeightsError("the embedded age model is missing")

    monkeypatch.setattr(apparent_age, "find_age_model", missing)
    flat = Look.from_dict({**default_look().to_dict(), "edit": {**default_look().edit, "hollows": 0.0}})
    with pytest.warns(RuntimeWarning, match="apparent age"):
        out = render_image(older_face, default_look())
        assert np.array_equal(out, render_image(older_face, flat))
    with pytest.raises(WeightsError):
        render_image(older_face, with_target_age(default_look(), 40))


def test_the_editor_refuses_an_unresolved_target_age(astronaut):
    face = analyse_frames([astronaut], 1, AnalysisSettings()).faces_at(0)[1]
    aligned = align_face(astronaut, face, MakeupEditor.template, 512)
    with pytest.raises(LookError, match="for_apparent_age"):
        MakeupEditor().edit(aligned, MakeupParams(target_age=30))


@pytest.fixture(scope="module")
def group():
    photo = read_rgb(insightface_image_path("t1.jpg"))  # six adults, who look 26 to 34
    return photo, analyse_frames([photo], 1, AnalysisSettings())


def test_each_face_gets_the_years_it_looks_older_than_the_target(group, tmp_path):
    """The group photo at target age 30: the faces that look 30 or younger keep every pixel, the
    older ones are de-aged by their own excess (recorded in the provenance), the oldest most (one
    that looks a year older gets a year, which may change no pixel by a level)."""
    photo, analysis = group
    src = tmp_path / "group.png"
    cv2.imwrite(str(src), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    out = tmp_path / "group_30.png"
    result = render_clip(src, out, with_target_age(makeup(years=10), TARGET))
    record = json.loads(out.with_name(out.name + ".provenance.json").read_text())
    ages = {int(k): v for k, v in record["apparent_ages"].items()}
    assert len(ages) == 6 and result.frames == 1
    assert {t for t, a in ages.items() if a <= TARGET} and {t for t, a in ages.items() if a > TARGET + 1.5}
    rendered = read_rgb(out)
    faces = analysis.faces_at(0)
    changes = {}
    for t, age in ages.items():
        x0, y0, x1, y1 = (int(v) for v in faces[t].box)
        changes[t] = np.abs(rendered[y0:y1, x0:x1].astype(np.int16) - photo[y0:y1, x0:x1]).mean()
        if age <= TARGET:
            assert changes[t] == 0.0, (t, age, changes[t])
        elif age > TARGET + 1.5:  # a year's edit can stay under half a level everywhere (31.06: none)
            assert changes[t] > 0.0, (t, age, changes[t])
    oldest = max(ages, key=ages.get)
    assert changes[oldest] == max(changes.values()) and ages[oldest] > TARGET + 2


def test_the_review_expects_no_edit_on_the_faces_that_already_look_the_target(group, tmp_path):
    """The faces the look leaves alone (they look younger than its target) are not "missed", with
    a matte (read from it) or without (settled by re-rendering the look)."""
    from deage.review.metrics import compute_metrics

    photo, _ = group
    src = tmp_path / "group.png"
    cv2.imwrite(str(src), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    look = with_target_age(makeup(years=10), TARGET)
    render_clip(src, tmp_path / "with_matte.png", look, matte=tmp_path / "with_matte_matte.png")
    render_clip(src, tmp_path / "plain.png", look)
    for name in ("with_matte.png", "plain.png"):
        metrics = compute_metrics(tmp_path / name, src)
        assert metrics.faces[0] == 6 and metrics.summary()["faces_missed"] == 0, (name, metrics.warnings)
    assert metrics.summary()["apparent_age_change"] < 0
    by_track = metrics.summary()["apparent_age_by_track"]              # each person's own figures
    assert len(by_track) == 6
    record = json.loads((tmp_path / "plain.png.provenance.json").read_text())["apparent_ages"]
    for track, (before, after) in by_track.items():
        assert before == pytest.approx(record[track], abs=0.05)       # the render's own measure
        if before <= TARGET:
            assert abs(after - before) < 0.5                          # left alone (neighbours' edits aside)
    from deage.review.report import summary_html

    assert "Apparent age per face" in summary_html(metrics)


def test_the_review_of_a_target_age_render_without_the_age_model_says_so(group, tmp_path, monkeypatch):
    import deage.face.apparent_age as apparent_age
    from deage.errors import WeightsError
    from deage.review.metrics import compute_metrics

    photo, _ = group
    src = tmp_path / "group.png"
    cv2.imwrite(str(src), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    render_clip(src, tmp_path / "plain.png", with_target_age(makeup(years=10), TARGET))

    def missing(*_a, **_k):
        raise WeightsError("the embedded age model is missing")

    monkeypatch.setattr(apparent_age, "find_age_model", missing)
    metrics = compute_metrics(tmp_path / "plain.png", src)
    assert any("target age" in w for w in metrics.warnings) and any("apparent age not measured" in w
                                                                     for w in metrics.warnings)
    assert np.isnan(metrics.summary()["apparent_age_change"]) and metrics.faces[0] == 6


def test_the_renderer_needs_the_ages_and_the_preview_measures_them(group):
    photo, analysis = group
    bare = Analysis(**{**analysis.__dict__, "apparent_ages": {}})
    renderer = FrameRenderer(makeup(target_age=TARGET), analysis=bare)
    with pytest.raises(DeageError, match="face track 1"):
        renderer.render(photo, 0, bare.faces_at(0))
    measured = measure_tracks(bare, [1, 2], lambda _i: photo)
    assert set(measured) == {1, 2} and all(15 < a < 50 for a in measured.values())
    first = dict(measured)
    measure_tracks(bare, [1, 2], lambda _i: pytest.fail("a measured track is not measured again"))
    assert bare.apparent_ages == first


def test_the_ages_of_many_faces_read_each_frame_once(group):
    """Six people in one photo: one read of its one frame for all six (a long clip's frames are
    read in ascending order, each once, not seeked to once per track)."""
    photo, analysis = group
    bare = Analysis(**{**analysis.__dict__, "apparent_ages": {}})
    reads: list[int] = []

    def read(index: int) -> np.ndarray:
        reads.append(index)
        return photo

    measured = measure_tracks(bare, bare.track_ids, read)
    assert reads == [0] and len(measured) == 6 and all(15 < a < 50 for a in measured.values())


def test_a_tracks_age_is_read_where_its_face_is_seen_best(group):
    """A track that starts small and turned and ends large and frontal is measured on the frames
    where it is largest and most frontal (the median of their estimates)."""
    from deage.face.best_views import view_quality
    from deage.types import Face, Track

    photo, analysis = group
    face = analysis.faces_at(0)[1]
    centre = face.landmarks.mean(0)
    faces = {}
    for i in range(20):
        lm = (face.landmarks - centre) * (0.5 + 0.05 * i) + centre
        if i < 10:
            lm[:36, 0] += 6.0 * (10 - i)          # a head turned away early on: the outline and nose shift
            lm[27:36, 0] += 4.0 * (10 - i)
        faces[i] = Face(box=face.box, score=face.score, keypoints5=face.keypoints5, landmarks=lm.astype(np.float32))
    assert view_quality(faces[19]) > view_quality(faces[10]) > view_quality(faces[0])
    shot = Analysis(**{**analysis.__dict__, "tracks": [Track(1, faces)], "apparent_ages": {}, "frame_count": 20})
    read: list[int] = []

    class Stub:
        def estimate(self, image, faces_):
            return np.array([float(read[-1])])     # "age" = the frame it was read from

    measure_tracks(shot, [1], lambda i: read.append(i) or photo, estimator=Stub())
    assert len(read) == 5 and min(read) >= 12 and max(read) == 19   # none of the small, turned first half
    assert shot.apparent_ages[1] == float(np.median(read))


def test_the_ages_travel_with_the_analysis_file(group, tmp_path):
    _, analysis = group
    copy = Analysis(**{**analysis.__dict__, "apparent_ages": {1: 27.5, 3: 33.25}})
    loaded = Analysis.load(copy.save(tmp_path / "a.npz"))
    assert loaded.apparent_ages == {1: 27.5, 3: 33.25}
    assert "looks" in loaded.format_summary() and "27.5" in loaded.format_summary()


def test_cli_target_age_and_ages(astronaut, tmp_path):
    src = tmp_path / "astronaut.png"
    cv2.imwrite(str(src), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cli = [sys.executable, "-m", "deage.cli"]
    both = subprocess.run([*cli, "render", str(src), "-o", str(tmp_path / "o.png"), "--years", "5", "--target-age", "30"],
                          capture_output=True, text=True)
    assert both.returncode == 2 and "not both" in both.stderr
    ages = subprocess.run([*cli, "analyse", str(src), "--ages", "--no-cache"], capture_output=True, text=True)
    assert ages.returncode == 0 and "looks" in ages.stdout
    looks = float(ages.stdout.strip().splitlines()[-1].split()[-1])
    assert 22 <= looks <= 50
    older = subprocess.run([*cli, "render", str(src), "-o", str(tmp_path / "same.png"), "--target-age", "60"],
                           capture_output=True, text=True)
    assert older.returncode == 0, older.stderr
    assert np.array_equal(read_rgb(tmp_path / "same.png"), astronaut)   # looks younger than 60: untouched
