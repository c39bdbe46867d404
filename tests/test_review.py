"""Review metrics, thresholds and the HTML report, on real renders of the example clip.

A render that changes nothing must read as "no change" on every metric; the embedded de-ager
must move them the expected way; and each metric must catch the defect it is named for
(a hard seam, flicker, landmark jitter, a face left untouched) on frames built to show it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from deage.errors import DeageError, MediaError, OutputError
from deage.face.analysis import analyse_clip
from deage.face.backends.dlib_backend import DlibLandmarker
from deage.look import Look
from deage.render import render_clip
from deage.review.metrics import REGIONS, ShotMeter, compute_metrics, expects_edit
from deage.review.report import add_report_arguments, build_report, report_command, write_report
from deage.review.thresholds import Thresholds, evaluate, passed
from deage.video import ClipWriter, open_clip

FRAMES = (0, 8)


@pytest.fixture(scope="module")
def analysis(example_clip):
    return analyse_clip(example_clip)


@pytest.fixture(scope="module")
def identity_render(example_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("review") / "same.mkv"
    render_clip(example_clip, out, Look(), frames=FRAMES, codec="ffv1")
    return out


@pytest.fixture(scope="module")
def makeup_render(example_clip, analysis, tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    out = folder / "young.mp4"
    render_clip(example_clip, out, Look(editor="makeup", edit={"years": 20}), frames=FRAMES, analysis=analysis,
                matte=folder / "young_matte.####.png")
    return out


@pytest.fixture(scope="module")
def makeup_metrics(makeup_render, example_clip, analysis):
    return compute_metrics(makeup_render, example_clip, analysis=analysis, identity_every=2)


def test_render_that_changes_nothing_reads_as_no_change(identity_render, example_clip, analysis):
    m = compute_metrics(identity_render, example_clip, analysis=analysis)
    assert m.frame_range == FRAMES and len(m) == 8          # range taken from the provenance sidecar
    assert m.look is not None and m.look["editor"] == "identity"
    assert list(m.faces) == [1] * 8 and m.warnings == []
    s = m.summary()
    assert s["identity_distance_max"] == 0.0
    assert all(s["wrinkle_change"][r] == 0.0 for r in REGIONS) and s["crease_change"] == 0.0
    assert s["flicker_ratio"] == 1.0 and s["edit_flicker_mean"] == 0.0
    assert s["seam_ratio_max"] == 1.0 and s["landmark_shift_mean"] == 0.0
    assert s["landmark_jitter_ratio"] == 1.0 and s["landmark_jitter_source"] > 0
    assert s["faces_missed"] == 0
    assert s["apparent_age_change"] == 0.0 and 15 < s["apparent_age_source"] < 60
    assert s["feature_detail"] == 1.0 and s["feature_detail_min"] == 1.0
    assert passed(evaluate(m))
    json.dumps(m.to_dict(), allow_nan=False)                 # NaN (first frame's flicker) became null


def test_embedded_deager_moves_metrics_the_expected_way(makeup_metrics):
    assert makeup_metrics.matte is not None and makeup_metrics.matte.endswith("young_matte.####.png")  # from the sidecar
    s = makeup_metrics.summary()
    wr = s["wrinkle_change"]
    assert wr["face"] < -0.05, wr
    assert s["crease_change"] < 0 and np.isfinite(makeup_metrics.crease_change).all()
    for region in ("under_eye", "nasolabial"):
        assert wr[region] < -0.1, (region, wr)
    assert wr["forehead"] < -0.07, wr  # her fringe reaches into the region, and its hair is kept
    assert 0.02 < s["identity_distance_max"] < 0.35         # changed, still the same person
    assert np.isfinite(makeup_metrics.identity_distance[::2]).all()
    assert np.isnan(makeup_metrics.identity_distance[1::2]).all()   # identity_every=2
    assert 0.001 < s["landmark_shift_mean"] < 0.05
    assert s["seam_ratio_max"] < 1.2 and s["flicker_ratio"] < 1.15
    assert s["faces_missed"] == 0
    assert s["apparent_age_change"] < -0.5                    # looks younger (deage.face.apparent_age)
    assert np.isfinite(makeup_metrics.age_change[::2]).all() and np.isnan(makeup_metrics.age_change[1::2]).all()
    assert 0.95 < s["feature_detail_min"] <= s["feature_detail"] < 1.1  # eyes, brows, lips kept (through H.264)
    assert passed(evaluate(makeup_metrics))


def test_thresholds_decide_pass_and_fail(makeup_metrics):
    strict = evaluate(makeup_metrics, Thresholds(max_identity=0.01, max_wrinkle_change=-0.05))
    by_key = {c.key: c for c in strict}
    assert by_key["identity"].status == "FAIL" and by_key["identity"].frame in makeup_metrics.frames
    assert by_key["wrinkles"].status == "PASS"
    assert by_key["creases"].passed is None  # not checked unless asked for
    assert not passed(strict)
    creases = {c.key: c for c in evaluate(makeup_metrics, Thresholds(max_crease_change=-0.9))}["creases"]
    assert creases.status == "FAIL" and "crease" in creases.line()
    assert {c.key: c for c in evaluate(makeup_metrics, Thresholds(max_crease_change=0.0))}["creases"].passed
    assert "FAIL" in by_key["identity"].line() and "0.01" in by_key["identity"].line()
    assert by_key["age"].passed is None  # not checked unless asked for
    change = makeup_metrics.summary()["apparent_age_change"]
    younger = {c.key: c for c in evaluate(makeup_metrics, Thresholds(max_age_change=-0.2))}["age"]
    assert younger.status == "PASS" and younger.text == f"{change:+.1f}"
    assert {c.key: c for c in evaluate(makeup_metrics, Thresholds(max_age_change=-30))}["age"].status == "FAIL"
    with pytest.raises(DeageError, match="max_seam_ratio"):
        Thresholds(max_seam_ratio=-1)
    with pytest.raises(DeageError, match="unknown threshold"):
        Thresholds.from_dict({"max_identiy": 0.3})


def test_untouched_face_counts_as_missed_despite_codec_noise(example_clip, analysis, tmp_path):
    """An H.264 re-encode changes every pixel a little: it must not pass for an edit, while a light
    edit through the same codec (settled by re-rendering the Look) must not count as missed."""
    out = tmp_path / "lossy.mp4"
    render_clip(example_clip, out, Look(), frames=(0, 4))
    meant = Look(editor="makeup", edit={"years": 20})
    m = compute_metrics(out, example_clip, look=meant, analysis=analysis, recognizer="dlib", identity_every=4)
    assert list(m.faces_missed) == [1, 1, 1, 1]
    keyed_off = Look(editor="makeup", edit={"years": 20}, keyframes={"edit.years": [[0, 0.0], [2, 0.0], [3, 10.0]]})
    assert [expects_edit(keyed_off, i) for i in range(4)] == [False, False, False, True]
    m = compute_metrics(out, example_clip, look=keyed_off, analysis=analysis, identity_every=4)
    assert list(m.faces_missed) == [0, 0, 0, 1]

    light = tmp_path / "light.mp4"
    render_clip(example_clip, light, Look(editor="makeup", edit={"years": 3}), frames=(0, 4), analysis=analysis)
    m = compute_metrics(light, example_clip, analysis=analysis, identity_every=4)
    assert list(m.faces_missed) == [0, 0, 0, 0]


# ------------------------------------------------------------- each metric sees its defect


@pytest.fixture(scope="module")
def frames_and_faces(example_clip, analysis):
    with open_clip(example_clip) as clip:
        frames = [clip.read(i) for i in range(4)]
    faces = [analysis.faces_at(i) for i in range(4)]
    assert all(len(f) == 1 for f in faces)
    return frames, faces


def _cheek_mask(frame: np.ndarray, faces: dict) -> np.ndarray:
    """A filled ellipse over the nose, cheeks and lower forehead: its edge runs through skin."""
    face = next(iter(faces.values()))
    lm = face.landmarks
    d = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    mask = np.zeros(frame.shape[:2], np.float32)
    cv2.ellipse(mask, tuple(int(v) for v in lm[30]), (int(0.9 * d), int(1.1 * d)), 0, 0, 360, 1.0, -1)
    return mask


def _brighten(frame: np.ndarray, mask: np.ndarray, amount: float) -> np.ndarray:
    return np.clip(frame + amount * mask[..., None] + 0.5, 0, 255).astype(np.uint8)


def test_crease_depth_reads_an_older_faces_de_age(older_face):
    """On an older face the crease depth over her skin falls with the years taken off (measured
    when written: -10 % at 10 years, -20 % at 25) and reads exactly 0 for an untouched frame."""
    import deage
    from deage.face.analysis import AnalysisSettings, analyse_frames

    faces = analyse_frames([older_face], 1, AnalysisSettings()).faces_at(0)
    changes = {}
    for years in (0, 10, 25):
        look = Look(editor="makeup", edit={"years": years})
        (fm,) = ShotMeter(None, None).measure(0, older_face, deage.render_image(older_face, look), faces)
        assert fm.crease_source > 5  # an older face's skin: several code values deep on average
        changes[years] = fm.crease_render / fm.crease_source - 1.0
    assert changes[0] == 0.0 and changes[25] < changes[10] < -0.05 and changes[25] < -0.15, changes


def _blur_eyes_and_brows(image: np.ndarray, faces: dict, sigma: float) -> np.ndarray:
    """``image`` with each face's eyes and brows blurred (Gaussian, ``sigma`` eye distances)."""
    out = image.copy()
    for face in faces.values():
        lm = face.landmarks
        d = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
        mask = np.zeros(image.shape[:2], np.float32)
        for part in (slice(36, 42), slice(42, 48), slice(17, 22), slice(22, 27)):
            x, y = lm[part].mean(0)
            cv2.ellipse(mask, (int(x), int(y)), (int(0.3 * d), int(0.16 * d)), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 0.04 * d)[..., None]
        out = (cv2.GaussianBlur(image, (0, 0), sigma * d) * mask + out * (1 - mask)).round().astype(np.uint8)
    return out


def test_feature_detail_flags_blurred_eyes_not_a_de_age(older_face, astronaut, makeup_metrics):
    """The de-ager leaves eyes, brows and lips alone: their detail reads 0.97-1.02 at 10 and 30
    years (measured when written, on these two faces and five more). Blurring the eyes and brows
    by 4 % of the eye distance (what an editor that smears features does) reads 0.77 and fails
    the default check."""
    import deage
    from deage.face.analysis import AnalysisSettings, analyse_frames

    for photo in (older_face, astronaut):
        faces = analyse_frames([photo], 1, AnalysisSettings()).faces_at(0)
        for years in (10, 30):
            (fm,) = ShotMeter(None, None).measure(0, photo, deage.render_image(photo, Look(editor="makeup",
                                                                                           edit={"years": years})), faces)
            assert 0.96 < fm.detail_render / fm.detail_source < 1.04, years
        (fm,) = ShotMeter(None, None).measure(0, photo, _blur_eyes_and_brows(photo, faces, 0.04), faces)
        blurred = fm.detail_render / fm.detail_source
        assert blurred < 0.85, blurred
    # The de-aged clip's metrics with frame 3's features blurred like that: the check fails there.
    per_frame = makeup_metrics.feature_detail.copy()
    per_frame[3] = blurred
    metrics = dataclasses.replace(makeup_metrics, feature_detail=per_frame)
    check = {c.key: c for c in evaluate(metrics)}["features"]
    assert check.status == "FAIL" and check.frame == makeup_metrics.frames[3] and ">=" in check.line()
    assert {c.key: c for c in evaluate(metrics, Thresholds(min_feature_detail=0.7))}["features"].status == "PASS"


def test_grain_match_flags_a_face_cleaner_than_its_plate(older_face, makeup_metrics):
    """Grace Hopper's portrait with noise of 6 levels: the de-ager keeps the plate's grain over the
    face (0.93-0.96 of it at 10 and 30 years, measured when written) and so does the demo swap,
    which adds the grain its clean source photo lacks (1.07); the same swap without that grain
    reads 0.07 and fails the default check. The clean portrait's face (1.7 levels: its skin's
    texture) is not measured, and neither is the example clip's."""
    import deage
    from deage.face.analysis import AnalysisSettings, analyse_frames
    from deage.review.metrics import VISIBLE_GRAIN

    rng = np.random.default_rng(4)
    noisy = np.clip(older_face + rng.normal(0, 6, older_face.shape[:2])[..., None], 0, 255).astype(np.uint8)
    faces = analyse_frames([noisy], 1, AnalysisSettings()).faces_at(0)
    swap = deage.load_look(Path(__file__).resolve().parents[1] / "examples" / "looks" / "swap.json").to_dict()
    looks = {"10 years": (Look(editor="makeup", edit={"years": 10}), 0.85, 1.15),
             "30 years": (Look(editor="makeup", edit={"years": 30}), 0.85, 1.15),
             "swap": (Look.from_dict(swap), 0.85, 1.25),
             "swap, no grain": (Look.from_dict({**swap, "blend": {**swap["blend"], "grain": 0.0}}), 0.0, 0.2)}
    for name, (look, low, high) in looks.items():
        (fm,) = ShotMeter(None, None).measure(0, noisy, deage.render_image(noisy, look), faces)
        assert fm.grain_source > VISIBLE_GRAIN and low < fm.grain_render / fm.grain_source < high, name
    painted = noisy.copy()  # the face painted flat: no noise at all reads 0 (not "unmeasured")
    x0, y0, x1, y1 = (int(v) for v in next(iter(faces.values())).box)
    painted[y0:y1, x0:x1] = 128
    assert ShotMeter(None, None).measure(0, noisy, painted, faces)[0].grain_render == 0.0
    clean = ShotMeter(None, None).measure(0, older_face, older_face, analyse_frames([older_face], 1,
                                                                                  AnalysisSettings()).faces_at(0))
    assert clean[0].grain_source < VISIBLE_GRAIN
    assert np.isnan(makeup_metrics.summary()["grain_match"])  # the example clip: a clean plate
    assert {c.key: c for c in evaluate(makeup_metrics)}["grain"].status != "FAIL"
    # The de-aged clip's metrics with frame 2 reading like the swap without grain: the check fails there.
    per_frame = makeup_metrics.grain_match.copy()
    per_frame[2] = fm.grain_render / fm.grain_source
    check = {c.key: c for c in evaluate(dataclasses.replace(makeup_metrics, grain_match=per_frame))}["grain"]
    assert check.status == "FAIL" and check.frame == makeup_metrics.frames[2] and ">=" in check.line()


def test_seam_ratio_flags_a_hard_edge_not_a_feathered_one(frames_and_faces):
    frames, faces = frames_and_faces
    results = {}
    for kind in ("hard", "feathered", "hard+matte"):
        meter = ShotMeter(None, None)
        values = []
        for frame, present in zip(frames, faces):
            mask = _cheek_mask(frame, present)
            if kind == "feathered":
                mask = cv2.GaussianBlur(mask, (0, 0), 10)
            matte = cv2.GaussianBlur(mask, (0, 0), 1) if kind == "hard+matte" else None
            (fm,) = meter.measure(0, frame, _brighten(frame, mask, 10.0), present, matte)
            assert fm.edited
            values.append(fm.seam_ratio)
        results[kind] = float(np.mean(values))
    assert results["hard"] > 1.3 and results["hard+matte"] > 1.3, results
    assert results["feathered"] < 1.2, results


def test_a_replacements_seam_is_told_from_its_new_features(shared_media, tmp_path):
    """A face replacement's blend ends over the face, where the new face's own features (its
    cheeks' contours, its smile lines) differ from the plate's: measured against the plate alone
    every swap read as a seam (2.2 mean, 3.1 worst on driving_d12 with the example look). Against
    the larger of the plate's and the new face's own edges (``EditResult.content``), the example
    look's swap reads 0.88 (PASS), and the same swap with its colour match off and a hard-edged
    blend, a pale face pasted on a tanned one, 1.24 (FAIL), when written."""
    import deage

    clip = shared_media / "driving_d12.mp4"
    analysis = analyse_clip(open_clip(clip), cache_dir=tmp_path)
    example = deage.load_look(Path(__file__).resolve().parents[1] / "examples" / "looks" / "swap.json").to_dict()
    pasted = {**example, "edit": {**example["edit"], "colour": 0.0, "light_scale": 2.0},
              "blend": {"mode": "feather", "feather": 0}}
    seams = {}
    for name, look in (("example", example), ("pasted", pasted)):
        out = tmp_path / f"{name}.mp4"
        render_clip(clip, out, Look.from_dict(look), frames=(0, 12), analysis=analysis)
        metrics = compute_metrics(out, clip, analysis=analysis, identity_every=12)
        seams[name] = {c.key: c for c in evaluate(metrics)}["seam"]
    assert seams["example"].passed is True and seams["example"].value < 1.05, seams["example"].value
    assert seams["pasted"].passed is False, seams["pasted"].value


def test_flicker_ratio_flags_an_edit_that_pulses(frames_and_faces):
    frames, faces = frames_and_faces
    ratios = {}
    for kind, amounts in (("steady", [8, 8, 8, 8]), ("pulsing", [0, 8, 0, 8])):
        meter = ShotMeter(None, None)
        out, src = [], []
        for i, (frame, present) in enumerate(zip(frames, faces)):
            mask = cv2.GaussianBlur(_cheek_mask(frame, present), (0, 0), 10)
            (fm,) = meter.measure(i, frame, _brighten(frame, mask, amounts[i]), present)
            if i:
                out.append(fm.flicker_render)
                src.append(fm.flicker_source)
        ratios[kind] = sum(out) / sum(src)
    assert ratios["steady"] == pytest.approx(1.0, abs=0.05), ratios
    assert ratios["pulsing"] > 1.3, ratios


def test_landmark_jitter_flags_a_face_that_shakes(frames_and_faces):
    frames, faces = frames_and_faces
    meter = ShotMeter(None, DlibLandmarker())
    jitter, source = [], []
    for i, (frame, present) in enumerate(zip(frames, faces)):
        shift = np.float32([[1, 0, 3.0 if i % 2 else -3.0], [0, 1, 0]])
        shaken = cv2.warpAffine(frame, shift, frame.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
        (fm,) = meter.measure(i, frame, shaken, present)
        if i >= 2:
            jitter.append(fm.jitter_render)
            source.append(fm.jitter_source)
    assert sum(jitter) > 3 * sum(source), (jitter, source)


# ---------------------------------------------------------------------------- bad input


def test_mismatched_render_is_a_clear_error(example_clip, identity_render, tmp_path, analysis):
    with pytest.raises(MediaError, match="8 frames but the frame range 0:10"):
        compute_metrics(identity_render, example_clip, frame_range=(0, 10), analysis=analysis)
    small = tmp_path / "small.mkv"
    with ClipWriter(small, fps=24, width=640, height=360, codec="ffv1") as w:
        w.write(np.zeros((360, 640, 3), np.uint8))
    with pytest.raises(MediaError, match="640x360"):
        compute_metrics(small, example_clip, frame_range=(0, 1))
    with pytest.raises(MediaError, match="no source clip given"):
        compute_metrics(small)


# ------------------------------------------------------------------------------- report


def test_report_is_self_contained_and_escaped(makeup_metrics, tmp_path):
    look = dict(makeup_metrics.look, name="<script>alert(1)</script>")
    hostile = dataclasses.replace(makeup_metrics, look=look, provenance=dict(makeup_metrics.provenance, look=look))
    page = build_report(hostile, Thresholds(max_identity=0.01))
    assert "<script" not in page.lower() and "&lt;script&gt;alert(1)" in page
    assert not re.search(r"(src|href)=\"(?!data:)", page), "every image must be embedded"
    assert "http://" not in page and "https://" not in page
    assert 'id="verdict">FAIL<' in page
    assert "data:image/png;base64," in page and "dlib_landmarks68" in page


def test_report_command_writes_page_and_exit_status(makeup_render, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    html_path, json_path = tmp_path / "review.html", tmp_path / "metrics.json"
    args = parser.parse_args([str(makeup_render), "--identity-every", "4", "-o", str(html_path),
                              "--json", str(json_path)])
    assert report_command(args) == 0
    out = capsys.readouterr().out
    assert "PASS: report written to" in out and html_path.is_file()
    assert re.search(r"apparent age per face \(years, source -> render\): track 1: \d+\.\d -> \d+\.\d", out)
    page = html_path.read_text()
    assert 'id="verdict">PASS<' in page and page.count("data:image/jpeg;base64,") >= 3
    assert "Apparent age per face" in page
    data = json.loads(json_path.read_text())
    assert data["frame_range"] == list(FRAMES) and len(data["per_frame"]["seam_ratio"]) == 8
    args = parser.parse_args([str(makeup_render), "--identity-every", "4", "-o", str(html_path),
                              "--max-identity", "0.01", "--no-thumbnails"])
    assert report_command(args) == 1
    assert "FAIL  identity distance" in capsys.readouterr().out


def test_report_never_overwrites_the_render(makeup_metrics, makeup_render):
    with pytest.raises(OutputError, match="same as the input"):
        write_report(makeup_render, makeup_metrics, thumbnails=None)


def test_report_finds_the_source_from_another_folder(astronaut, tmp_path, monkeypatch, capsys):
    """A render made with relative paths (``deage render face.png -o out/young.png`` in the shot's
    folder) is reviewed from elsewhere, and after the shot's folder moved: the sidecar's source
    is found beside the output as it was (it named only ``face.png``, which the review looked for
    in its own working folder: 'file does not exist')."""
    import shutil

    shot = tmp_path / "shot"
    (shot / "out").mkdir(parents=True)
    cv2.imwrite(str(shot / "face.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    monkeypatch.chdir(shot)
    render_clip("face.png", "out/young.png", Look(editor="makeup", edit={"years": 20}))
    record = json.loads((shot / "out" / "young.png.provenance.json").read_text())
    assert record["source"] == "face.png" and record["source_from_output"] == "../face.png"

    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    elsewhere = tmp_path / "review"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    moved = tmp_path / "archive" / "shot"
    shutil.move(str(shot), str(moved))  # absolute path and working folder both stale now
    for frames in ([], ["--frames", "0:1"]):
        args = parser.parse_args([str(moved / "out" / "young.png"), "-o", "page.html", "--no-thumbnails", *frames])
        report_command(args)
        assert "report written to" in capsys.readouterr().out
    assert (elsewhere / "page.html").is_file()


def test_a_still_source_does_not_read_as_jitter(astronaut, tmp_path):
    """Identical source frames (an image sequence of one still) have no landmark jitter at all; the
    H.264 render's codec noise moves dlib's fit by ~0.006 eye distances a frame, which read as a
    64x jitter ratio (FAIL). The source is credited with the fit's own noise floor (JITTER_FLOOR)."""
    from deage.review.metrics import JITTER_FLOOR

    for i in range(10):
        cv2.imwrite(str(tmp_path / f"still.{i + 1:04d}.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    out = tmp_path / "young.mp4"
    render_clip(tmp_path / "still.%04d.png", out, Look(editor="makeup", edit={"years": 20}))
    metrics = compute_metrics(out, tmp_path / "still.%04d.png", identity_every=5)
    summary = metrics.summary()
    assert summary["landmark_jitter_source"] == 0.0
    assert 0 < summary["landmark_jitter"] < 2 * JITTER_FLOOR  # the codec's noise, and no more
    assert summary["landmark_jitter_ratio"] <= Thresholds().max_jitter_ratio


def test_a_face_replacement_is_checked_against_its_source(example_clip, analysis, makeup_metrics, tmp_path):
    """A swap render is meant to change who the face is: the review measures the render's face
    against the source photo put there (identity margin: distance to the plate's face less
    distance to the source, > 0 when nearer the source) and shows, without failing, the distance
    to the plate's face and the features' detail, which a new face changes by design. A de-age
    render gets no margin check and keeps its identity limit. The source photo is found through
    the render's provenance even when the look named it by a path that no longer resolves."""
    consent = {"name": "test subject", "reference": "test fixture, not for publication"}
    look = Look(editor="swap", edit={"sources": {"g": {"photo": "pkg:insightface/data/images/t1.jpg", "face": 2,
                                                        "consent": consent}}})
    out = tmp_path / "swapped.mp4"
    with pytest.warns(Warning):  # t1's third face has narrowed eyes: the editor says so
        render_clip(example_clip, out, look, frames=FRAMES, analysis=analysis)
    m = compute_metrics(out, example_clip, analysis=analysis, identity_every=4)
    s = m.summary()
    assert m.replacement and not makeup_metrics.replacement
    assert s["swap_margin_mean"] > 0.05, s["swap_margin_mean"]  # the astronaut's clip now shows t1's face
    assert s["identity_distance_max"] > 0.35  # the plate's identity limit would have failed it
    checks = {c.key: c for c in evaluate(m)}
    assert checks["swap_identity"].passed is True and checks["swap_identity"].better == "higher"
    assert checks["identity"].status == "info" and checks["features"].status == "info"
    source = checks["source_identity"]  # shown for the reviewer: how far from the photo's own face
    assert source.status == "info" and 0.2 < source.value < s["identity_distance_max"] + 0.3, source.value
    assert passed([checks["swap_identity"], checks["identity"], checks["features"]])
    failing = {c.key: c for c in evaluate(m, Thresholds(min_swap_margin=1.0))}
    assert failing["swap_identity"].passed is False
    deage_checks = {c.key: c for c in evaluate(makeup_metrics)}
    assert "swap_identity" not in deage_checks and deage_checks["identity"].limit == Thresholds().max_identity

    # The look as recorded named a relative path that does not resolve from here: the provenance's file is used.
    record = json.loads((tmp_path / "swapped.mp4.provenance.json").read_text())
    record["look"]["edit"]["sources"]["g"]["photo"] = "gone/t1.jpg"
    (tmp_path / "swapped.mp4.provenance.json").write_text(json.dumps(record))
    again = compute_metrics(out, example_clip, analysis=analysis, identity_every=4)
    assert abs(again.summary()["swap_margin_mean"] - s["swap_margin_mean"]) < 1e-6
    assert not any("could not be loaded" in w or "not the file" in w for w in again.warnings)
    # A source file that is no longer the one the render used is named in the metrics' warnings.
    record["editor_details"]["swap_sources"][0]["file_sha256"] = "0" * 64
    (tmp_path / "swapped.mp4.provenance.json").write_text(json.dumps(record))
    changed = compute_metrics(out, example_clip, analysis=analysis, identity_every=8)
    assert any("'g' (t1.jpg) is not the file the render used" in w for w in changed.warnings), changed.warnings
